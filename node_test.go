package main

// End-to-end tests on a real node: the project's own examples (examples/*.yaml)
// run as real pods on a real kubelet + containerd + runc (the test bed in
// hack/beds/k8s, started with --node by hack/e2e-node), with kubexit
// in a real image. The examples are adapted only by what the bed needs
// (nodeAdapt): nodeName, hostNetwork, imagePullPolicy: Never, local image
// names, the API server's address for in-cluster access — and, so that the
// test can read the tombstones after the pod is gone, the graveyard emptyDir
// becomes a hostPath directory.
//
//	hack/e2e-node                       # start the bed, build and import the image, run these, stop the bed
//
// Without KUBEXIT_NODE_TESTS=1 they are skipped; with it, a bed that cannot be
// reached fails them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

type nodeBed struct {
	*k8sBed
	port   string            // the API server's port on 127.0.0.1
	images map[string]string // example image -> image in the node's containerd
}

var nodeTestBed = &testBed[*nodeBed]{
	env:     "KUBEXIT_NODE_TESTS",
	tests:   "end-to-end test on a real node",
	name:    "node test bed",
	script:  "hack/e2e-node",
	fix:     "start it with hack/e2e-node",
	connect: connectNode,
}

// needNode skips the test unless KUBEXIT_NODE_TESTS=1; then the bed of
// KUBECONFIG must answer and have a node, or the test fails. The tests of
// the node, each in its own namespace, run in parallel.
func needNode(t *testing.T) *nodeBed {
	t.Helper()
	b := nodeTestBed.need(t)
	t.Parallel()
	return b
}

func connectNode() (*nodeBed, error) {
	b, err := connectK8s()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(b.host)
	if err != nil || u.Port() == "" {
		return nil, fmt.Errorf("API server address %q has no port", b.host)
	}
	nb := &nodeBed{k8sBed: b, port: u.Port(), images: map[string]string{
		"kubexit:busybox": "kx.local/kubexit-busybox:e2e",
		"busybox:1.37":    "kx.local/busybox:1",
	}}
	// KUBEXIT_NODE_IMAGES="example=local,..." overrides the mapping.
	for _, kv := range strings.Split(os.Getenv("KUBEXIT_NODE_IMAGES"), ",") {
		if from, to, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			nb.images[from] = to
		}
	}
	// The node's own images stand for themselves (inject's --image names one).
	for _, to := range slices.Collect(maps.Values(nb.images)) {
		nb.images[to] = to
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.admin.Get().AbsPath("/api/v1/nodes/localhost").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("no node localhost (start the bed with --node): %v", err)
	}
	return nb, nil
}

// nodeNS is one test's namespace and graveyard (a hostPath directory).
type nodeNS struct {
	bed       *nodeBed
	ns        string
	graveyard string
}

func newNodeNS(t *testing.T, b *nodeBed) *nodeNS {
	t.Helper()
	n := &nodeNS{bed: b, ns: k8sName(t)}
	dir, err := os.MkdirTemp("", "kubexit-node-graveyard-")
	if err != nil {
		t.Fatal(err)
	}
	// The pods run as 65532: like an emptyDir, the graveyard is world-writable.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	n.graveyard = dir
	b.do(t, "POST", "/api/v1/namespaces", "application/json", obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": n.ns}})
	t.Cleanup(func() {
		if t.Failed() {
			n.dump(t)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.admin.Delete().AbsPath("/api/v1/namespaces", n.ns).Do(ctx) // kcm deletes its pods
		os.RemoveAll(dir)
	})
	return n
}

// runExample creates, in a new namespace, the objects of examples/FILE,
// adapted to the bed (adapt) and then by edit, if not nil.
func runExample(t *testing.T, b *nodeBed, file string, edit func(objs []obj)) *nodeNS {
	t.Helper()
	return runObjects(t, b, loadExample(t, file), edit)
}

// runObjects is runExample for objects read elsewhere.
func runObjects(t *testing.T, b *nodeBed, objs []obj, edit func(objs []obj)) *nodeNS {
	t.Helper()
	n := newNodeNS(t, b)
	n.adapt(t, objs)
	if edit != nil {
		edit(objs)
	}
	n.apply(t, objs)
	return n
}

// loadExample reads examples/FILE: one object per YAML document.
func loadExample(t *testing.T, file string) []obj {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("examples", file))
	if err != nil {
		t.Fatal(err)
	}
	return parseObjects(t, file, data)
}

// parseObjects reads a manifest's text (named file in messages): one
// object per YAML document.
func parseObjects(t *testing.T, file string, data []byte) []obj {
	t.Helper()
	var objs []obj
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var o obj
		if err := json.Unmarshal(j, &o); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", file)
	}
	return objs
}

