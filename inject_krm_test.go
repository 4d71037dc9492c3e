//go:build inject

package main

// kubexit --inject as a KRM function: kustomize (go run of a pinned
// version) builds a kustomization whose transformer runs this test binary
// as kubexit, an exec function taking its settings from the function's
// ConfigMap; its output must be, object by object, what kubexit --inject
// writes for the same manifests with the same settings as flags. kustomize
// re-serializes everything, so the two are compared as data, without the
// annotations kustomize keeps for itself.
//
// Where kustomize cannot be run (no Go module proxy, and not in the module
// cache), the test skips, unless KUBEXIT_KRM_TESTS=1: then it fails.
//
//	KUBEXIT_KRM_TESTS=1 go test -tags inject -race -run InjectKRM -count=1 -v .

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"
)

// kustomizeModule is the kustomize the test runs, by go run.
const kustomizeModule = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"

// krmInputs are the manifests: a Job with a sidecar, a Deployment whose
// template has its own settings (annotations), a Pod with a native sidecar.
var krmInputs = map[string]string{
	"job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: batch
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, "echo working; sleep 3"]
      - name: shipper
        image: busybox
        command: [sh, -c, "while true; do sleep 1; done"]
`,
	"deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        kubexit.io/death-deps: proxy=app
        kubexit.io/entrypoint: 'proxy=["/usr/local/bin/envoy", "-c", "/etc/envoy/envoy.yaml"]'
    spec:
      containers:
      - name: app
        image: busybox
        command: [sleep, infinity]
      - name: proxy
        image: envoyproxy/envoy
        readinessProbe:
          httpGet: {path: /ready, port: 9901}
`,
	"pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: native
spec:
  initContainers:
  - name: mesh
    image: busybox
    restartPolicy: Always
    command: [sh, -c, "sleep infinity"]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "sleep 5"]
  - name: shipper
    image: busybox
    command: [sh, -c, "sleep infinity"]
`,
}

// krmCases are the functions' data (YAML, as under data:).
var krmCases = []struct{ name, data string }{
	{"death-deps", `
  death-deps: |
    shipper=main
  image: kubexit:latest
`},
	{"birth-deps-rbac", `
  death-deps: |
    shipper=main
    mesh=main
  birth-deps: app=proxy
  exit-zero-on-death-deps: shipper=true
  image: kubexit:latest
  rbac: "true"
`},
}

func TestInjectKRMKustomize(t *testing.T) {
	kubexit, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatalf("kubexit not on PATH (TestMain sets it up): %v", err)
	}
	kustomize := needKustomize(t)
	for _, tc := range krmCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := slices.Sorted(maps.Keys(krmInputs))
			for _, f := range files {
				writeFile(t, dir, f, krmInputs[f])
			}
			writeFile(t, dir, "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"+
				"resources:\n- "+strings.Join(files, "\n- ")+"\ntransformers:\n- kubexit-fn.yaml\n")
			config := `apiVersion: v1
kind: ConfigMap
metadata:
  name: kubexit
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./kubexit
        args: [--inject]
