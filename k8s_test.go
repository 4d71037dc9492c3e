package main

// Integration tests of birth deps against a real kube-apiserver (the test bed
// in hack/beds/k8s, started by hack/k8s-env). They run the real
// kubexit binary with a kubeconfig holding a ServiceAccount token, against
// pods that stay Pending (there is no node) and whose status the test patches
// through the pods/status subresource.
//
//	eval "$(hack/k8s-env)"        # sets KUBECONFIG, KUBEXIT_K8S_STATE, KUBEXIT_K8S_TESTS=1
//	go test -run K8s -count=1 -v .
//	hack/beds/k8s/k8s-down
//
// or hack/k8s-test. Without KUBEXIT_K8S_TESTS=1 they are skipped; with it, a
// test bed that cannot be reached fails them.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// k8sBedDir holds the test bed's scripts (k8s-up, k8s-down), relative to
// the package's directory, where go test runs the tests. They act on the bed
// of KUBEXIT_K8S_STATE, which hack/k8s-env exports.
const k8sBedDir = "hack/beds/k8s"

// k8sBed is the API server under test, seen with the admin kubeconfig.
type k8sBed struct {
	admin  *rest.RESTClient
	host   string
	caFile string
	caData []byte
}

var k8sTestBed = &testBed[*k8sBed]{
	env:     "KUBEXIT_K8S_TESTS",
	tests:   "integration test against a real kube-apiserver",
	name:    "test bed",
	script:  "hack/k8s-test",
	fix:     `start it with: eval "$(hack/k8s-env)"`,
	connect: connectK8s,
}

// needK8s skips the test unless KUBEXIT_K8S_TESTS=1; then the API server of
// KUBECONFIG must answer, or the test fails.
func needK8s(t *testing.T) *k8sBed {
	t.Helper()
	return k8sTestBed.need(t)
}

func connectK8s() (*k8sBed, error) {
	kc := os.Getenv("KUBECONFIG")
	if kc == "" {
		return nil, fmt.Errorf("KUBECONFIG is not set")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %v", kc, err)
	}
	client, err := newRESTClient(rc, discardLogger())
	if err != nil {
		return nil, err
	}
	b := &k8sBed{admin: client, host: rc.Host, caFile: rc.CAFile, caData: rc.CAData}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("API server %s not ready: %v", rc.Host, err)
	}
	return b, nil
}

// do sends a JSON request as admin and returns the response body.
func (b *k8sBed) do(t *testing.T, verb, path, contentType string, body any) []byte {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	// The API server may be restarting (the restart test): retry a while.
	waitFor(t, verb+" "+path, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := b.admin.Verb(verb).AbsPath(path).SetHeader("Content-Type", contentType)
		if body != nil {
			req = req.Body(data)
		}
		out, err = req.DoRaw(ctx)
		if err != nil && strings.Contains(err.Error(), "connection refused") {
			time.Sleep(200 * time.Millisecond)
			return false
		}
		return true
	})
	if err != nil {
		t.Fatalf("%s %s: %v: %s", verb, path, err, out)
	}
	return out
}

// k8sPod is one test's namespace, ServiceAccount, pod and kubeconfig.
type k8sPod struct {
	bed        *k8sBed
	ns, name   string
	account    string // the ServiceAccount's name
	kubeconfig string // with the ServiceAccount's token
	graveyard  string
	marker     string // the child writes it when it runs
}

type k8sPodOpts struct {
	noRole   bool   // no Role/RoleBinding: every GET is forbidden
	roleFor  string // pod name the Role's resourceNames pins (default: the pod)
	probedSC bool   // the native sidecar "mesh" has a readiness probe
	// restartPolicy is the pod's (default: the API's, Always).
	restartPolicy string
}