// podSpecOf is the pod spec of a Pod or a Job's template.
func podSpecOf(o obj) obj {
	switch o["kind"] {
	case "Pod":
		return o["spec"].(obj)
	case "Job":
		return o["spec"].(obj)["template"].(obj)["spec"].(obj)
	}
	return nil
}

func containersOf(spec obj) []obj {
	var cs []obj
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			cs = append(cs, c.(obj))
		}
	}
	return cs
}

// nodeAdapt makes an example's objects run on the bed: namespace, nodeName,
// hostNetwork, local images never pulled, the API server on 127.0.0.1 (the
// kubernetes Service is not routable: no kube-proxy), and the graveyard on
// a hostPath the test can read.
func (n *nodeNS) adapt(t *testing.T, objs []obj) {
	t.Helper()
	for _, o := range objs {
		o["metadata"].(obj)["namespace"] = n.ns
		if o["kind"] == "RoleBinding" {
			for _, s := range o["subjects"].([]any) {
				if _, ok := s.(obj)["namespace"]; ok { // none: the binding's own (inject writes none)
					s.(obj)["namespace"] = n.ns
				}
			}
		}
		spec := podSpecOf(o)
		if spec == nil {
			continue
		}
		spec["nodeName"] = "localhost"
		spec["hostNetwork"] = true
		found := false
		for _, v := range spec["volumes"].([]any) {
			if v := v.(obj); v["name"] == "graveyard" || v["name"] == "kubexit-graveyard" { // kubexit-graveyard: inject's
				delete(v, "emptyDir")
				v["hostPath"] = obj{"path": n.graveyard, "type": "Directory"}
				found = true
			}
		}
		if !found {
			t.Fatalf("%s %v: no volume named graveyard", o["kind"], o["metadata"].(obj)["name"])
		}
		for _, c := range containersOf(spec) {
			img, ok := n.bed.images[c["image"].(string)]
			if !ok {
				t.Fatalf("container %v: image %v has no local counterpart (KUBEXIT_NODE_IMAGES)", c["name"], c["image"])
			}
			c["image"] = img
			c["imagePullPolicy"] = "Never"
			env, _ := c["env"].([]any)
			c["env"] = append(env,
				obj{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
				obj{"name": "KUBERNETES_SERVICE_PORT", "value": n.bed.port})
		}
	}
}

// setEnv sets an env variable of a container of the example (a test knob).
func setEnv(t *testing.T, objs []obj, container, name, value string) {
	t.Helper()
	for _, o := range objs {
		if spec := podSpecOf(o); spec != nil {
			for _, c := range containersOf(spec) {
				if c["name"] != container {
					continue
				}
				env, _ := c["env"].([]any)
				kept := env[:0]
				for _, e := range env {
					if e.(obj)["name"] != name {
						kept = append(kept, e)
					}
				}
				if value != "" {
					kept = append(kept, obj{"name": name, "value": value})
				}
				c["env"] = kept
				return
			}
		}
	}
	t.Fatalf("no container %s", container)
}

// apply creates the objects, in order.
func (n *nodeNS) apply(t *testing.T, objs []obj) {
	t.Helper()
	for _, o := range objs {
		var path string
		switch o["kind"] {
		case "ServiceAccount":
			path = "/api/v1/namespaces/" + n.ns + "/serviceaccounts"
		case "Pod":
			path = "/api/v1/namespaces/" + n.ns + "/pods"
		case "Role", "RoleBinding":
			path = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + n.ns + "/" + strings.ToLower(o["kind"].(string)) + "s"
		case "Job":
			path = "/apis/batch/v1/namespaces/" + n.ns + "/jobs"
		default:
			t.Fatalf("apply: unsupported kind %v", o["kind"])
		}
		n.bed.do(t, "POST", path, "application/json", o)
	}
}

// Pod and Job status, the parts the tests look at.
type nodePod struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Phase             string   `json:"phase"`
		ContainerStatuses []nodeCS `json:"containerStatuses"`
		InitStatuses      []nodeCS `json:"initContainerStatuses"`
	} `json:"status"`
}

type nodeCS struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	State struct {
		Running *struct {
			StartedAt time.Time `json:"startedAt"`
		} `json:"running"`
		Terminated *nodeTerm `json:"terminated"`
	} `json:"state"`
}