data:` + tc.data
			writeFile(t, dir, "kubexit-fn.yaml", config)
			// The test binary, named kubexit, runs kubexit's main (TestMain).
			if bin := filepath.Join(dir, "kubexit"); os.Link(kubexit, bin) != nil {
				b, err := os.ReadFile(kubexit)
				if err == nil {
					err = os.WriteFile(bin, b, 0o755)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--inject"}, krmFlags(t, config)...)
			for _, f := range files {
				args = append(args, "-f", filepath.Join(dir, f))
			}
			p := startKubexit(t, nil, args...)
			if code := p.wait(); code != 0 {
				t.Fatalf("kubexit %s: exit %d; stderr:\n%s", strings.Join(args, " "), code, p.stderr)
			}
			got, stderr, err := runCommand(dir, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir)
			if err != nil {
				t.Fatalf("kustomize build (kubexit --inject as its KRM function): %v; stderr:\n%s", err, stderr)
			}
			compareInjected(t, got, []byte(p.stdout.String()))
		})
	}
}

// krmFlags are the settings of the function's config as flags.
func krmFlags(t *testing.T, config string) []string {
	t.Helper()
	var fc struct{ Data map[string]string }
	if err := sigsyaml.Unmarshal([]byte(config), &fc); err != nil {
		t.Fatalf("the function's config: %v", err)
	}
	var flags []string
	for _, k := range slices.Sorted(maps.Keys(fc.Data)) {
		for line := range strings.Lines(fc.Data[k]) {
			switch line = strings.TrimSpace(line); {
			case k == "rbac" && line == "true":
				flags = append(flags, "--rbac")
			case k != "rbac" && line != "":
				flags = append(flags, "--"+k, line)
			}
		}
	}
	return flags
}

// needKustomize is the command line that runs kustomize, once go run has
// shown it works; where it does not, it skips the test (KUBEXIT_KRM_TESTS
// unset) or fails it (KUBEXIT_KRM_TESTS=1).
func needKustomize(t *testing.T) []string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err == nil {
		var stderr string
		// The first run builds kustomize (~12 s on 2 cores); go run caches it.
		_, stderr, err = runCommand(t.TempDir(), []string{goCmd, "run", kustomizeModule}, "version")
		if err != nil {
			err = fmt.Errorf("%v; stderr:\n%s", err, stderr)
		}
	}
	if err == nil {
		return []string{goCmd, "run", kustomizeModule}
	}
	if os.Getenv("KUBEXIT_KRM_TESTS") == "1" {
		t.Fatalf("KUBEXIT_KRM_TESTS=1 but go run %s does not work (it needs the Go module proxy, or kustomize in the module cache): %v", kustomizeModule, err)
	}
	skippedSets.add("krm", "krm (kustomize runs kubexit --inject as a KRM function): go run "+kustomizeModule+" does not work here and KUBEXIT_KRM_TESTS is not 1; run it with KUBEXIT_KRM_TESTS=1 go test -tags inject -run InjectKRM")
	t.Skipf("go run %s does not work here, and KUBEXIT_KRM_TESTS is not 1: %v", kustomizeModule, err)
	return nil
}

// runCommand runs cmd with args in dir, with no KUBEXIT_* variable, and
// returns its stdout and stderr.
func runCommand(dir string, cmd []string, args ...string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], append(slices.Clone(cmd[1:]), args...)...)
	c.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBEXIT_") {
			c.Env = append(c.Env, kv)
		}
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	c.WaitDelay = 10 * time.Second
	out, err := c.Output()
	return out, stderr.String(), err
}

// compareInjected compares kustomize's output with kubexit --inject's,
// object by object (by kind, namespace and name), as data.
func compareInjected(t *testing.T, kustomized, injected []byte) {
	t.Helper()
	got, want := objectsByKey(t, "kustomize build", kustomized), objectsByKey(t, "kubexit --inject", injected)
	if len(want) == 0 {
		t.Fatalf("kubexit --inject wrote no object:\n%s", injected)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		kind, _ := want[k]["kind"].(string)
		if tpl, ok := podTemplatePaths[kind]; ok {
			if dataAt(want[k], append(slices.Clone(tpl), "metadata", "annotations", injectRecordKey)...) == nil {
				t.Errorf("%s: kubexit --inject did not wire it (no %s annotation): the case tests nothing", k, injectRecordKey)
			}
		}
	}
	keys := slices.Concat(slices.Collect(maps.Keys(got)), slices.Collect(maps.Keys(want)))
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		g, inG := got[k]
		w, inW := want[k]
		switch {
		case !inW:
			t.Errorf("%s: in kustomize's output only", k)
		case !inG:
			t.Errorf("%s: in kubexit --inject's output only", k)
		default:
			gy, _ := sigsyaml.Marshal(g)
			wy, _ := sigsyaml.Marshal(w)
			if d := unifiedDiff(k, string(wy), string(gy)); d != "" {
				_, hunks, _ := strings.Cut(d[strings.Index(d, "\n")+1:], "\n") // without unifiedDiff's header
				t.Errorf("%s: kustomize's output (+) differs from kubexit --inject's (-):\n%s", k, hunks)
			}
		}
	}
	t.Logf("compared %d objects: %s", len(keys), strings.Join(keys, ", "))
}

// objectsByKey are the objects of a stream by "Kind [namespace/]name",
// without kustomize's own annotations.
func objectsByKey(t *testing.T, what string, stream []byte) map[string]map[string]any {
	t.Helper()
	docs, err := decodeManifests(stream)
	if err != nil {
		t.Fatalf("%s's output: %v:\n%s", what, err, stream)
	}
	out := map[string]map[string]any{}
	for _, o := range flattenLists(docs) {
		if ann, ok := dataAt(o, "metadata", "annotations").(map[string]any); ok {
			for k := range ann {
				if strings.HasPrefix(k, "config.kubernetes.io/") || strings.HasPrefix(k, "internal.config.kubernetes.io/") {
					delete(ann, k)
				}
			}
			if len(ann) == 0 {
				delete(o["metadata"].(map[string]any), "annotations")
			}
		}
		ns, _ := dataAt(o, "metadata", "namespace").(string)
		name, _ := dataAt(o, "metadata", "name").(string)
		kind, _ := o["kind"].(string)
		k := kind + " " + name
		if ns != "" {
			k = kind + " " + ns + "/" + name
		}
		if _, dup := out[k]; dup {
			t.Errorf("%s's output has %s twice", what, k)
		}
		out[k] = o
	}
	return out
}
