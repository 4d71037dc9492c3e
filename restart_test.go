package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// specJSON is a pod spec as the API server sends it (the fields kubexit
// reads, among others it ignores).
const specJSON = `{
  "restartPolicy": "Never",
  "initContainers": [
    {"name": "install", "image": "kubexit:busybox"},
    {"name": "proxy", "restartPolicy": "Always"}
  ],
  "containers": [
    {"name": "main", "restartPolicy": "Never",
     "restartPolicyRules": [
       {"action": "Restart", "exitCodes": {"operator": "In", "values": [42, 43]}},
       {"action": "RestartAllContainers", "exitCodes": {"operator": "In", "values": [7]}}
     ]},
    {"name": "retry", "restartPolicy": "OnFailure",
     "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "NotIn", "values": [0, 3]}}]},
    {"name": "server", "lifecycle": {"stopSignal": "SIGQUIT", "preStop": {"exec": {"command": ["true"]}}}},
    {"name": "rulesOnly",
     "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]}
  ]
}`

func readSpec(t *testing.T, js string) *podFacts {
	t.Helper()
	var spec podSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		t.Fatal(err)
	}
	f := &podFacts{}
	f.read(spec)
	return f
}

// The kubelet's decision (ContainerShouldRestart): with a container
// restartPolicy, the first matching rule, then that policy; without one,
// rules are not used and the pod's policy decides.
func TestRestartPlanAsTheKubeletDecides(t *testing.T) {
	t.Parallel()
	f := readSpec(t, specJSON)
	for _, tc := range []struct {
		container string
		code      int
		want      bool
	}{
		{"main", 42, true}, {"main", 43, true}, {"main", 7, true}, // Restart, RestartAllContainers
		{"main", 0, false}, {"main", 1, false}, {"main", 137, false}, // Never
		{"retry", 3, true}, // NotIn [0 3] does not match 3; OnFailure restarts 3
		{"retry", 0, false},
		{"retry", 1, true},
		{"server", 0, false}, {"server", 143, false}, // the pod's Never
		{"rulesOnly", 42, false}, // no container restartPolicy: rules unused
		{"proxy", 0, true},       // a native sidecar: Always
	} {
		p, ok := f.plans[tc.container]
		if !ok {
			t.Fatalf("no plan for %s", tc.container)
		}
		if got, why := p.restarts(tc.code); got != tc.want {
			t.Errorf("%s exit %d: restarts %v (%s), want %v", tc.container, tc.code, got, why, tc.want)
		}
	}
	if !f.restartsAll || f.stopSignals["server"] != "SIGQUIT" || len(f.stopSignals) != 1 {
		t.Errorf("restartsAll %v, stop signals %v; want true, server SIGQUIT", f.restartsAll, f.stopSignals)
	}
	// The pod's Always (and the default, Always) is not counted: there a
	// death dep's death stops the child, as in the original.
	for _, policy := range []string{"", "Always"} {
		for _, code := range []int{0, 1} {
			if got, _ := (restartPlan{PodPolicy: policy}).restarts(code); got {
				t.Errorf("pod policy %q, exit %d: restarts", policy, code)
			}
		}
	}
	onFailure := restartPlan{PodPolicy: "OnFailure"}
	if a, _ := onFailure.restarts(0); a {
		t.Error("pod OnFailure restarts exit 0")
	}
	if b, _ := onFailure.restarts(2); !b {
		t.Error("pod OnFailure does not restart exit 2")
	}
	// The first matching rule decides: an action kubexit does not know
	// there leaves it to the container's policy, not to a later rule.
	firstDecides := readSpec(t, `{"containers":[{"name":"x","restartPolicy":"Never","restartPolicyRules":[{"action":"Pause","exitCodes":{"operator":"In","values":[42]}},{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]}]}`)
	if got, _ := firstDecides.plans["x"].restarts(42); got {
		t.Error("a later rule was applied after a first match with an unknown action")
	}
	unknownOp := readSpec(t, `{"containers":[{"name":"x","restartPolicy":"Never","restartPolicyRules":[{"action":"Restart","exitCodes":{"operator":"Above","values":[1]}}]}]}`)
	if got, _ := unknownOp.plans["x"].restarts(42); got {
		t.Error("a rule with an operator kubexit does not know was applied")
	}
}