// newK8sPod creates a namespace (one per test), a ServiceAccount "kubexit"
// with a Role granting only get on the pod by name, and a Pod "pod" with
// containers app (where kubexit runs), db, proxy, the native sidecar mesh and
// the plain init container setup. The pod is never scheduled.
func newK8sPod(t *testing.T, b *k8sBed, o k8sPodOpts) *k8sPod {
	t.Helper()
	ns := k8sName(t)
	p := &k8sPod{bed: b, ns: ns, name: "pod", account: "kubexit", graveyard: t.TempDir()}
	p.marker = filepath.Join(t.TempDir(), "started")

	b.do(t, "POST", "/api/v1/namespaces", "application/json", obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns}})
	t.Cleanup(func() {
		// Without a controller manager the namespace stays Terminating; its
		// objects go with the test bed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.admin.Delete().AbsPath("/api/v1/namespaces", ns).Do(ctx)
	})
	b.do(t, "POST", "/api/v1/namespaces/"+ns+"/serviceaccounts", "application/json",
		obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": p.account}})
	if !o.noRole {
		pinned := o.roleFor
		if pinned == "" {
			pinned = p.name
		}
		b.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/roles", "application/json", obj{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": obj{"name": "kubexit"},
			"rules": []obj{{"apiGroups": []string{""}, "resources": []string{"pods"}, "verbs": []string{"get"}, "resourceNames": []string{pinned}}},
		})
		b.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/rolebindings", "application/json", obj{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": obj{"name": "kubexit"},
			"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubexit"},
			"subjects": []obj{{"kind": "ServiceAccount", "name": p.account, "namespace": ns}},
		})
	}

	always := "Always"
	mesh := obj{"name": "mesh", "image": "busybox", "restartPolicy": always}
	if o.probedSC {
		mesh["readinessProbe"] = obj{"exec": obj{"command": []string{"true"}}}
	}
	spec := obj{
		"serviceAccountName": p.account,
		"initContainers":     []obj{{"name": "setup", "image": "busybox"}, mesh},
		"containers":         []obj{{"name": "app", "image": "busybox"}, {"name": "db", "image": "busybox"}, {"name": "proxy", "image": "busybox"}},
	}
	if o.restartPolicy != "" {
		spec["restartPolicy"] = o.restartPolicy
	}
	b.do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", "application/json", obj{
		"apiVersion": "v1", "kind": "Pod", "metadata": obj{"name": p.name}, "spec": spec,
	})

	// A token for the ServiceAccount (kubectl create token) and a kubeconfig with it.
	out := b.do(t, "POST", "/api/v1/namespaces/"+ns+"/serviceaccounts/"+p.account+"/token", "application/json", obj{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": obj{"expirationSeconds": 3600},
	})
	var tr struct {
		Status struct{ Token string } `json:"status"`
	}
	if err := json.Unmarshal(out, &tr); err != nil || tr.Status.Token == "" {
		t.Fatalf("TokenRequest: no token (%v): %s", err, out)
	}
	ca := fmt.Sprintf("certificate-authority: %q", b.caFile)
	if b.caFile == "" {
		ca = fmt.Sprintf("certificate-authority-data: %q", b64(b.caData))
	}
	p.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bed
  cluster: {server: %q, %s}
users:
- name: %s
  user: {token: %q}
contexts:
- name: bed
  context: {cluster: bed, user: %s, namespace: %s}