type nodeTerm struct {
	ExitCode   int       `json:"exitCode"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

type nodeJob struct {
	Status struct {
		Succeeded  int `json:"succeeded"`
		Failed     int `json:"failed"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"conditions"`
	} `json:"status"`
}

// get reads an object as admin; ok is false when it does not exist.
func (n *nodeNS) get(t *testing.T, path string, into any) (ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := n.bed.admin.Get().AbsPath(path).Do(ctx)
	var code int
	res.StatusCode(&code)
	if code == 404 {
		return false
	}
	data, err := res.Raw()
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return true
}

func (n *nodeNS) pod(t *testing.T, name string) (nodePod, bool) {
	var p nodePod
	ok := n.get(t, "/api/v1/namespaces/"+n.ns+"/pods/"+name, &p)
	return p, ok
}

// jobPod is the name of the (only) pod of the Job, once there is one.
func (n *nodeNS) jobPod(t *testing.T, job string) string {
	t.Helper()
	var name string
	waitWithin(t, 60*time.Second, nodePoll, "a pod of job "+job, func() bool {
		var list struct {
			Items []nodePod `json:"items"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		raw, err := n.bed.admin.Get().AbsPath("/api/v1/namespaces/"+n.ns+"/pods").Param("labelSelector", "job-name="+job).DoRaw(ctx)
		if err != nil {
			t.Fatalf("list the pods of job %s: %v", job, err)
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 1 {
			t.Fatalf("job %s has %d pods, want 1", job, len(list.Items))
		}
		if len(list.Items) == 1 {
			name = list.Items[0].Metadata.Name
		}
		return name != ""
	})
	return name
}

// waitPodDone waits for the pod to end (Succeeded or Failed) and returns it.
func (n *nodeNS) waitPodDone(t *testing.T, name string) nodePod {
	t.Helper()
	var p nodePod
	waitWithin(t, 120*time.Second, nodePoll, "pod "+name+" to end", func() bool {
		p, _ = n.pod(t, name)
		return p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed"
	})
	return p
}

// waitJobDone waits for the Job to finish and its pod to end, and returns
// the Job's condition (Complete or Failed), the Job and the pod.
func (n *nodeNS) waitJobDone(t *testing.T, job string) (string, nodeJob, nodePod) {
	t.Helper()
	pod := n.jobPod(t, job)
	cond, j := n.waitJob(t, job)
	return cond, j, n.waitPodDone(t, pod)
}

// waitJob waits for the Job's Complete or Failed condition and returns it.
func (n *nodeNS) waitJob(t *testing.T, name string) (string, nodeJob) {
	t.Helper()
	var j nodeJob
	var cond string
	waitWithin(t, 120*time.Second, nodePoll, "job "+name+" to finish", func() bool {
		n.get(t, "/apis/batch/v1/namespaces/"+n.ns+"/jobs/"+name, &j)
		for _, c := range j.Status.Conditions {
			if (c.Type == "Complete" || c.Type == "Failed") && c.Status == "True" {
				cond = c.Type
				return true
			}
		}
		return false
	})
	return cond, j
}

// logs returns a container's log (empty on error).
func (n *nodeNS) logs(pod, container string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := n.bed.admin.Get().AbsPath("/api/v1/namespaces/"+n.ns+"/pods/"+pod+"/log").Param("container", container).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(out)
}

// dump logs every pod of the namespace, with its containers' logs and the graveyard.
func (n *nodeNS) dump(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := n.bed.admin.Get().AbsPath("/api/v1/namespaces/" + n.ns + "/pods").DoRaw(ctx)
	if err != nil {
		t.Logf("dump: %v", err)
		return
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	json.Unmarshal(raw, &list)
	for _, item := range list.Items {
		var p nodePod
		var full struct {
			Status json.RawMessage `json:"status"`
		}
		json.Unmarshal(item, &p)
		json.Unmarshal(item, &full)
		t.Logf("pod %s status: %s", p.Metadata.Name, full.Status)
		for _, c := range append(p.Status.InitStatuses, p.Status.ContainerStatuses...) {
			t.Logf("pod %s container %s log:\n%s", p.Metadata.Name, c.Name, n.logs(p.Metadata.Name, c.Name))
		}
	}
	entries, _ := os.ReadDir(n.graveyard)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(n.graveyard, e.Name()))
		t.Logf("graveyard %s:\n%s", e.Name(), data)
	}
}

// nodePoll is how often the tests poll the bed's API server (waitWithin):
// gently, as they run in parallel.
const nodePoll = 250 * time.Millisecond

// status finds a container's status; it must have terminated.
func terminated(t *testing.T, p nodePod, name string) nodeTerm {
	t.Helper()
	for _, c := range append(p.Status.InitStatuses, p.Status.ContainerStatuses...) {
		if c.Name == name {
			if c.State.Terminated == nil {
				t.Fatalf("pod %s container %s has not terminated: %+v", p.Metadata.Name, name, c.State)
			}
			return *c.State.Terminated
		}
	}
	t.Fatalf("pod %s has no container %s", p.Metadata.Name, name)
	return nodeTerm{}
}