func TestParseRestartCodes(t *testing.T) {
	t.Parallel()
	env := func(codes string) map[string]string {
		return map[string]string{"KUBEXIT_NAME": "sidecar", "KUBEXIT_DEATH_DEPS": "main,db", "KUBEXIT_RESTART_CODES": codes}
	}
	cfg, err := parseConfig(envFunc(env(" main: 42 ,43 ; db:1;")))
	if err != nil {
		t.Fatal(err)
	}
	for name, codes := range map[string][]int{"main": {42, 43}, "db": {1}} {
		p := cfg.RestartCodes[name]
		for _, c := range codes {
			if ok, why := p.restarts(c); !ok || !strings.Contains(why, "KUBEXIT_RESTART_CODES") {
				t.Errorf("%s exit %d: restarts %v (%s)", name, c, ok, why)
			}
		}
		if ok, _ := p.restarts(0); ok {
			t.Errorf("%s exit 0 restarts", name)
		}
	}
	for codes, want := range map[string]string{
		"main":            `KUBEXIT_RESTART_CODES="main": "main": want NAME:CODE,CODE...`,
		"main:256":        `main: exit code "256": want 0 to 255`,
		"main:-1,x":       `main: exit code "-1": want 0 to 255; main: exit code "x"`,
		"Main:1":          `"Main": not a container name`,
		"main:1;main:2":   `main is named twice`,
		"other:1":         `"other" is not in KUBEXIT_DEATH_DEPS`,
		";":               `no entry`,
		"main:" + "1,,2":  `main: exit code "": want 0 to 255`,
		"main:1;db:x;q:2": `db: exit code "x"`,
	} {
		_, err := parseConfig(envFunc(env(codes)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("KUBEXIT_RESTART_CODES=%q: error %v; want one saying %s", codes, err, want)
		}
	}
	_, err = parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_RESTART_CODES": "main:1"}))
	if err == nil || !strings.Contains(err.Error(), "needs KUBEXIT_DEATH_DEPS") {
		t.Errorf("codes without death deps: %v", err)
	}
}

func TestParseStopSignal(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{"QUIT": "SIGQUIT", "sigint": "SIGINT", "SIGTERM": "SIGTERM", "usr1": "SIGUSR1", "KILL": "SIGKILL"} {
		cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_STOP_SIGNAL": v}))
		if err != nil || signalName(cfg.StopSignal) != want || !cfg.StopSignalSet {
			t.Errorf("KUBEXIT_STOP_SIGNAL=%s: %v, %v (set %v); want %s", v, signalName(cfg.StopSignal), err, cfg.StopSignalSet, want)
		}
	}
	for v, want := range map[string]string{"15": "not a signal's name", "NOPE": "not a signal's name", "STOP": "SIGSTOP does not end a process", "cont": "SIGCONT does not end", "WINCH": "does not end"} {
		_, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_STOP_SIGNAL": v}))
		if err == nil || !strings.Contains(err.Error(), "KUBEXIT_STOP_SIGNAL") || !strings.Contains(err.Error(), want) {
			t.Errorf("KUBEXIT_STOP_SIGNAL=%s: error %v; want one saying %s", v, err, want)
		}
	}
}

// restartWatcher is a watcher of main that knows main's container
// restarts on exit code 42.
func restartWatcher(dir string, facts *podFacts) (*deathWatcher, *syncBuffer) {
	w, logs := testWatcher(dir, "main")
	w.restarts = &restartKnowledge{pod: facts}
	return w, logs
}

func readyFacts(spec string) *podFacts {
	var s podSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		panic(err)
	}
	f := noPodFacts(nil)
	f.read(s)
	return f
}

const mainRestartsOn42 = `{"restartPolicy":"Never","containers":[{"name":"main","restartPolicy":"Never","restartPolicyRules":[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]}]}`