current-context: bed
`, b.host, ca, p.account, tr.Status.Token, p.account, ns)
	if err := os.WriteFile(p.kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type obj = map[string]any

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// k8sName is a namespace name unique to the test.
func k8sName(t *testing.T) string {
	s := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(strings.TrimPrefix(t.Name(), "TestK8s"), "-"))
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Trim(fmt.Sprintf("kx-%s-%06d", strings.Trim(s, "-"), rand.IntN(1000000)), "-")
}

// setStatus replaces the pod's container statuses (pods/status subresource).
func (p *k8sPod) setStatus(t *testing.T, containers, inits []obj) {
	t.Helper()
	if containers == nil {
		containers = []obj{}
	}
	if inits == nil {
		inits = []obj{}
	}
	p.bed.do(t, "PATCH", "/api/v1/namespaces/"+p.ns+"/pods/"+p.name+"/status", "application/merge-patch+json",
		obj{"status": obj{"containerStatuses": containers, "initContainerStatuses": inits}})
}

// Container statuses.
func csRunning(name string, ready bool) obj {
	return obj{"name": name, "image": "busybox", "imageID": "", "restartCount": 0, "ready": ready, "started": true,
		"state": obj{"running": obj{"startedAt": "2026-01-01T00:00:00Z"}}}
}

func csWaiting(name, reason string) obj {
	return obj{"name": name, "image": "busybox", "imageID": "", "restartCount": 3, "ready": false, "started": false,
		"state":     obj{"waiting": obj{"reason": reason}},
		"lastState": obj{"terminated": obj{"exitCode": 1, "reason": "Error", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z"}},
	}
}

func csStarted(name string, started bool) obj {
	s := csRunning(name, false)
	s["started"] = started
	return s
}

// start runs kubexit in container app of the pod with birth deps; the child
// writes the marker file.
func (p *k8sPod) start(t *testing.T, deps string, extra map[string]string) *kubexitProc {
	t.Helper()
	env := map[string]string{
		"KUBECONFIG":                 p.kubeconfig,
		"KUBERNETES_SERVICE_HOST":    "", // never in-cluster, even if the tests run in a pod
		"KUBEXIT_NAME":               "app",
		"KUBEXIT_BIRTH_DEPS":         deps,
		"KUBEXIT_POD_NAME":           p.name,
		"KUBEXIT_NAMESPACE":          p.ns,
		"KUBEXIT_GRAVEYARD":          p.graveyard,
		"KUBEXIT_READINESS_INTERVAL": "200ms",
		"KUBEXIT_BIRTH_TIMEOUT":      "55s",
		"KUBEXIT_LOG_LEVEL":          "debug",
		"MARKER":                     p.marker,
	}
	for k, v := range extra {
		env[k] = v
	}
	return startKubexit(t, env, "sh", "-c", `echo started > "$MARKER"`)
}

func (p *k8sPod) childRan() bool {
	_, err := os.Stat(p.marker)
	return err == nil
}

// expectSuccess waits for kubexit to exit 0 after running the child.
func (p *k8sPod) expectSuccess(t *testing.T, k *kubexitProc) {
	t.Helper()
	code := k.wait()
	t.Logf("kubexit's stderr:\n%s", k.stderr)
	if code != 0 {
		t.Fatalf("kubexit exited %d, want 0; stderr:\n%s", code, k.stderr)
	}
	if !p.childRan() {
		t.Fatalf("the child did not run; stderr:\n%s", k.stderr)
	}
	ts, ok := readTombstone(p.graveyard, "app")
	if !ok || ts.Born == nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Fatalf("tombstone %+v (ok=%v), want Born, Died and ExitCode 0", ts, ok)
	}
}

// expectNoChild waits for kubexit to exit with want, without having run the
// child, and with a tombstone that has Died and no Born; it returns stderr.
func (p *k8sPod) expectNoChild(t *testing.T, k *kubexitProc, want int) string {
	t.Helper()
	code := k.wait()
	stderr := k.stderr.String()
	t.Logf("kubexit's stderr:\n%s", stderr)
	if code != want {
		t.Fatalf("kubexit exited %d, want %d; stderr:\n%s", code, want, stderr)
	}
	if p.childRan() {
		t.Fatalf("the child ran; stderr:\n%s", stderr)
	}
	ts, ok := readTombstone(p.graveyard, "app")
	if !ok || ts.Died == nil || ts.Born != nil {
		t.Fatalf("tombstone %+v (ok=%v), want Died and no Born; stderr:\n%s", ts, ok, stderr)
	}
	return stderr
}

// stillWaiting checks, over a few readiness intervals, that kubexit keeps
// waiting and has not started the child.
func (p *k8sPod) stillWaiting(t *testing.T, k *kubexitProc) {
	t.Helper()
	time.Sleep(time.Second)
	if k.exited() || p.childRan() {
		t.Fatalf("kubexit should still be waiting (exited=%v, child ran=%v); stderr:\n%s", k.exited(), p.childRan(), k.stderr)
	}
}

// kubexit waits while the dep is not ready and starts the child once a
// status patch makes it ready. The ServiceAccount has only the Role rule
// get pods, resourceNames [pod]: it may not even list pods.
func TestK8sBirthDepBecomesReady(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("app", false), csRunning("db", false), csWaiting("proxy", "ContainerCreating")}, nil)

	k := p.start(t, "db,proxy", nil)
	waitLog(t, k, "birth deps not ready")
	p.stillWaiting(t, k)
	p.setStatus(t, []obj{csRunning("app", false), csRunning("db", true), csWaiting("proxy", "ContainerCreating")}, nil)
	waitLog(t, k, "proxy: waiting (ContainerCreating")
	p.stillWaiting(t, k)
	p.setStatus(t, []obj{csRunning("app", false), csRunning("db", true), csRunning("proxy", true)}, nil)
	p.expectSuccess(t, k)
	if !strings.Contains(k.stderr.String(), "birth deps ready") {
		t.Errorf("no 'birth deps ready' in stderr:\n%s", k.stderr)
	}
}

// The Role kubexit needs is get on its own pod by name, nothing more: a
// ServiceAccount with only that works (every test here uses it), and it may
// not list pods nor get another pod.
func TestK8sMinimalRoleSuffices(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("db", true)}, nil)

	rc, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := newRESTClient(rc, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nsPath := "/api/v1/namespaces/" + p.ns
	for _, c := range []struct {
		what, path, query string
		forbidden         bool
	}{
		{"get the pod", nsPath + "/pods/" + p.name, "", false},
		{"list pods", nsPath + "/pods", "", true},
		{"watch the pod", nsPath + "/pods", "metadata.name=" + p.name, true},
		{"get another pod", nsPath + "/pods/other", "", true},
	} {
		req := sa.Get().AbsPath(c.path)
		if c.query != "" {
			req = req.Param("watch", "true").Param("fieldSelector", c.query)
		}
		_, err := req.DoRaw(ctx)
		if c.forbidden && !apierrors.IsForbidden(err) || !c.forbidden && err != nil {
			t.Errorf("%s with the ServiceAccount: err = %v, want forbidden=%v", c.what, err, c.forbidden)
		}
	}

	k := p.start(t, "db", nil)
	p.expectSuccess(t, k)
}

// Deps already ready: the child starts at once.
func TestK8sBirthDepsAlreadyReady(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("app", false), csRunning("db", true), csRunning("proxy", true)}, []obj{csStarted("mesh", true)})
	k := p.start(t, "db,proxy,mesh", nil)
	p.expectSuccess(t, k)
}

// A native sidecar (init container with restartPolicy: Always) as a birth dep.
func TestK8sNativeSidecarDep(t *testing.T) {
	b := needK8s(t)
	t.Run("no readiness probe: started is enough", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		p.setStatus(t, nil, []obj{csWaiting("mesh", "PodInitializing")})
		k := p.start(t, "mesh", nil)
		waitLog(t, k, "mesh: waiting (PodInitializing")
		p.stillWaiting(t, k)
		p.setStatus(t, nil, []obj{csStarted("mesh", true)})
		p.expectSuccess(t, k)
	})
	t.Run("readiness probe: must be ready", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{probedSC: true})
		p.setStatus(t, nil, []obj{csStarted("mesh", true)})
		k := p.start(t, "mesh", nil)
		waitLog(t, k, "mesh: running, not ready")
		p.stillWaiting(t, k)
		p.setStatus(t, nil, []obj{csRunning("mesh", true)})
		p.expectSuccess(t, k)
	})
}

// Never ready: after KUBEXIT_BIRTH_TIMEOUT kubexit exits 1 with every dep
// that is not ready and why, and a tombstone with Died; no child.
func TestK8sBirthTimeout(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("app", false), csRunning("db", false), csWaiting("proxy", "CrashLoopBackOff")}, nil)
	msgFile := filepath.Join(t.TempDir(), "termination-log")
	k := p.start(t, "proxy,db,mesh", map[string]string{"KUBEXIT_BIRTH_TIMEOUT": "3s", "KUBEXIT_TERMINATION_LOG": msgFile})
	stderr := p.expectNoChild(t, k, 1)
	if msg, _ := os.ReadFile(msgFile); !strings.HasPrefix(string(msg), "kubexit: exit 1: not started: birth deps not ready after 3s: proxy: waiting (CrashLoopBackOff") {
		t.Errorf("termination message %q", msg)
	}
	for _, want := range []string{
		"birth deps not ready after 3s",
		"proxy: waiting (CrashLoopBackOff, last exit code 1)",
		"db: running, not ready",
		"mesh: not found in pod status",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if ts, _ := readTombstone(p.graveyard, "app"); ts.ExitCode == nil || *ts.ExitCode != 1 {
		t.Errorf("tombstone ExitCode = %v, want 1", ts.ExitCode)
	}
}

// No Role: the first GET is forbidden and kubexit fails at once, naming the
// service account and the Role rule it needs.
func TestK8sForbiddenWithoutRole(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{noRole: true})
	start := time.Now()
	k := p.start(t, "db", nil) // KUBEXIT_BIRTH_TIMEOUT=55s
	stderr := p.expectNoChild(t, k, 1)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("403 took %v: not failing fast", d)
	}
	for _, want := range []string{
		"service account " + p.ns + "/" + p.account + " may not get pod pod in namespace " + p.ns,
		"{apiGroups: [''], resources: [pods], verbs: [get], resourceNames: [pod]}",
		"403 Forbidden",
		"{kind: ServiceAccount, name: " + p.account + ", namespace: " + p.ns + "}",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "not ready after") {
		t.Errorf("403 reported as a timeout:\n%s", stderr)
	}
}

// The pod does not exist: a fast 404 message naming pod and namespace.
func TestK8sPodNotFound(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{roleFor: "missing"})
	p.name = "missing"
	k := p.start(t, "db", nil)
	stderr := p.expectNoChild(t, k, 1)
	want := "pod missing not found in namespace " + p.ns
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// A birth dep or KUBEXIT_NAME that is not a container of the pod: a fast
// error listing the pod's containers.
func TestK8sUnknownContainer(t *testing.T) {
	b := needK8s(t)
	cases := []struct {
		name, deps, self, want string
	}{
		{"birth dep", "db,nosuch", "app", "birth dep nosuch (KUBEXIT_BIRTH_DEPS) is not a container of the pod"},
		{"plain init container", "setup", "app", "birth dep setup is an init container that runs to completion"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newK8sPod(t, b, k8sPodOpts{})
			p.setStatus(t, []obj{csRunning("db", false)}, nil)
			k := p.start(t, c.deps, map[string]string{"KUBEXIT_NAME": c.self})
			code := k.wait()
			stderr := k.stderr.String()
			t.Logf("kubexit's stderr:\n%s", stderr)
			if code != 1 || p.childRan() {
				t.Fatalf("exit %d (want 1), child ran %v; stderr:\n%s", code, p.childRan(), stderr)
			}
			for _, want := range []string{c.want, "the pod's containers: setup (init), mesh (sidecar), app, db, proxy"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// A KUBEXIT_NAME that is not a container of the pod is only a warning, as
// the original accepts it: the wait goes on and the child starts.
func TestK8sUnknownNameOnlyWarns(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("db", true)}, nil)
	k := p.start(t, "db", map[string]string{"KUBEXIT_NAME": "nosuch"})
	code := k.wait()
	stderr := k.stderr.String()
	if code != 0 || !p.childRan() {
		t.Fatalf("exit %d (want 0), child ran %v; stderr:\n%s", code, p.childRan(), stderr)
	}
	for _, want := range []string{"level=WARN", "KUBEXIT_NAME nosuch is not a container of the pod", "the pod's containers: setup (init), mesh (sidecar), app, db, proxy"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if ts, ok := readTombstone(p.graveyard, "nosuch"); !ok || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("tombstone %+v (ok=%v), want ExitCode 0", ts, ok)
	}
}

// waitingForDB is a pod whose db runs, not ready, and kubexit started in it
// with KUBEXIT_BIRTH_DEPS=db (and extra), waiting for the db.
func waitingForDB(t *testing.T, b *k8sBed, extra map[string]string) (*k8sPod, *kubexitProc) {
	t.Helper()
	p := newK8sPod(t, b, k8sPodOpts{})
	p.setStatus(t, []obj{csRunning("db", false)}, nil)
	k := p.start(t, "db", extra)
	waitLog(t, k, "db: running, not ready")
	return p, k
}

// The API server is stopped and restarted mid-wait: kubexit logs the
// failure, keeps waiting, and starts the child once the dep is ready.
func TestK8sAPIServerRestart(t *testing.T) {
	b := needK8s(t)
	p, k := waitingForDB(t, b, nil)

	restarted := false
	t.Cleanup(func() {
		if !restarted { // never leave the bed without an API server
			exec.Command(filepath.Join(k8sBedDir, "k8s-up")).Run()
		}
	})
	runScript(t, "k8s-down", "--apiserver")
	waitLog(t, k, "cannot read the pod; retrying")
	p.stillWaiting(t, k)
	runScript(t, "k8s-up")
	restarted = true
	waitLog(t, k, "the pod is readable again")
	p.stillWaiting(t, k)
	p.setStatus(t, []obj{csRunning("db", true)}, nil)
	p.expectSuccess(t, k)
}

func runScript(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(k8sBedDir, name), args...)
	cmd.Env = append(os.Environ(), "KUBEXIT_K8S_NODE=") // control plane only
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	t.Logf("%s %v: ok", name, args)
}

// A death dep dies while kubexit waits for its birth deps: the child never
// starts; kubexit exits 143, or 0 with KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS.
func TestK8sDeathDepDiesDuringBirthWait(t *testing.T) {
	b := needK8s(t)
	for _, c := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"default", nil, 143},
		{"exit zero", map[string]string{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "true"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"KUBEXIT_DEATH_DEPS": "proxy"}
			maps.Copy(env, c.env)
			p, k := waitingForDB(t, b, env)
			if err := os.WriteFile(filepath.Join(p.graveyard, "proxy"), []byte("Died: \"2026-01-01T00:00:00Z\"\nExitCode: 0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			stderr := p.expectNoChild(t, k, c.want)
			if !strings.Contains(stderr, "proxy") {
				t.Errorf("stderr does not name the death dep:\n%s", stderr)
			}
		})
	}
}

// TERM during the wait: exit 143, no child, a tombstone with Died.
func TestK8sTermDuringBirthWait(t *testing.T) {
	b := needK8s(t)
	p, k := waitingForDB(t, b, nil)
	k.signal(syscall.SIGTERM)
	p.expectNoChild(t, k, 143)
	if ts, _ := readTombstone(p.graveyard, "app"); ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone ExitCode = %v, want 143", ts.ExitCode)
	}
}

// check runs "kubexit --check" with the pod's environment (as p.start does).
func (p *k8sPod) check(t *testing.T, deps string, extra map[string]string) (int, string) {
	t.Helper()
	env := map[string]string{
		"KUBECONFIG":              p.kubeconfig,
		"KUBERNETES_SERVICE_HOST": "",
		"KUBEXIT_NAME":            "app",
		"KUBEXIT_BIRTH_DEPS":      deps,
		"KUBEXIT_POD_NAME":        p.name,
		"KUBEXIT_NAMESPACE":       p.ns,
		"KUBEXIT_GRAVEYARD":       p.graveyard,
	}
	for k, v := range extra {
		env[k] = v
	}
	k := startKubexit(t, env, "--check")
	code := k.wait()
	return code, k.stdout.String()
}

// The preflight (kubexit --check) against the real API server: allowed,
// forbidden, pod missing, unknown container; each failure one line saying
// what to fix.
func TestK8sPreflight(t *testing.T) {
	b := needK8s(t)
	t.Run("allowed", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		code, out := p.check(t, "db,mesh", nil)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []string{"ok: graveyard", "may get pod " + p.ns + "/" + p.name, "ok: birth deps db, mesh are containers of the pod"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{noRole: true})
		code, out := p.check(t, "db", nil)
		if code != 1 || !strings.Contains(out, "FAIL: service account "+p.ns+"/"+p.account+" may not get pod") ||
			!strings.Contains(out, "{apiGroups: [''], resources: [pods], verbs: [get], resourceNames: ["+p.name+"]}") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("pod missing", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{roleFor: "missing"})
		p.name = "missing"
		code, out := p.check(t, "db", nil)
		if code != 1 || !strings.Contains(out, "FAIL: pod missing not found in namespace "+p.ns) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("unknown container", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		code, out := p.check(t, "db,nosuch", map[string]string{"KUBEXIT_NAME": "other"})
		if code != 1 || !strings.Contains(out, "FAIL: pod "+p.ns+"/"+p.name+": birth dep nosuch (KUBEXIT_BIRTH_DEPS) is not a container of the pod") ||
			!strings.Contains(out, "WARN: pod "+p.ns+"/"+p.name+": KUBEXIT_NAME other is not a container of the pod") || strings.Count(out, "FAIL:") != 1 {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("unknown KUBEXIT_NAME only warns", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		code, out := p.check(t, "db", map[string]string{"KUBEXIT_NAME": "other"})
		if code != 0 || !strings.Contains(out, "WARN: pod "+p.ns+"/"+p.name+": KUBEXIT_NAME other is not a container of the pod") || strings.Contains(out, "FAIL:") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

// watchDB runs kubexit in container app with a death dep on db and API
// access to the pod; its child runs until stopped.
func (p *k8sPod) watchDB(t *testing.T) *kubexitProc {
	t.Helper()
	return startKubexit(t, map[string]string{
		"KUBECONFIG":              p.kubeconfig,
		"KUBERNETES_SERVICE_HOST": "",
		"KUBEXIT_NAME":            "app",
		"KUBEXIT_DEATH_DEPS":      "db",
		"KUBEXIT_POD_NAME":        p.name,
		"KUBEXIT_NAMESPACE":       p.ns,
		"KUBEXIT_GRAVEYARD":       p.graveyard,
		"KUBEXIT_POLL_INTERVAL":   "20ms",
		"MARKER":                  p.marker,
	}, "sh", "-c", `echo started > "$MARKER"; while :; do sleep 0.05; done`)
}

// With get on its pod, kubexit reads its death deps' restart policy from
// the real API server: a death of db that the pod's OnFailure restarts
// (exit 1) does not stop the child, db's next Born is awaited, and its
// exit 0 stops the child.
func TestK8sRestartPolicyFromSpec(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{restartPolicy: "OnFailure"})
	writeFile(t, p.graveyard, "db", failedYAML)
	k := p.watchDB(t)
	waitLog(t, k, "the kubelet restarts its container (pod restartPolicy OnFailure, exit code 1 (the pod's spec))")
	waitFor(t, "the child to run", p.childRan)
	born := time.Now()
	if err := writeTombstone(p.graveyard, "db", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, k, "death dep is alive again")
	died, code := time.Now(), 0
	if err := writeTombstone(p.graveyard, "db", tombstone{Born: &born, Died: &died, ExitCode: &code}); err != nil {
		t.Fatal(err)
	}
	if got := k.wait(); got != 143 {
		t.Fatalf("kubexit exited %d, want 143 (the child terminated); stderr:\n%s", got, k.stderr)
	}
	if !strings.Contains(k.stderr.String(), "death dep died; terminating the child") {
		t.Errorf("no termination logged:\n%s", k.stderr)
	}
}

// Without a Role, the pod's spec cannot be read: kubexit says so, once, and
// deaths count as they come (db's exit 1 is already dead: no child).
func TestK8sRestartPolicyForbidden(t *testing.T) {
	b := needK8s(t)
	p := newK8sPod(t, b, k8sPodOpts{restartPolicy: "OnFailure", noRole: true})
	writeFile(t, p.graveyard, "db", failedYAML)
	k := p.watchDB(t)
	if got := k.wait(); got != 143 {
		t.Fatalf("kubexit exited %d, want 143; stderr:\n%s", got, k.stderr)
	}
	stderr := k.stderr.String()
	for _, want := range []string{"cannot read the pod's spec", "may not get pod pod", "death dep db already dead; not starting the child"} {
		if strings.Count(stderr, want) != 1 {
			t.Errorf("stderr does not say %q once:\n%s", want, stderr)
		}
	}
	if p.childRan() {
		t.Error("the child ran")
	}
}
