package main

// End-to-end tests of in-place restarts on a real node (issue 23): the
// examples restart-rule-job.yaml, restart-all-job.yaml and stop-signal-pod.yaml
// run as real pods on the bed of node_test.go (hack/e2e-node). Container
// restart rules (KEP-5307), RestartAllContainers (KEP-5532) and
// lifecycle.stopSignal need a 1.36 node (KUBEXIT_K8S_VERSION=1.36.3
// hack/e2e-node, which turns on the ContainerStopSignals feature gate); on
// an older kubelet these tests skip, saying so.
//
// They check behaviour only: restart counts, exit codes, the order of the
// tombstones' Born and Died times, and what the children print.

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// restartMinor is the oldest Kubernetes minor version these tests run on.
const restartMinor = 36

// needRestartNode is needNode, then a skip unless the node's kubelet is
// 1.36 or later: restart rules and RestartAllContainers would be dropped or
// refused by an older API server and ignored by an older kubelet.
func needRestartNode(t *testing.T) *nodeBed {
	t.Helper()
	b := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := b.admin.Get().AbsPath("/api/v1/nodes/localhost").DoRaw(ctx)
	if err != nil {
		t.Fatalf("read node localhost: %v", err)
	}
	var node struct {
		Status struct {
			NodeInfo struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(raw, &node); err != nil {
		t.Fatal(err)
	}
	v := node.Status.NodeInfo.KubeletVersion
	major, rest, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	minorStr, _, _ := strings.Cut(rest, ".")
	minor, err := strconv.Atoi(minorStr)
	if err != nil || major != "1" {
		t.Fatalf("node localhost: cannot read kubelet version %q", v)
	}
	if minor < restartMinor {
		t.Skipf("the node's kubelet is %s; container restart rules, RestartAllContainers and lifecycle.stopSignal need Kubernetes 1.%d or later: run KUBEXIT_K8S_VERSION=1.36.3 hack/e2e-node", v, restartMinor)
	}
	return b
}

// restartPod is what these tests read of a pod beyond nodePod: the spec
// fields an old API server would drop, restart counts, last states and the
// runtime's stop signal.
type restartPod struct {
	Spec struct {
		Containers []restartSpecContainer `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"conditions"`
		ContainerStatuses []restartCS `json:"containerStatuses"`
		InitStatuses      []restartCS `json:"initContainerStatuses"`
	} `json:"status"`
}

type restartSpecContainer struct {
	Name      string `json:"name"`
	Lifecycle *struct {
		StopSignal string `json:"stopSignal"`
	} `json:"lifecycle"`
	RestartPolicyRules []struct {
		Action string `json:"action"`
	} `json:"restartPolicyRules"`
}

type restartCS struct {
	Name         string `json:"name"`
	RestartCount int    `json:"restartCount"`
	StopSignal   string `json:"stopSignal"`
	State        struct {
		Terminated *nodeTerm `json:"terminated"`
	} `json:"state"`
	Last struct {
		Terminated *nodeTerm `json:"terminated"`
	} `json:"lastState"`
}

func (n *nodeNS) restartPod(t *testing.T, name string) restartPod {
	t.Helper()
	var p restartPod
	if !n.get(t, "/api/v1/namespaces/"+n.ns+"/pods/"+name, &p) {
		t.Fatalf("pod %s is gone", name)
	}
	return p
}

// status is a container's status (init or regular); the test fails without one.
func (p restartPod) status(t *testing.T, name string) restartCS {
	t.Helper()
	for _, c := range append(p.Status.InitStatuses, p.Status.ContainerStatuses...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no status of container %s", name)
	return restartCS{}
}

// container is a regular container's spec, as the API server stored it.
func (p restartPod) container(t *testing.T, name string) restartSpecContainer {
	t.Helper()
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s in the pod's spec", name)
	return restartSpecContainer{}
}

// expectRule checks that the API server kept a container's restart rule
// with action: without the ContainerRestartRules gate (or
// RestartAllContainersOnContainerExits) it drops the field, and the pod
// would just fail.
func (p restartPod) expectRule(t *testing.T, container, action string) {
	t.Helper()
	for _, r := range p.container(t, container).RestartPolicyRules {
		if r.Action == action {
			return
		}
	}
	t.Fatalf("the API server dropped container %s's restartPolicyRules (action %s): its feature gates ContainerRestartRules / RestartAllContainersOnContainerExits are off", container, action)
}

// logSummary logs each container's restart count, state and last state.
func (p restartPod) logSummary(t *testing.T, pod string) {
	t.Helper()
	for _, c := range append(p.Status.InitStatuses, p.Status.ContainerStatuses...) {
		line := "pod " + pod + " container " + c.Name + ": restartCount " + strconv.Itoa(c.RestartCount)
		if c.State.Terminated != nil {
			line += ", exit " + strconv.Itoa(c.State.Terminated.ExitCode) + " (" + c.State.Terminated.Reason + ") at " + c.State.Terminated.FinishedAt.Format(time.RFC3339)
		}
		if c.Last.Terminated != nil {
			line += "; last exit " + strconv.Itoa(c.Last.Terminated.ExitCode) + " (" + c.Last.Terminated.Reason + ") at " + c.Last.Terminated.FinishedAt.Format(time.RFC3339)
		}
		if c.StopSignal != "" {
			line += "; stopSignal " + c.StopSignal
		}
		t.Log(line)
	}
	for _, c := range p.Status.Conditions {
		t.Logf("pod %s condition %s=%s %s", pod, c.Type, c.Status, c.Reason)
	}
}

// expectLastExit checks that a container restarted count times and that its
// previous run exited code; it returns when that run finished.
func expectLastExit(t *testing.T, c restartCS, count, code int) time.Time {
	t.Helper()
	if c.RestartCount != count {
		t.Errorf("container %s: restartCount %d, want %d", c.Name, c.RestartCount, count)
	}
	if c.Last.Terminated == nil {
		t.Fatalf("container %s has no last state: it was not restarted (restartCount %d)", c.Name, c.RestartCount)
	}
	if c.Last.Terminated.ExitCode != code {
		t.Errorf("container %s: its previous run exited %d, want %d", c.Name, c.Last.Terminated.ExitCode, code)
	}
	return c.Last.Terminated.FinishedAt
}

// expectExit checks a terminated container's exit code.
func expectExit(t *testing.T, p nodePod, name string, code int) nodeTerm {
	t.Helper()
	term := terminated(t, p, name)
	if term.ExitCode != code {
		t.Errorf("container %s: exit %d (%s), want %d; termination message %q", name, term.ExitCode, term.Reason, code, strings.TrimSpace(term.Message))
	} else {
		t.Logf("container %s: exit %d (%s), termination message %q", name, code, term.Reason, strings.TrimSpace(term.Message))
	}
	return term
}

// expectLogged checks that a container's current log has want exactly times times.
func (n *nodeNS) expectLogged(t *testing.T, pod, container, want string, times int) {
	t.Helper()
	log := n.logs(pod, container)
	if got := strings.Count(log, want); got != times {
		t.Errorf("%s's log has %q %d times, want %d:\n%s", container, want, got, times, log)
	}
}

// waitFirstExit watches the graveyard (the test's hostPath) for container's
// tombstone to record a death with exit code, and returns when that child
// died. It stops early, failing the test, when the pod ends first.
// RestartAllContainers reports no exit code in the pod's status (every
// container's last state is 137, RestartingAllContainers), and the next
// attempt's Born overwrites the tombstone: the test polls it often.
func (n *nodeNS) waitFirstExit(t *testing.T, pod, container string, code int) time.Time {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var asked time.Time
	for {
		if ts, ok := readTombstone(n.graveyard, container); ok && ts.Died != nil && ts.ExitCode != nil && *ts.ExitCode == code {
			t.Logf("tombstone %s: Died %s, ExitCode %d (first attempt)", container, ts.Died.Format(time.RFC3339Nano), code)
			return *ts.Died
		}
		if time.Since(asked) > time.Second {
			asked = time.Now()
			if p, _ := n.pod(t, pod); p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
				t.Errorf("pod %s ended (%s) before %s's tombstone recorded an exit %d", pod, p.Status.Phase, container, code)
				return time.Time{}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's tombstone did not record an exit %d within 120s", container, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// examples/restart-rule-job.yaml: main exits 42 after 3 s, and its restart
// rule makes the kubelet restart it in place; the second run works 8 s and
// exits 0. The shipper (death dep on main, API access to read main's rules)
// must not be stopped by the exit 42: its container is never restarted, its
// child lives through main's second run and is terminated right after
// main's final exit; the Job is Complete.
func TestNodeRestartRuleJob(t *testing.T) {
	b := needRestartNode(t)
	n := runExample(t, b, "restart-rule-job.yaml", nil)
	pod := n.jobPod(t, "retry")
	n.restartPod(t, pod).expectRule(t, "main", "Restart")
	cond, j, p := n.waitJobDone(t, "retry")
	rp := n.restartPod(t, pod)
	rp.logSummary(t, pod)

	expectJobSucceeded(t, cond, j, p)
	firstExit := expectLastExit(t, rp.status(t, "main"), 1, 42)
	main := expectExit(t, p, "main", 0)
	if c := rp.status(t, "shipper"); c.RestartCount != 0 {
		t.Errorf("shipper: restartCount %d, want 0", c.RestartCount)
	}
	shipper := expectExit(t, p, "shipper", 0)
	mainTS := n.expectTombstone(t, "main", 0)         // main's second run
	shipperTS := n.expectTombstone(t, "shipper", 143) // terminated by kubexit on main's final death

	// The shipper's child was born before main's first exit and died after
	// main's second run (8 s), right after main's final exit. Container
	// times have 1 s resolution, tombstones ns.
	if shipperTS.Born != nil && shipperTS.Died != nil && mainTS.Died != nil {
		within(t, "shipper's child born -> main's first exit (42)", *shipperTS.Born, firstExit, 0, 60*time.Second)
		within(t, "main's first exit (42) -> shipper's child died (outlives main's 8 s second run)", firstExit, *shipperTS.Died, 5*time.Second, 120*time.Second)
		within(t, "main's child died (final) -> shipper's child died (tombstones)", *mainTS.Died, *shipperTS.Died, 0, 2*time.Second)
	}
	within(t, "main finished -> shipper finished (containers)", main.FinishedAt, shipper.FinishedAt, 0, 5*time.Second)
	n.expectLogged(t, pod, "shipper", "shipper: started", 1)
	n.expectLogged(t, pod, "main", "main: done", 1)
}

// examples/restart-all-job.yaml: main's exit 42 makes the kubelet restart
// every container of the pod in place (RestartAllContainers): init
// container, sidecar (listed first) and main run again, the graveyard keeps
// main's first Died. The init container's `kubexit --install` opens a new
// generation, so in the second attempt the sidecar's kubexit starts its
// child and keeps it until the new main ends; the Job is Complete.
func TestNodeRestartAllJob(t *testing.T) {
	n, pod, firstDied, p := runRestartAll(t, "restart-all-job.yaml", "restart-all", "install-kubexit", "sidecar", "main")
	main := expectExit(t, p, "main", 0)
	sidecar := expectExit(t, p, "sidecar", 0)
	mainTS := n.expectTombstone(t, "main", 0)
	sidecarTS := n.expectTombstone(t, "sidecar", 143)

	// The second attempt's sidecar child was born after main's first exit,
	// lived through main's 8 s second run and died right after it.
	if sidecarTS.Born != nil && sidecarTS.Died != nil && mainTS.Born != nil && mainTS.Died != nil {
		if !firstDied.IsZero() {
			within(t, "main's first child died (42) -> sidecar's child born (second attempt)", firstDied, *sidecarTS.Born, 0, 90*time.Second)
		}
		within(t, "sidecar's child born -> died (through main's 8 s second run)", *sidecarTS.Born, *sidecarTS.Died, 5*time.Second, 120*time.Second)
		within(t, "main's child died -> sidecar's child died (tombstones)", *mainTS.Died, *sidecarTS.Died, 0, 2*time.Second)
	}
	within(t, "main finished -> sidecar finished (containers)", main.FinishedAt, sidecar.FinishedAt, 0, 5*time.Second)
	n.expectLogged(t, pod, "sidecar", "sidecar: started", 1)
	n.expectLogged(t, pod, "main", "main: second attempt", 1)
	n.expectLogged(t, pod, "main", "main: done", 1)
}

// examples/stop-signal-pod.yaml: the server stops gracefully on QUIT (its
// lifecycle.stopSignal) and at once on TERM. With KUBEXIT_STOP_SIGNAL=QUIT
// (variable), or with the variable unset and the pod's spec read through
// the API (spec), its kubexit sends it QUIT when its death dep app exits:
// the child says so and exits 0, right after the app; the pod Succeeds.
func TestNodeStopSignal(t *testing.T) {
	b := needRestartNode(t)
	withAndWithout(t, "variable", "spec", func(t *testing.T, variable bool) {
		n := runExample(t, b, "stop-signal-pod.yaml", func(objs []obj) {
			if !variable {
				setEnv(t, objs, "server", "KUBEXIT_STOP_SIGNAL", "")
			}
		})
		if c := n.restartPod(t, "quit").container(t, "server"); c.Lifecycle == nil || c.Lifecycle.StopSignal != "SIGQUIT" {
			t.Fatalf("the API server dropped the server's lifecycle.stopSignal: its ContainerStopSignals feature gate is off (hack/e2e-node turns it on for 1.36+)")
		}
		p := n.waitPodDone(t, "quit")
		n.restartPod(t, "quit").logSummary(t, "quit")
		if p.Status.Phase != "Succeeded" {
			t.Errorf("pod phase %s, want Succeeded", p.Status.Phase)
		}
		app := expectExit(t, p, "app", 0)
		server := expectExit(t, p, "server", 0)
		appTS := n.expectTombstone(t, "app", 0)
		serverTS := n.expectTombstone(t, "server", 0) // the child's own status: 0 on QUIT, 143 on TERM
		if appTS.Died != nil && serverTS.Died != nil {
			within(t, "app's child died -> server's child died (tombstones)", *appTS.Died, *serverTS.Died, 0, 2*time.Second)
		}
		within(t, "app finished -> server finished (containers)", app.FinishedAt, server.FinishedAt, 0, 5*time.Second)
		n.expectLogged(t, "quit", "server", "server: graceful stop on QUIT", 1)
		n.expectLogged(t, "quit", "server", "server: TERM", 0)
	})
}

// examples/restart-all-api-job.yaml: RestartAllContainers with no
// generation in the graveyard (the init container only copies kubexit), but
// with API access: in the second attempt the reporter finds the sidecar
// lost and the sidecar finds main's Died 42, both of the earlier run; both
// start their children (main's death matches its rule; a dep lost at
// start-up in a pod with such a rule is awaited) and stop after the new
// main; the Job is Complete.
func TestNodeRestartAllJobAPI(t *testing.T) {
	n, pod, _, p := runRestartAll(t, "restart-all-api-job.yaml", "restart-all-api", "copy-kubexit", "reporter", "sidecar", "main")
	main := expectExit(t, p, "main", 0)
	sidecar := expectExit(t, p, "sidecar", 0)
	reporter := expectExit(t, p, "reporter", 0)
	mainTS := n.expectTombstone(t, "main", 0)
	sidecarTS := n.expectTombstone(t, "sidecar", 143)
	reporterTS := n.expectTombstone(t, "reporter", 143)
	if mainTS.Died != nil && sidecarTS.Born != nil && sidecarTS.Died != nil && reporterTS.Born != nil && reporterTS.Died != nil {
		within(t, "sidecar's child born -> died (through main's 8 s second run)", *sidecarTS.Born, *sidecarTS.Died, 5*time.Second, 120*time.Second)
		within(t, "reporter's child born -> died (through main's 8 s second run)", *reporterTS.Born, *reporterTS.Died, 5*time.Second, 120*time.Second)
		within(t, "main's child died -> sidecar's child died (tombstones)", *mainTS.Died, *sidecarTS.Died, 0, 2*time.Second)
		within(t, "sidecar's child died -> reporter's child died (tombstones)", *sidecarTS.Died, *reporterTS.Died, 0, 2*time.Second)
	}
	within(t, "main finished -> sidecar finished (containers)", main.FinishedAt, sidecar.FinishedAt, 0, 5*time.Second)
	within(t, "sidecar finished -> reporter finished (containers)", sidecar.FinishedAt, reporter.FinishedAt, 0, 5*time.Second)
	n.expectLogged(t, pod, "reporter", "reporter: started", 1)
	n.expectLogged(t, pod, "sidecar", "sidecar: started", 1)
	n.expectLogged(t, pod, "main", "main: done", 1)
	// How the second attempt's kubexits judged the earlier run's deaths.
	n.expectLogged(t, pod, "sidecar", "restart rule RestartAllContainers on exit code 42 (the pod's spec)", 1)
}

// runRestartAll runs a RestartAllContainers example (file, Job job) to its
// end: main's rule is in the API, main's first run records exit 42 (when,
// it returns), the Job is Complete, the first container (the init one)
// exits 0, and every container is run again once. The pod's status gives
// each last state as 137, RestartingAllContainers (main's too: its 42 is in
// its tombstone only).
func runRestartAll(t *testing.T, file, job string, containers ...string) (*nodeNS, string, time.Time, nodePod) {
	t.Helper()
	n := runExample(t, needRestartNode(t), file, nil)
	pod := n.jobPod(t, job)
	n.restartPod(t, pod).expectRule(t, "main", "RestartAllContainers")
	firstDied := n.waitFirstExit(t, pod, "main", 42)
	cond, j, p := n.waitJobDone(t, job)
	rp := n.restartPod(t, pod)
	rp.logSummary(t, pod)
	if init := terminated(t, p, containers[0]); init.ExitCode != 0 {
		t.Fatalf("init container %s exited %d (%s), message %q; log:\n%s", containers[0], init.ExitCode, init.Reason, strings.TrimSpace(init.Message), n.logs(pod, containers[0]))
	}
	expectJobSucceeded(t, cond, j, p)
	for _, name := range containers {
		if c := rp.status(t, name); c.RestartCount != 1 {
			t.Errorf("%s: restartCount %d, want 1 (run again by RestartAllContainers)", name, c.RestartCount)
		}
	}
	return n, pod, firstDied, p
}