// A death its container restarts on does not count; the next Born is
// awaited, and the death after it (exit 0) counts at once.
func TestPollRestartingDeathDoesNotCount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := restartWatcher(dir, readyFacts(mainRestartsOn42))
	writeFile(t, dir, "main", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 42", 1))
	expectPoll(t, w, false, "main died 42, a code its container restarts on")
	expectPoll(t, w, false, "the same death, polled again")
	if n := strings.Count(logs.String(), "the kubelet restarts its container (restart rule Restart on exit code 42 (the pod's spec))"); n != 1 {
		t.Errorf("the restarting death was logged %d times, want once:\n%s", n, logs)
	}
	writeFile(t, dir, "main", "Born: \"2026-11-25T23:22:00Z\"\nDied: \"2026-11-25T23:21:14Z\"\nExitCode: 42\n")
	expectPoll(t, w, false, "main born again")
	if !strings.Contains(logs.String(), "death dep is alive again") {
		t.Errorf("the rebirth was not logged:\n%s", logs)
	}
	writeFile(t, dir, "main", "Born: \"2026-11-25T23:22:00Z\"\nDied: \"2026-11-25T23:22:08Z\"\nExitCode: 0\n")
	expectPoll(t, w, true, "main's final death, exit 0")
}

// A death awaited as a restart counts once restartWait has passed without
// a new Born.
func TestPollRestartWaitBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := restartWatcher(dir, readyFacts(mainRestartsOn42))
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	w.restartWait = time.Minute
	writeFile(t, dir, "main", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 42", 1))
	expectPoll(t, w, false, "main died 42")
	now = now.Add(59 * time.Second)
	expectPoll(t, w, false, "59 s later")
	now = now.Add(time.Second)
	expectPoll(t, w, true, "a minute later, no new Born")
	if !strings.Contains(logs.String(), "death dep was not born again within the wait for its restart; its death counts") {
		t.Errorf("the end of the wait was not logged:\n%s", logs)
	}
}

// While the pod's spec is being read, a death is not judged; once read, a
// code no rule restarts on counts.
func TestPollWaitsForThePodSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &podFacts{ready: make(chan struct{})}
	w, _ := restartWatcher(dir, f)
	writeFile(t, dir, "main", diedYAML)
	expectPoll(t, w, false, "a death while the spec is read")
	if !w.pendingSpec {
		t.Error("pendingSpec not set")
	}
	var s podSpec
	json.Unmarshal([]byte(mainRestartsOn42), &s)
	f.read(s)
	close(f.ready)
	expectPoll(t, w, true, "exit 0, which no rule restarts on, once the spec is read")
	if w.pendingSpec {
		t.Error("pendingSpec still set")
	}
	// No API access: the death counts as it comes.
	w2, _ := restartWatcher(dir, noPodFacts(fmt.Errorf("no token")))
	writeFile(t, dir, "main", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 42", 1))
	expectPoll(t, w2, true, "exit 42 with no spec read")
	// KUBEXIT_RESTART_CODES, with no API access.
	cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "s", "KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_RESTART_CODES": "main:42"}))
	if err != nil {
		t.Fatal(err)
	}
	w3, _ := testWatcher(dir, "main")
	w3.restarts = &restartKnowledge{codes: cfg.RestartCodes, pod: noPodFacts(fmt.Errorf("no token"))}
	expectPoll(t, w3, false, "exit 42 with KUBEXIT_RESTART_CODES=main:42")
}