// expectTerm checks a terminated container's exit code, reason and termination message.
func expectTerm(t *testing.T, p nodePod, name string, code int, reason, msg string) nodeTerm {
	t.Helper()
	term := terminated(t, p, name)
	if term.ExitCode != code || term.Reason != reason || strings.TrimSpace(term.Message) != msg {
		t.Errorf("container %s: exit %d, reason %q, message %q; want %d, %q, %q",
			name, term.ExitCode, term.Reason, strings.TrimSpace(term.Message), code, reason, msg)
	} else {
		t.Logf("container %s: exit %d, reason %s, message %q", name, code, reason, msg)
	}
	return term
}

// expectTombstone checks a tombstone in the graveyard: Born, Died, ExitCode,
// and its owner.
func (n *nodeNS) expectTombstone(t *testing.T, name string, code int) tombstone {
	t.Helper()
	ts, ok := readTombstone(n.graveyard, name)
	if !ok || ts.Born == nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != code {
		data, _ := os.ReadFile(filepath.Join(n.graveyard, name))
		t.Errorf("tombstone %s: %q, want Born, Died and ExitCode %d", name, data, code)
		return ts
	}
	// The examples run as 65532 (runAsNonRoot): kubexit wrote the tombstone as that user.
	if fi, err := os.Stat(filepath.Join(n.graveyard, name)); err != nil {
		t.Error(err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 65532 || st.Gid != 65532) {
		t.Errorf("tombstone %s is owned by %d:%d, want 65532:65532 (the pod's runAsUser)", name, st.Uid, st.Gid)
	}
	t.Logf("tombstone %s: Born %s, Died %s, ExitCode %d", name, ts.Born.Format(time.RFC3339Nano), ts.Died.Format(time.RFC3339Nano), code)
	return ts
}

// within checks that b - a is in [lo, hi] and logs it.
// expectJobSucceeded checks a Job that must be Complete with one succeeded
// pod, and that pod Succeeded.
func expectJobSucceeded(t *testing.T, cond string, j nodeJob, p nodePod) {
	t.Helper()
	if cond != "Complete" || j.Status.Succeeded != 1 || p.Status.Phase != "Succeeded" {
		t.Errorf("job %s (succeeded %d), pod %s; want Complete, 1, Succeeded", cond, j.Status.Succeeded, p.Status.Phase)
	}
}

// expectStoppedAfterMain checks that the sidecar container finished within
// 5 s of main (well inside its grace period), and that the tombstones say
// main's child exited 0 and the sidecar's was terminated (143) within 2 s.
func (n *nodeNS) expectStoppedAfterMain(t *testing.T, main, sidecar nodeTerm, sidecarName string) {
	t.Helper()
	within(t, "main finished -> "+sidecarName+" finished (containers)", main.FinishedAt, sidecar.FinishedAt, 0, 5*time.Second)
	mainTS := n.expectTombstone(t, "main", 0)
	sidecarTS := n.expectTombstone(t, sidecarName, 143)
	if mainTS.Died != nil && sidecarTS.Died != nil {
		within(t, "main's child died -> "+sidecarName+"'s child died (tombstones)", *mainTS.Died, *sidecarTS.Died, 0, 2*time.Second)
	}
}

func within(t *testing.T, what string, a, b time.Time, lo, hi time.Duration) {
	t.Helper()
	d := b.Sub(a)
	if d < lo || d > hi {
		t.Errorf("%s: %v, want within [%v, %v]", what, d, lo, hi)
	} else {
		t.Logf("%s: %v (want within [%v, %v])", what, d, lo, hi)
	}
}

// withAndWithout runs test twice, in parallel subtests: with a switch on
// (the subtest named on) and off (named off, the control).
func withAndWithout(t *testing.T, on, off string, test func(t *testing.T, on bool)) {
	for _, c := range []struct {
		name string
		on   bool
	}{{on, true}, {off, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			test(t, c.on)
		})
	}
}

