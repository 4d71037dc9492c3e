//go:build inject

package main

// End-to-end tests of kubexit --inject on a real node (node_test.go's bed):
// the plain forms of three examples (examples/plain: no kubexit wiring,
// only its settings, as kubexit.io/ annotations of the pod template) are
// injected in-process, with --image set to the node's kubexit image, run as
// real pods, and checked for the same end as the hand-written examples, by
// the same checks. And --uninject gives the plain file back byte for byte.
//
//	hack/e2e-node -run 'TestNodeInject' -v

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mustInject runs kubexit ARGS (--inject or --uninject) in-process, stdin
// the input; it must exit 0.
func mustInject(t *testing.T, args []string, stdin []byte) []byte {
	t.Helper()
	out, errText, code := runInject(args, stdin)
	if code != 0 {
		t.Fatalf("kubexit %s: exit %d:\n%s", strings.Join(args, " "), code, errText)
	}
	return []byte(out)
}

// injectPlain injects examples/plain/FILE with the node's kubexit image
// and flags, and checks the result: its objects of the kinds wantKinds, in
// that order (inject's Role and RoleBinding before the workload); no
// problem for --lint; and --uninject gives the file back byte for byte.
// It returns the objects, for runObjects.
func injectPlain(t *testing.T, b *nodeBed, file string, wantKinds []string, flags ...string) []obj {
	t.Helper()
	path := filepath.Join("examples", "plain", file)
	plain, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	image := b.images["kubexit:busybox"]
	injected := mustInject(t, append([]string{"--inject", "-f", path, "--image", image}, flags...), nil)
	if back := mustInject(t, []string{"--uninject", "-f", "-"}, injected); !bytes.Equal(back, plain) {
		t.Errorf("--uninject of the injected %s does not give it back byte for byte:\n%s", path, unifiedDiff(path, string(plain), string(back)))
	}
	if problems, err := lintManifest(injected); err != nil || len(problems) > 0 {
		t.Errorf("--lint of the injected %s: %v\n%s", path, err, strings.Join(problems, "\n"))
	}
	objs := parseObjects(t, path+" (injected)", injected)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o["kind"].(string))
		if spec := podSpecOf(o); spec != nil {
			expectInstaller(t, spec, image)
		}
	}
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("injected %s: objects %v, want %v", path, kinds, wantKinds)
	}
	if t.Failed() {
		t.Fatalf("injected %s:\n%s", path, injected)
	}
	t.Logf("injected %s: %d bytes more, objects %v; --uninject gives it back byte for byte", path, len(injected)-len(plain), kinds)
	return objs
}

// expectInstaller checks that the pod spec's first init container is
// inject's kubexit-install, from image.
func expectInstaller(t *testing.T, spec obj, image string) {
	t.Helper()
	inits, _ := spec["initContainers"].([]any)
	if len(inits) == 0 || inits[0].(obj)["name"] != "kubexit-install" || inits[0].(obj)["image"] != image {
		t.Errorf("the first init container is not kubexit-install from %s: %v", image, inits)
	}
}

// Example (b), plain: the shipper is terminated when main finishes and exits
// 0; the Job is Complete. The control: --exit-zero-on-death-deps
// shipper=false, a flag, wins over the annotation; the shipper exits 143 and
// the Job fails.
func TestNodeInjectJobSidecar(t *testing.T) {
	b := needNode(t)
	withAndWithout(t, "exit zero", "without exit zero", func(t *testing.T, exitZero bool) {
		var flags []string
		if !exitZero {
			flags = []string{"--exit-zero-on-death-deps", "shipper=false"}
		}
		objs := injectPlain(t, b, "job-sidecar.yaml", []string{"Job"}, flags...)
		runObjects(t, b, objs, nil).expectJobSidecar(t, exitZero)
	})
}

// Example (a), plain: kubexit.io/rbac writes the Role (get on this pod) and
// RoleBinding of the app's birth dep; the app starts once the proxy is
// Ready, the proxy is terminated when the app exits, the pod Succeeds.
func TestNodeInjectAppProxyPod(t *testing.T) {
	b := needNode(t)
	objs := injectPlain(t, b, "app-proxy-pod.yaml", []string{"ServiceAccount", "Role", "RoleBinding", "Pod"})
	runObjects(t, b, objs, nil).expectAppProxyPod(t)
}

// Example (d), plain: a native sidecar (an init container with
// restartPolicy: Always) as main's birth dep; inject's kubexit-install goes
// before it. The kubelet stops it after main; the Job is Complete.
func TestNodeInjectNativeSidecarJob(t *testing.T) {
	b := needNode(t)
	objs := injectPlain(t, b, "native-sidecar-job.yaml", []string{"ServiceAccount", "Role", "RoleBinding", "Job"})
	runObjects(t, b, objs, nil).expectNativeSidecarJob(t)
}