// A lost death is judged as exit code 137, what its container exits with.
func TestPollLostDeathRestarts(t *testing.T) {
	t.Parallel()
	if ok, fsName := lockTrusted(t.TempDir()); !ok {
		t.Skipf("locks are not used on %s (the temporary directory's filesystem)", fsName)
	}
	dir := t.TempDir()
	born := time.Now().Add(-time.Minute)
	fd, err := holdLifeLock(dir, "main", born)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTombstone(dir, "main", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // the kubexit is gone without a word
	w, _ := restartWatcher(dir, readyFacts(`{"containers":[{"name":"main","restartPolicy":"Never","restartPolicyRules":[{"action":"Restart","exitCodes":{"operator":"In","values":[137]}}]}]}`))
	expectPoll(t, w, false, "a lost death, 137 restarting")
	w2, _ := restartWatcher(dir, readyFacts(mainRestartsOn42))
	if d := expectPoll(t, w2, true, "a lost death, 137 not restarting"); !d.Lost {
		t.Errorf("death %v, want lost", d)
	}
}

// The pod's facts are read through the API as client-go's types encode
// them; a fetch cut short ends with an error.
func TestFetchPodFacts(t *testing.T) {
	t.Parallel()
	never, always := corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyAlways
	quit := corev1.SIGQUIT
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "ns"}, Spec: corev1.PodSpec{
		RestartPolicy:  corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}},
		Containers: []corev1.Container{
			{Name: "main", RestartPolicy: &never, RestartPolicyRules: []corev1.ContainerRestartRule{
				{Action: corev1.ContainerRestartRuleActionRestartAllContainers, ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}},
			{Name: "server", Lifecycle: &corev1.Lifecycle{StopSignal: &quit}},
		}}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "main", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "RestartingAllContainers"}}},
		{Name: "server", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}},
	}}}
	api := newFakeAPI(t)
	api.script(statusAnswer(503, metav1.StatusReasonServiceUnavailable, "starting"), podAnswer(pod))
	client, err := newPodClient(fakeAPIEnv(t, api, "token"), "pod", "ns", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	f := fetchPodFacts(context.Background(), client, discardLogger())
	<-f.ready
	if f.err != nil {
		t.Fatal(f.err)
	}
	if r, _ := f.plans["main"].restarts(42); !r || !f.restartsAll || f.stopSignals["server"] != "SIGQUIT" {
		t.Errorf("facts %+v: want main restarting on 42, restartsAll, server SIGQUIT", f)
	}
	if r, _ := f.plans["proxy"].restarts(0); !r {
		t.Error("the native sidecar does not restart")
	}
	if !f.restartedAll["main"] || f.restartedAll["server"] {
		t.Errorf("restartedAll %v, want main only", f.restartedAll)
	}
	if api.count() != 2 {
		t.Errorf("%d GETs, want 2 (the 503 retried)", api.count())
	}

	api.script(statusAnswer(403, metav1.StatusReasonForbidden, `pods "pod" is forbidden`))
	f = fetchPodFacts(context.Background(), client, discardLogger())
	<-f.ready
	if f.err == nil || !strings.Contains(f.err.Error(), "may not get pod pod") {
		t.Errorf("forbidden: err %v", f.err)
	}
	api.script(statusAnswer(503, metav1.StatusReasonServiceUnavailable, "starting"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = fetchPodFacts(ctx, client, discardLogger())
	select {
	case <-f.ready:
	case <-time.After(time.Minute):
		t.Fatal("a cancelled fetch did not end")
	}
	if f.err == nil {
		t.Error("no error from a cancelled fetch")
	}
}

// The signal a death dep's death sends: KUBEXIT_STOP_SIGNAL when set,
// else the container's lifecycle.stopSignal once the spec is read, else TERM.
func TestStopSignalChoice(t *testing.T) {
	t.Parallel()
	spec := `{"containers":[{"name":"server","lifecycle":{"stopSignal":"SIGQUIT"}},{"name":"plain"}]}`
	for _, tc := range []struct {
		what  string
		env   map[string]string
		facts *podFacts
		want  string
	}{
		{"no pod read", nil, nil, "SIGTERM"},
		{"the spec's", nil, readyFacts(spec), "SIGQUIT"},
		{"the spec not read yet", nil, &podFacts{ready: make(chan struct{})}, "SIGTERM"},
		{"the variable over the spec", map[string]string{"KUBEXIT_STOP_SIGNAL": "INT"}, readyFacts(spec), "SIGINT"},
		{"the variable", map[string]string{"KUBEXIT_STOP_SIGNAL": "usr2"}, nil, "SIGUSR2"},
		{"another container's", map[string]string{"KUBEXIT_NAME": "plain"}, readyFacts(spec), "SIGTERM"},
	} {
		env := map[string]string{"KUBEXIT_NAME": "server"}
		for k, v := range tc.env {
			env[k] = v
		}
		cfg, err := parseConfig(envFunc(env))
		if err != nil {
			t.Fatal(err)
		}
		s := &supervisor{cfg: cfg, facts: tc.facts}
		if got := signalName(s.stopSignal()); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.what, got, tc.want)
		}
	}
}

