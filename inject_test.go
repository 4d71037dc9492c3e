//go:build inject

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateInject = flag.Bool("update-inject", false, "rewrite testdata/inject's golden outputs")

// injectCase is one golden case of testdata/inject: NAME.in.yaml (or
// .json), its arguments (the first line, "# kubexit ARGS", or NAME.args),
// and what it must give: NAME.out.* (exit 0) or NAME.err (exit 2).
type injectCase struct {
	name, in, ext string
	args          []string
}

func injectCases(t *testing.T) []injectCase {
	ins, _ := filepath.Glob("testdata/inject/*.in.*")
	if len(ins) == 0 {
		t.Fatal("no testdata/inject/*.in.* cases")
	}
	var out []injectCase
	for _, in := range ins {
		c := injectCase{in: in, ext: filepath.Ext(in)}
		c.name = strings.TrimSuffix(filepath.Base(in), ".in"+c.ext)
		text, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(text), "\n")
		if a, err := os.ReadFile(strings.TrimSuffix(in, ".in"+c.ext) + ".args"); err == nil {
			first = "# kubexit " + string(a)
		}
		args, ok := strings.CutPrefix(first, "# kubexit ")
		if !ok {
			t.Fatalf("%s: no first line '# kubexit ARGS', and no %s.args", in, c.name)
		}
		c.args = strings.Fields(args)
		out = append(out, c)
	}
	return out
}

// runInject runs kubexit's --inject or --uninject on stdin in this process.
func runInject(args []string, stdin []byte) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = injectCommand(args[0], args[1:], bytes.NewReader(stdin), &o, &e)
	return o.String(), e.String(), code
}

// checkGolden compares got with the file golden, or rewrites it with
// -update-inject.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *updateInject {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -tags inject -run TestInjectGolden -update-inject to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n%s", golden, unifiedDiff(golden, string(want), got))
	}
}

// TestInjectGolden runs each case and holds it to its golden output; for
// the ones that inject, it checks the properties every output must have.
func TestInjectGolden(t *testing.T) {
	for _, c := range injectCases(t) {
		t.Run(c.name, func(t *testing.T) {
			in, _ := os.ReadFile(c.in)
			out, errText, code := runInject(c.args, in)
			base := filepath.Join("testdata/inject", c.name)
			if strings.HasPrefix(c.name, "refuse-") {
				if code != exitUsage || out != "" {
					t.Fatalf("exit %d, stdout %q; want 2 and nothing written", code, out)
				}
				checkGolden(t, base+".err", errText)
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errText)
			}
			checkGolden(t, base+".out"+c.ext, out)
			checkInjectProperties(t, c, in, []byte(out))
		})
	}
}

// checkInjectProperties: injecting the output again changes nothing;
// uninjecting it gives the input back byte for byte (an input injected
// already: the input uninjected); the documents without a pod template are
// in the output as they were; --lint finds nothing.
func checkInjectProperties(t *testing.T, c injectCase, in, out []byte) {
	t.Helper()
	original := string(in)
	if bytes.Contains(in, []byte(injectRecordKey)) {
		original, _, _ = runInject([]string{"--uninject"}, in)
	}
	again, errText, code := runInject(c.args, out)
	if code != 0 || again != string(out) {
		t.Errorf("inject twice != inject once (exit %d, %s):\n%s", code, errText, unifiedDiff("once", string(out), again))
	}
	back, errText, code := runInject([]string{"--uninject"}, out)
	if code != 0 || back != original {
		t.Errorf("uninject(inject(x)) != x (exit %d, %s):\n%s", code, errText, unifiedDiff("x", original, back))
	}
	for _, d := range splitDocs(in) {
		doc, err := parseDoc(d.body)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := doc.data(); len(findTemplates(v)) == 0 && !bytes.Contains(out, d.body) {
			t.Errorf("a document without a pod template changed:\n%s", d.body)
		}
	}
	if problems, err := lintManifest(out); err != nil || len(problems) > 0 {
		t.Errorf("--lint of the output: %v %q", err, problems)
	}
}