// nodeFreePort is a port that is free on the node (the tests' pods use
// hostNetwork) when it is asked for.
func nodeFreePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// expectAppProxySucceeded waits for the app-and-proxy pod to finish and
// checks its ending: the pod Succeeded, the app's child exited 0, the proxy
// was terminated when its death dep app died and exited 0, and the
// tombstones say so (app 0, proxy 143).
func (n *nodeNS) expectAppProxySucceeded(t *testing.T, pod string) (app, proxy nodeTerm, appTS, proxyTS tombstone) {
	t.Helper()
	p := n.waitPodDone(t, pod)
	if p.Status.Phase != "Succeeded" {
		t.Errorf("pod phase %s, want Succeeded", p.Status.Phase)
	}
	app = expectTerm(t, p, "app", 0, "Completed", "kubexit: exit 0: child exited 0")
	proxy = expectTerm(t, p, "proxy", 0, "Completed", "kubexit: exit 0: child terminated because death dep app died; it exited 143 (SIGTERM)")
	appTS = n.expectTombstone(t, "app", 0)
	proxyTS = n.expectTombstone(t, "proxy", 143)
	return app, proxy, appTS, proxyTS
}

// Example (a): the app starts only once the proxy is Ready (birth dep, a GET
// of its own pod with a Role pinned to the pod's name); when the app exits,
// the proxy is terminated (death dep) and exits 0, and the pod Succeeds.
func TestNodeAppProxyPod(t *testing.T) {
	runExample(t, needNode(t), "app-proxy-pod.yaml", nil).expectAppProxyPod(t)
}

// expectAppProxyPod checks example (a)'s end: expectAppProxySucceeded, the
// birth wait and the proxy's death right after the app's.
func (n *nodeNS) expectAppProxyPod(t *testing.T) {
	t.Helper()
	app, proxy, appTS, proxyTS := n.expectAppProxySucceeded(t, "web")

	// Birth dep: the proxy makes itself ready 3 s after it starts; the app's
	// child (Born) starts after that, though its container started at once.
	// (Container times have 1 s resolution.)
	if appTS.Born != nil {
		within(t, "proxy started -> app's child born", proxy.StartedAt, *appTS.Born, 3*time.Second, 30*time.Second)
		within(t, "app's container started -> app's child born (the birth wait)", app.StartedAt, *appTS.Born, 2*time.Second, 30*time.Second)
	}
	// Death dep: the proxy ended right after the app, well within its grace
	// period (10 s): container times (1 s resolution) and tombstones (ns).
	within(t, "app finished -> proxy finished (containers)", app.FinishedAt, proxy.FinishedAt, 0, 5*time.Second)
	if appTS.Died != nil && proxyTS.Died != nil {
		within(t, "app's child died -> proxy's child died (tombstones)", *appTS.Died, *proxyTS.Died, 0, 2*time.Second)
	}

	appLog := n.logs("web", "app")
	for _, want := range []string{"birth deps ready", "app: the proxy is ready"} {
		if !strings.Contains(appLog, want) {
			t.Errorf("app's log lacks %q:\n%s", want, appLog)
		}
	}
	if proxyLog := n.logs("web", "proxy"); !strings.Contains(proxyLog, "death dep died; terminating the child") {
		t.Errorf("proxy's log lacks the death:\n%s", proxyLog)
	}
}

// Example (a) deleted while both run: the kubelet sends TERM to every
// container; kubexit forwards it and records each child's death. The pod
// goes away long before its 30 s grace period.
func TestNodeAppProxyPodDeleted(t *testing.T) {
	n := runExample(t, needNode(t), "app-proxy-pod.yaml", func(objs []obj) { setEnv(t, objs, "app", "APP_SECONDS", "3600") })

	waitWithin(t, 90*time.Second, nodePoll, "the app's child to be born", func() bool {
		ts, ok := readTombstone(n.graveyard, "app")
		return ok && ts.Born != nil
	})
	start := time.Now()
	n.bed.do(t, "DELETE", "/api/v1/namespaces/"+n.ns+"/pods/web", "application/json", nil)
	waitWithin(t, 60*time.Second, nodePoll, "pod web to be gone", func() bool {
		_, ok := n.pod(t, "web")
		return !ok
	})
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("pod deletion took %v: the containers did not stop on TERM (grace period 30s)", d)
	} else {
		t.Logf("pod deleted in %v", d.Round(100*time.Millisecond))
	}
	n.expectTombstone(t, "app", 143)
	n.expectTombstone(t, "proxy", 143)
}

// Example (b): the Job's sidecar is terminated when main finishes, exits 0
// with KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS, and the Job is Complete. Without the
// switch the sidecar exits 143 and the Job (backoffLimit 0) fails — but it
// finishes either way.
func TestNodeJobSidecar(t *testing.T) {
	b := needNode(t)
	withAndWithout(t, "exit zero", "without exit zero", func(t *testing.T, exitZero bool) {
		n := runExample(t, b, "job-sidecar.yaml", func(objs []obj) {
			if !exitZero {
				setEnv(t, objs, "shipper", "KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS", "")
			}
		})
		n.expectJobSidecar(t, exitZero)
	})
}

