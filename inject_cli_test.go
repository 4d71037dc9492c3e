//go:build inject

package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Mangled golden inputs (a fixed seed, so a failure repeats) never make
// inject panic or write half a result: it refuses (exit 2, nothing on
// stdout) or its output uninjects to the mangled input, byte for byte.
func TestInjectMangled(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 5))
	for _, c := range injectCases(t) {
		in, _ := os.ReadFile(c.in)
		if strings.Contains(string(in), injectRecordKey) {
			continue
		}
		for range 150 {
			m := mangle(r, in)
			out, errText, code := runInject(c.args, m)
			switch {
			case code == exitUsage && out == "":
			case code != 0:
				t.Fatalf("exit %d, stdout %q, stderr %s; input:\n%s", code, out, errText, m)
			default:
				if back, _, _ := runInject([]string{"--uninject"}, []byte(out)); back != string(m) && !strings.Contains(string(m), "kubexit.io/") {
					t.Fatalf("uninject(inject(x)) != x for x:\n%s\n%s", m, unifiedDiff("x", string(m), back))
				}
			}
		}
	}
}

// Files, a directory of them and stdin: each file's output on stdout,
// "---" between files; a directory's manifests in name order.
func TestInjectFilesAndDirs(t *testing.T) {
	dir := t.TempDir()
	job, _ := os.ReadFile("testdata/inject/job-sidecar.in.yaml")
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	os.WriteFile(filepath.Join(dir, "a.yaml"), job, 0o644)
	os.WriteFile(filepath.Join(dir, "b.yml"), cm, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a manifest"), 0o644)
	want, _ := os.ReadFile("testdata/inject/job-sidecar.out.yaml")
	args := []string{"--inject", "-f", dir, "--death-deps", "shipper=main", "--exit-zero-on-death-deps", "shipper=true", "--grace-period", "shipper=10s"}
	out, errText, code := runInject(args, nil)
	if code != 0 || out != string(want)+"---\n"+string(cm) {
		t.Fatalf("exit %d (%s), stdout:\n%s", code, errText, out)
	}
	out, _, code = runInject(append(args, "-"), cm)
	if code != 0 || !strings.HasSuffix(out, string(cm)+"---\n"+string(cm)) {
		t.Fatalf("with stdin: exit %d, stdout:\n%s", code, out)
	}
	_, errText, code = runInject([]string{"--inject", filepath.Join(dir, "missing.yaml")}, nil)
	if code != exitUsage || !strings.Contains(errText, "missing.yaml") {
		t.Fatalf("a missing file: exit %d, %s", code, errText)
	}
}

// --in-place rewrites the files that change, keeping their mode, and no
// other; --diff shows the change and writes nothing.
func TestInjectInPlaceAndDiff(t *testing.T) {
	dir := t.TempDir()
	job, _ := os.ReadFile("testdata/inject/job-sidecar.in.yaml")
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	jobPath, cmPath := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "cm.yaml")
	os.WriteFile(jobPath, job, 0o600)
	os.WriteFile(cmPath, cm, 0o644)
	cmBefore, _ := os.Stat(cmPath)

	out, _, code := runInject([]string{"--inject", "--diff", "-f", dir, "--death-deps", "shipper=main"}, nil)
	if code != 0 || !strings.Contains(out, "+        - name: KUBEXIT_DEATH_DEPS\n") || !strings.Contains(out, "--- "+jobPath) || strings.Contains(out, cmPath) {
		t.Fatalf("--diff: exit %d:\n%s", code, out)
	}
	if got, _ := os.ReadFile(jobPath); string(got) != string(job) {
		t.Fatal("--diff wrote the file")
	}
	out, errText, code := runInject([]string{"--inject", "--in-place", "-f", dir, "--death-deps", "shipper=main"}, nil)
	if code != 0 || out != "" || !strings.Contains(errText, "rewrote "+jobPath) {
		t.Fatalf("--in-place: exit %d, stdout %q, stderr %s", code, out, errText)
	}
	st, _ := os.Stat(jobPath)
	cmAfter, _ := os.Stat(cmPath)
	if st.Mode().Perm() != 0o600 || !cmAfter.ModTime().Equal(cmBefore.ModTime()) {
		t.Errorf("mode %v (want 0600); the unchanged file rewritten: %v", st.Mode().Perm(), !cmAfter.ModTime().Equal(cmBefore.ModTime()))
	}
	if _, _, code := runInject([]string{"--uninject", "--in-place", jobPath}, nil); code != 0 {
		t.Fatal("--uninject --in-place failed")
	}
	if got, _ := os.ReadFile(jobPath); string(got) != string(job) {
		t.Errorf("--uninject --in-place did not restore the file:\n%s", unifiedDiff("job", string(job), string(got)))
	}
	if _, errText, code := runInject([]string{"--inject", "--in-place", "-"}, nil); code != exitUsage || !strings.Contains(errText, "stdin") {
		t.Errorf("--in-place on stdin: exit %d, %s", code, errText)
	}
}