// TestInjectUpgrade: an injected manifest injected again with other
// settings is re-wired, not wired twice, and uninjects to the original.
func TestInjectUpgrade(t *testing.T) {
	in, err := os.ReadFile("testdata/inject/job-sidecar.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first, errText, code := runInject([]string{"--inject", "--death-deps", "shipper=main", "--image", "kubexit:v1"}, in)
	if code != 0 {
		t.Fatal(errText)
	}
	second, errText, code := runInject([]string{"--inject", "--death-deps", "shipper=main", "--grace-period", "shipper=5s", "--image", "kubexit:v2"}, []byte(first))
	if code != 0 {
		t.Fatal(errText)
	}
	direct, _, _ := runInject([]string{"--inject", "--death-deps", "shipper=main", "--grace-period", "shipper=5s", "--image", "kubexit:v2"}, in)
	if second != direct {
		t.Errorf("re-wired != wired from the original:\n%s", unifiedDiff("direct", direct, second))
	}
	if back, _, _ := runInject([]string{"--uninject"}, []byte(second)); back != string(in) {
		t.Errorf("uninject after an upgrade:\n%s", unifiedDiff("original", string(in), back))
	}
	// No settings at all: the recorded ones, kept (a new version would re-wire).
	if same, _, _ := runInject([]string{"--inject"}, []byte(second)); same != second {
		t.Errorf("inject without settings changed an injected manifest:\n%s", unifiedDiff("before", second, same))
	}
}

// TestUninjectKeepsLaterEdits: uninject takes out only what inject wrote,
// so edits made after inject stay.
func TestUninjectKeepsLaterEdits(t *testing.T) {
	in, _ := os.ReadFile("testdata/inject/job-sidecar.in.yaml")
	out, errText, code := runInject([]string{"--inject", "--death-deps", "shipper=main"}, in)
	if code != 0 {
		t.Fatal(errText)
	}
	edited := strings.Replace(out, "backoffLimit: 0", "backoffLimit: 3", 1)
	edited = strings.Replace(edited, "        - name: KUBEXIT_NAME\n          value: shipper\n", "        - name: KUBEXIT_NAME\n          value: shipper\n        - name: EXTRA\n          value: later\n", 1)
	back, errText, code := runInject([]string{"--uninject"}, []byte(edited))
	if code != 0 {
		t.Fatal(errText)
	}
	want := strings.Replace(string(in), "backoffLimit: 0", "backoffLimit: 3", 1)
	want = strings.Replace(want, "        env:\n", "        env:\n        - name: EXTRA\n          value: later\n", 1)
	if back != want {
		t.Errorf("later edits lost:\n%s", unifiedDiff("want", want, back))
	}
}

// TestUninjectMovedRBAC: --rbac's documents, moved to the end of the
// stream by hand, still go out whole, with their "---" lines.
func TestUninjectMovedRBAC(t *testing.T) {
	in, _ := os.ReadFile("testdata/inject/deployment.in.yaml")
	out, errText, code := runInject([]string{"--inject", "--birth-deps", "app=proxy", "--rbac"}, in)
	if code != 0 {
		t.Fatal(errText)
	}
	docs := splitDocs([]byte(out))
	if len(docs) != 3 {
		t.Fatalf("want Role, RoleBinding, Deployment; got %d documents:\n%s", len(docs), out)
	}
	moved := string(docs[2].body) + "---\n" + string(docs[0].body) + "---\n" + string(docs[1].body)
	back, errText, code := runInject([]string{"--uninject"}, []byte(moved))
	if code != 0 || back != string(in) {
		t.Errorf("exit %d (%s):\n%s", code, errText, unifiedDiff("original", string(in), back))
	}
}

// TestInjectListSameNames: two items of a List with the same kind and
// name, one wired already and one not: each is taken for itself.
func TestInjectListSameNames(t *testing.T) {
	in, _ := os.ReadFile("testdata/inject/list.in.yaml")
	_, job, _ := strings.Cut(string(in), "\n- apiVersion: batch/v1")
	job = "\n- apiVersion: batch/v1" + job
	args := []string{"--inject", "--death-deps", "shipper=main"}
	once, errText, code := runInject(args, in)
	if code != 0 {
		t.Fatal(errText)
	}
	both, errText, code := runInject(args, []byte(once+strings.TrimPrefix(job, "\n")))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errText)
	}
	if n := strings.Count(both, "name: kubexit-install"); n != 2 {
		t.Errorf("%d install containers, want one in each Job:\n%s", n, both)
	}
	if back, _, _ := runInject([]string{"--uninject"}, []byte(both)); back != string(in)+strings.TrimPrefix(job, "\n") {
		t.Errorf("uninject:\n%s", unifiedDiff("want", string(in)+strings.TrimPrefix(job, "\n"), back))
	}
}

// TestInjectListFlagsAddUp: a dep-list flag given twice for one container
// adds up, as the README says; any other setting given twice, the later
// wins.
func TestInjectListFlagsAddUp(t *testing.T) {
	in, _ := os.ReadFile("testdata/inject/refuse-no-command.in.yaml")
	out, errText, code := runInject([]string{"--inject", "--death-deps", "proxy=app", "--death-deps", "proxy=db",
		"--grace-period", "proxy=5s", "--grace-period", "proxy=7s",
		"--entrypoint", "app=/app", "--entrypoint", "db=/db", "--entrypoint", "proxy=/proxy"}, in)
	if code != 0 {
		t.Fatal(errText)
	}
	for _, want := range []string{`{name: KUBEXIT_DEATH_DEPS, value: "app,db"}`, `{name: KUBEXIT_GRACE_PERIOD, value: 7s}`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in:\n%s", want, out)
		}
	}
}