// expectJobSidecar checks example (b)'s end: the Job Complete and the
// shipper exiting 0 (exitZero), or the Job Failed and the shipper exiting
// 143; either way the shipper stopped right after main.
func (n *nodeNS) expectJobSidecar(t *testing.T, exitZero bool) {
	t.Helper()
	cond, j, p := n.waitJobDone(t, "report")

	main := expectTerm(t, p, "main", 0, "Completed", "kubexit: exit 0: child exited 0")
	var shipper nodeTerm
	msg := "child terminated because death dep main died; it exited 143 (SIGTERM)"
	if exitZero {
		expectJobSucceeded(t, cond, j, p)
		shipper = expectTerm(t, p, "shipper", 0, "Completed", "kubexit: exit 0: "+msg)
	} else {
		if cond != "Failed" || j.Status.Failed != 1 || p.Status.Phase != "Failed" {
			t.Errorf("job %s (failed %d), pod %s; want Failed, 1, Failed", cond, j.Status.Failed, p.Status.Phase)
		}
		shipper = expectTerm(t, p, "shipper", 143, "Error", "kubexit: exit 143: "+msg)
	}
	t.Logf("job %s, pod %s", cond, p.Status.Phase)
	n.expectStoppedAfterMain(t, main, shipper, "shipper")
}

// Example (c): an init container copies /kubexit from kubexit's busybox
// variant into an emptyDir; containers of an unmodified image run it.
func TestNodeInitCopyJob(t *testing.T) {
	n := runExample(t, needNode(t), "init-copy-job.yaml", nil)
	cond, j, p := n.waitJobDone(t, "wrapped")
	expectJobSucceeded(t, cond, j, p)
	expectTerm(t, p, "install-kubexit", 0, "Completed", "")
	main := expectTerm(t, p, "main", 0, "Completed", "kubexit: exit 0: child exited 0")
	sidecar := expectTerm(t, p, "sidecar", 0, "Completed", "kubexit: exit 0: child terminated because death dep main died; it exited 143 (SIGTERM)")
	n.expectStoppedAfterMain(t, main, sidecar, "sidecar")
}

// Example (d): a native sidecar with a readiness probe as a birth dep. The
// kubelet starts main once the sidecar has started; kubexit holds main's
// child until the sidecar is Ready. After main, the kubelet stops the sidecar
// and the Job is Complete.
func TestNodeNativeSidecarJob(t *testing.T) {
	runExample(t, needNode(t), "native-sidecar-job.yaml", nil).expectNativeSidecarJob(t)
}

// expectNativeSidecarJob checks example (d)'s end: the Job Complete, main
// born only once db-proxy was Ready, db-proxy stopped by the kubelet after
// main (TERM, forwarded: 143).
func (n *nodeNS) expectNativeSidecarJob(t *testing.T) {
	t.Helper()
	cond, j, p := n.waitJobDone(t, "migrate")
	expectJobSucceeded(t, cond, j, p)
	main := expectTerm(t, p, "main", 0, "Completed", "kubexit: exit 0: child exited 0")
	proxy := terminated(t, p, "db-proxy")
	t.Logf("db-proxy (native sidecar, stopped by the kubelet): exit %d, reason %s, message %q", proxy.ExitCode, proxy.Reason, strings.TrimSpace(proxy.Message))
	if proxy.ExitCode != 143 || strings.TrimSpace(proxy.Message) != "kubexit: exit 143: child exited 143 (SIGTERM)" {
		t.Errorf("db-proxy: exit %d, message %q; want 143 (TERM from the kubelet, forwarded)", proxy.ExitCode, proxy.Message)
	}
	mainTS := n.expectTombstone(t, "main", 0)
	n.expectTombstone(t, "db-proxy", 143)
	if mainTS.Born != nil {
		within(t, "db-proxy started -> main's child born", proxy.StartedAt, *mainTS.Born, 3*time.Second, 30*time.Second)
		within(t, "main's container started -> main's child born (the birth wait)", main.StartedAt, *mainTS.Born, 2*time.Second, 30*time.Second)
	}
	within(t, "main finished -> db-proxy finished (containers)", main.FinishedAt, proxy.FinishedAt, 0, 10*time.Second)
	if log := n.logs(p.Metadata.Name, "main"); !strings.Contains(log, "birth deps ready") {
		t.Errorf("main's log lacks 'birth deps ready':\n%s", log)
	}
}