// FuzzInject: whatever the manifest, inject never panics, and refuses
// (exit 2, nothing written) or writes what uninjects back to it byte for
// byte. Seeds: the golden inputs.
func FuzzInject(f *testing.F) {
	files, _ := filepath.Glob("testdata/inject/*.in.*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && !strings.Contains(string(data), "kubexit.io/") {
			f.Add(data)
		}
	}
	args := []string{"--inject", "--death-deps", "shipper=main", "--birth-deps", "app=proxy", "--wrap", "sidecar"}
	f.Fuzz(func(t *testing.T, in []byte) {
		if strings.Contains(string(in), "kubexit.io/") {
			return // settings or a record of its own: other properties
		}
		j := &injector{named: map[string]bool{}}
		for i := 1; i+1 < len(args); i += 2 {
			s, _ := parseSetting(strings.TrimPrefix(args[i], "--"), args[i+1])
			j.settings = append(j.settings, s)
		}
		outs, problems := j.run([]injectInput{{name: "fuzz", text: in}})
		if len(problems) > 0 {
			return
		}
		back, problems := (&injector{uninject: true, named: map[string]bool{}}).run([]injectInput{{name: "fuzz", text: outs[0]}})
		if len(problems) > 0 || string(back[0]) != string(in) {
			t.Fatalf("uninject(inject(x)) != x: %q\n%s", problems, unifiedDiff("x", string(in), string(back[0])))
		}
	})
}

// BenchmarkInject: one Job's wiring, and a List of 500 of them (linear:
// each template's edits are found from one parse of its document).
func BenchmarkInject(b *testing.B) {
	job, err := os.ReadFile("testdata/inject/list.in.yaml")
	if err != nil {
		b.Fatal(err)
	}
	head, item, _ := strings.Cut(string(job), "\n- apiVersion: batch/v1")
	list := []byte(head + strings.Repeat("\n- apiVersion: batch/v1"+item, 500))
	for _, c := range []struct {
		name string
		in   []byte
	}{{"job", job}, {"list500", list}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				if _, errText, code := runInject([]string{"--inject", "--death-deps", "shipper=main"}, c.in); code != 0 {
					b.Fatal(errText)
				}
			}
		})
	}
}

// --rbac=false is no --rbac; a value that is no boolean is a usage error.
func TestInjectRBACFlagValue(t *testing.T) {
	in, _ := os.ReadFile("testdata/inject/deployment.in.yaml")
	for flag, roles := range map[string]int{"--rbac": 1, "--rbac=true": 1, "--rbac=false": 0} {
		out, errText, code := runInject([]string{"--inject", "--birth-deps", "app=proxy", flag}, in)
		// Each Role says "kind: Role" twice: its own, and its RoleBinding's roleRef.
		if code != 0 || strings.Count(out, "kind: Role\n") != 2*roles {
			t.Errorf("%s: exit %d (%s), want %d Role:\n%s", flag, code, errText, roles, out)
		}
	}
	if _, errText, code := runInject([]string{"--inject", "--rbac=maybe"}, in); code != exitUsage || !strings.Contains(errText, "maybe") {
		t.Errorf("--rbac=maybe: exit %d, %s", code, errText)
	}
}