// --check reads the pod with death deps and KUBEXIT_POD_NAME: a stop
// signal other than the container's, and a RestartAllContainers rule with
// no generation in the graveyard, are warnings; a pod it cannot read is a
// warning too (death deps work without it), not a failure.
func TestCheckRestarts(t *testing.T) {
	t.Parallel()
	quit, never := corev1.SIGQUIT, corev1.ContainerRestartPolicyNever
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "server", Lifecycle: &corev1.Lifecycle{StopSignal: &quit}},
		{Name: "main", RestartPolicy: &never, RestartPolicyRules: []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestartAllContainers,
			ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}},
	}}}
	api := newFakeAPI(t)
	api.script(podAnswer(pod))
	env := fakeAPIEnv(t, api, "token")
	graveyard := t.TempDir()
	cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "server", "KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_POD_NAME": "pod",
		"KUBEXIT_NAMESPACE": "ns", "KUBEXIT_STOP_SIGNAL": "TERM", "KUBEXIT_GRAVEYARD": graveyard}))
	if err != nil {
		t.Fatal(err)
	}
	text := func(checks []check) string {
		var b strings.Builder
		printChecks(&b, checks)
		return b.String()
	}
	out := text(preflight(cfg, env))
	for _, want := range []string{
		"ok: kubeconfig ", "may get pod ns/pod",
		"WARN: KUBEXIT_STOP_SIGNAL is SIGTERM, but container server's lifecycle.stopSignal is SIGQUIT",
		"WARN: the pod restarts all its containers on some exits (a RestartAllContainers rule), but the graveyard " + graveyard + " has no generation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--check does not say %q:\n%s", want, out)
		}
	}
	openGeneration(graveyard, time.Now())
	cfg.StopSignal = unix.SIGQUIT
	if out := text(preflight(cfg, env)); strings.Contains(out, "WARN") {
		t.Errorf("warnings with a generation and the container's stop signal:\n%s", out)
	}
	api.script(statusAnswer(403, metav1.StatusReasonForbidden, "forbidden"))
	out = text(preflight(cfg, env))
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "WARN: the pod's service account may not get pod pod") || !strings.Contains(out, "restart rules and the container's stop signal are not read") {
		t.Errorf("a pod that cannot be read, with death deps only:\n%s", out)
	}
}