// hostPID finds, from the host, the PID of the kubexit process whose
// environment holds mark (E2E_MARK=..., set by the test on one container):
// kubexit is PID 1 of its container, its child the only other process
// with the mark.
func hostPID(t *testing.T, mark string) int {
	t.Helper()
	var pid int
	waitWithin(t, 30*time.Second, nodePoll, "the kubexit process with "+mark, func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			if strings.TrimSpace(string(comm)) != "kubexit" {
				continue
			}
			env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if slices.Contains(strings.Split(string(env), "\x00"), mark) {
				pid = p
				return true
			}
		}
		return false
	})
	return pid
}

// expectLostDeath checks what a sibling recorded about a dep whose kubexit
// was killed: the dep's tombstone says only Born (nobody wrote its death),
// the sibling's child was terminated (143) and its termination message says
// why.
func (n *nodeNS) expectLostDeath(t *testing.T, p nodePod, dep, sibling string, siblingTS tombstone) {
	t.Helper()
	if ts, ok := readTombstone(n.graveyard, dep); !ok || ts.Born == nil || ts.Died != nil {
		data, _ := os.ReadFile(filepath.Join(n.graveyard, dep))
		t.Errorf("tombstone %s: %q, want Born only (its kubexit was killed)", dep, data)
	}
	msg := "kubexit: exit 143: child terminated because death dep " + dep + " died without a word (its kubexit ended without recording a death, as when killed); it exited 143 (SIGTERM)"
	expectTerm(t, p, sibling, 143, "Error", msg)
	if log := n.logs(p.Metadata.Name, sibling); !strings.Contains(log, "lost: its kubexit ended without recording a death") {
		t.Errorf("%s's log does not tell of the lost death:\n%s", sibling, log)
	}
	if siblingTS.Died != nil {
		t.Logf("%s's child died %s", sibling, siblingTS.Died.Format(time.RFC3339Nano))
	}
}

// markEnv is an environment entry that tells one container's processes
// apart on the host (hostPID): unique to this test run.
func markEnv(t *testing.T, container string) string {
	return fmt.Sprintf("%s/%s/%d", t.Name(), container, time.Now().UnixNano())
}

// Example (e): main's kubexit is SIGKILLed from the host, as an OOM group
// kill takes the whole container: it never writes Died. The shipper's
// kubexit sees main's lock released, terminates the shipper, and the Job
// ends Failed instead of hanging.
func TestNodeLostDeathJob(t *testing.T) {
	b := needNode(t)
	mark := markEnv(t, "main")
	n := runExample(t, b, "lost-death-job.yaml", func(objs []obj) { setEnv(t, objs, "main", "E2E_MARK", mark) })
	waitWithin(t, 90*time.Second, nodePoll, "main's and the shipper's children to be born", func() bool {
		m, ok1 := readTombstone(n.graveyard, "main")
		s, ok2 := readTombstone(n.graveyard, "shipper")
		return ok1 && ok2 && m.Born != nil && s.Born != nil
	})
	pid := hostPID(t, "E2E_MARK="+mark)
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL main's kubexit (host PID %d): %v", pid, err)
	}
	t.Logf("SIGKILLed main's kubexit, host PID %d", pid)

	cond, j, p := n.waitJobDone(t, "crunch")
	if cond != "Failed" || j.Status.Failed != 1 || p.Status.Phase != "Failed" {
		t.Errorf("job %s (failed %d), pod %s; want Failed, 1, Failed", cond, j.Status.Failed, p.Status.Phase)
	}
	main := terminated(t, p, "main")
	if main.ExitCode != 137 || strings.TrimSpace(main.Message) != "" {
		t.Errorf("main: exit %d, message %q; want 137 (killed) and no message (kubexit never got to write one)", main.ExitCode, main.Message)
	}
	shipperTS := n.expectTombstone(t, "shipper", 143)
	n.expectLostDeath(t, p, "main", "shipper", shipperTS)
	if shipperTS.Died != nil {
		// Generous: the release is seen within a poll (100 ms) on the node's disk.
		within(t, "main's kubexit killed -> shipper's child died", killed, *shipperTS.Died, 0, 10*time.Second)
	}
}