// Where the graveyard has no generation, the pod's status (read at
// start-up) tells a death of the run before a restart of all containers: the
// dep's container was killed by it (lastState RestartingAllContainers) and
// runs, or waits to, since. Such a death (a Died written as the restart
// stopped it, or a lost Born) from before the watcher started is awaited;
// one the watcher saw alive, one whose container has ended since, and any
// judged under a generation count as ever.
func TestPollDeathBeforeRestartAll(t *testing.T) {
	t.Parallel()
	if ok, fsName := lockTrusted(t.TempDir()); !ok {
		t.Skipf("locks are not used on %s (the temporary directory's filesystem)", fsName)
	}
	facts := func(state string) *podFacts {
		f := readyFacts(`{"restartPolicy":"Never","containers":[{"name":"main"},{"name":"proxy"}]}`)
		var status podStatus
		if err := json.Unmarshal([]byte(`{"containerStatuses":[{"name":"proxy","restartCount":1,"state":`+state+`,
			"lastState":{"terminated":{"exitCode":137,"reason":"RestartingAllContainers"}}}]}`), &status); err != nil {
			t.Fatal(err)
		}
		f.readStatus(status)
		return f
	}
	running, ended := `{"running":{}}`, `{"terminated":{"exitCode":0,"reason":"Completed"}}`
	lost := func(t *testing.T, dir string, born time.Time) {
		fd, err := holdLifeLock(dir, "proxy", born)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeTombstone(dir, "proxy", tombstone{Born: &born}); err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	watcher := func(dir string, f *podFacts) (*deathWatcher, *syncBuffer) {
		w, logs := testWatcher(dir, "proxy")
		w.restarts = &restartKnowledge{pod: f}
		return w, logs
	}
	const why = "the pod's status shows its container killed by a restart of all containers (RestartingAllContainers) and restarted"

	dir := t.TempDir()
	lost(t, dir, time.Now().Add(-time.Minute))
	w, logs := watcher(dir, facts(running))
	expectPoll(t, w, false, "proxy lost, killed by a restart of all containers")
	if !strings.Contains(logs.String(), why) {
		t.Errorf("not logged:\n%s", logs)
	}
	w, _ = watcher(dir, facts(ended))
	if d := expectPoll(t, w, true, "the same, its container ended since"); !d.Lost {
		t.Errorf("death %v, want lost", d)
	}
	w, _ = watcher(dir, readyFacts(mainRestartsOn42))
	expectPoll(t, w, true, "the same, a status without such a restart")

	// A Died that the restart's stop let its kubexit write.
	died := t.TempDir()
	writeFile(t, died, "proxy", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 143", 1))
	w, _ = watcher(died, facts(running))
	expectPoll(t, w, false, "proxy died (143) as the restart stopped it")

	// A generation that began before proxy's Born tells: proxy died in this run.
	gen := t.TempDir()
	openGeneration(gen, time.Now().Add(-2*time.Minute))
	lost(t, gen, time.Now().Add(-time.Minute))
	w, _ = watcher(gen, facts(running))
	expectPoll(t, w, true, "proxy lost in this generation")

	// Seen alive by this watcher, then lost: a death of this run.
	alive := t.TempDir()
	born := time.Now().Add(-time.Minute)
	fd, err := holdLifeLock(alive, "proxy", born)
	if err != nil {
		t.Fatal(err)
	}
	writeTombstone(alive, "proxy", tombstone{Born: &born})
	w, _ = watcher(alive, facts(running))
	expectPoll(t, w, false, "proxy alive")
	unix.Close(fd)
	expectPoll(t, w, true, "proxy lost after it was seen alive")
}

// --status says restarting for a death the kubelet undoes: by the codes,
// by the pod's rules, and for a container running again since a restart of
// all containers; never for a life, nor with nothing known.
func TestStatusRestarting(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "s", "KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_RESTART_CODES": "main:42,137"}))
	if err != nil {
		t.Fatal(err)
	}
	f := readyFacts(`{"containers":[{"name":"proxy"}]}`)
	var status podStatus
	json.Unmarshal([]byte(`{"containerStatuses":[{"name":"proxy","state":{"running":{}},"lastState":{"terminated":{"reason":"RestartingAllContainers"}}}]}`), &status)
	f.readStatus(status)
	k := &restartKnowledge{codes: cfg.RestartCodes, pod: f}
	c42, c0, c143 := 42, 0, 143
	for _, tc := range []struct {
		name, state string
		t           tombstone
		want        bool
	}{
		{"main", stateDied, tombstone{ExitCode: &c42}, true},
		{"main", stateDied, tombstone{ExitCode: &c0}, false},
		{"main", stateLost, tombstone{}, true}, // 137
		{"main", stateBorn, tombstone{}, false},
		{"proxy", stateDied, tombstone{ExitCode: &c143}, true},
		{"proxy", stateBorn, tombstone{}, false},
		{"other", stateDied, tombstone{ExitCode: &c42}, false},
	} {
		if got := restartsOn(k, tc.name, tc.state, tc.t); got != tc.want {
			t.Errorf("%s %s %v: restarting %v, want %v", tc.name, tc.state, tc.t, got, tc.want)
		}
	}
	if restartsOn(nil, "main", stateDied, tombstone{ExitCode: &c42}) {
		t.Error("restarting with nothing known")
	}
}

// With KUBEXIT_DEATH_QUORUM=all, a restarting death is no death: the
// quorum waits for it to end for good.
func TestPollQuorumRestartingDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := quorumWatcher(dir, 0, "main", "db")
	w.restarts = &restartKnowledge{pod: readyFacts(mainRestartsOn42)}
	writeFile(t, dir, "db", diedYAML)
	writeFile(t, dir, "main", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 42", 1))
	expectPollSet(t, w, false, "db dead, main restarting")
	writeFile(t, dir, "main", rebornDiedYAML)
	expectDeps(t, expectPollSet(t, w, true, "db dead, main dead for good"), "main", "db")
}