// Example (f): the app hangs, ignores TERM, and is killed by the kubelet
// after its liveness probe fails and the pod's 3 s grace period ends. Its
// kubexit dies with it; the watchdog learns of the death from the released
// lock and is terminated.
func TestNodeLivenessKill(t *testing.T) {
	n := runExample(t, needNode(t), "liveness-kill-pod.yaml", nil)
	p := n.waitPodDone(t, "hung")
	if p.Status.Phase != "Failed" {
		t.Errorf("pod phase %s, want Failed", p.Status.Phase)
	}
	app := terminated(t, p, "app")
	if app.ExitCode != 137 {
		t.Errorf("app: exit %d, reason %s; want 137 (SIGKILLed by the kubelet at the end of the grace period)", app.ExitCode, app.Reason)
	}
	t.Logf("app: exit %d, reason %s, message %q", app.ExitCode, app.Reason, strings.TrimSpace(app.Message))
	if log := n.logs("hung", "app"); !strings.Contains(log, "app: hung") || !strings.Contains(log, "forwarding signal") {
		t.Errorf("app's log lacks the hang or the forwarded TERM:\n%s", log)
	}
	watchdogTS := n.expectTombstone(t, "watchdog", 143)
	n.expectLostDeath(t, p, "app", "watchdog", watchdogTS)
	within(t, "app finished -> watchdog finished (containers)", app.FinishedAt, terminated(t, p, "watchdog").FinishedAt, 0, 5*time.Second)
}

// followLogs streams a container's log from now on (follow=true) into a
// buffer, so that it can be read after the pod is gone.
func (n *nodeNS) followLogs(t *testing.T, pod, container string) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rc, err := n.bed.admin.Get().AbsPath("/api/v1/namespaces/"+n.ns+"/pods/"+pod+"/log").
		Param("container", container).Param("follow", "true").Stream(ctx)
	if err != nil {
		t.Fatalf("follow the log of %s/%s: %v", pod, container, err)
	}
	go func() {
		defer rc.Close()
		io.Copy(buf, rc)
	}()
	return buf
}

// Example (g), deleted while both run: the kubelet sends TERM to the app
// and the proxy at once. The app drains through the proxy for 3 s; with
// KUBEXIT_SHUTDOWN_AFTER=app the proxy's kubexit holds its TERM until the
// app died, and every drain request succeeds. Without it (the control),
// the proxy stops at once and the drain fails.
func TestNodeOrderedShutdown(t *testing.T) {
	b := needNode(t)
	withAndWithout(t, "held", "without", func(t *testing.T, hold bool) {
		port := nodeFreePort(t)
		n := runExample(t, b, "ordered-shutdown-pod.yaml", func(objs []obj) {
			setEnv(t, objs, "app", "PROXY_PORT", port)
			setEnv(t, objs, "proxy", "PROXY_PORT", port)
			if !hold {
				setEnv(t, objs, "proxy", "KUBEXIT_SHUTDOWN_AFTER", "")
			}
		})
		waitWithin(t, 90*time.Second, nodePoll, "app and proxy to run", func() bool {
			a, ok1 := readTombstone(n.graveyard, "app")
			p, ok2 := readTombstone(n.graveyard, "proxy")
			pod, _ := n.pod(t, "shop")
			running := 0
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.State.Running != nil {
					running++
				}
			}
			return ok1 && ok2 && a.Born != nil && p.Born != nil && running == 2
		})
		appLog, proxyLog := n.followLogs(t, "shop", "app"), n.followLogs(t, "shop", "proxy")
		waitWithin(t, 30*time.Second, nodePoll, "the app to serve through the proxy", func() bool {
			return strings.Contains(appLog.String(), "app: serving")
		})
		n.bed.do(t, "DELETE", "/api/v1/namespaces/"+n.ns+"/pods/shop", "application/json", nil)
		waitWithin(t, 60*time.Second, nodePoll, "pod shop to be gone", func() bool {
			_, ok := n.pod(t, "shop")
			return !ok
		})
		appTS := n.expectTombstone(t, "app", 0)
		proxyTS, _ := readTombstone(n.graveyard, "proxy")
		drain := regexp.MustCompile(`app: drain: (\d+) ok, (\d+) failed`).FindStringSubmatch(appLog.String())
		if drain == nil {
			t.Fatalf("the app's log has no drain result:\n%s", appLog)
		}
		t.Logf("%s: %s; proxy's log:\n%s", t.Name(), drain[0], proxyLog)
		ok, _ := strconv.Atoi(drain[1])
		failed, _ := strconv.Atoi(drain[2])
		if hold {
			if ok < 5 || failed != 0 {
				t.Errorf("drain: %d ok, %d failed; want every request through the held proxy to succeed", ok, failed)
			}
			if !strings.Contains(proxyLog.String(), "holding the stop signal") || !strings.Contains(proxyLog.String(), "siblings gone; forwarding the stop signal") {
				t.Errorf("the proxy's kubexit did not hold the TERM:\n%s", proxyLog)
			}
			if appTS.Died != nil && proxyTS.Died != nil {
				within(t, "app's child died -> proxy's child died (tombstones)", *appTS.Died, *proxyTS.Died, 0, 10*time.Second)
			}
		} else if failed == 0 {
			t.Errorf("drain: %d ok, %d failed; want failures without the hold (the control)", ok, failed)
		}
	})
}
