package main

// Unit tests of the readiness poller's logic, in process, against an
// httptest API server. The proof against a real kube-apiserver is in
// k8s_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPod() *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "ns"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "setup"},
				{Name: "mesh", RestartPolicy: &always},
				{Name: "probed", RestartPolicy: &always, ReadinessProbe: &corev1.Probe{}},
			},
			Containers: []corev1.Container{{Name: "app"}, {Name: "db"}, {Name: "proxy"}},
		},
	}
}

// asPod is p as readiness sees it: p in the API's JSON, decoded into pod.
// Building test pods with k8s.io/api's types (a test-only dependency) checks
// pod's JSON field names against the real ones.
func asPod(t *testing.T, p *corev1.Pod) *pod {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out := &pod{}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func running(name string, ready bool, started *bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, Started: started,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func TestReadinessEvaluate(t *testing.T) {
	waitingCrash := corev1.ContainerStatus{Name: "proxy",
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}
	cases := []struct {
		name       string
		statuses   []corev1.ContainerStatus
		inits      []corev1.ContainerStatus
		dep        string
		ready      bool
		wantReason string
	}{
		{"ready container", []corev1.ContainerStatus{running("db", true, ptr(true))}, nil, "db", true, ""},
		{"running not ready", []corev1.ContainerStatus{running("db", false, ptr(true))}, nil, "db", false, "running, not ready"},
		{"startup probe pending", []corev1.ContainerStatus{running("db", false, ptr(false))}, nil, "db", false, "running, not started (startup probe not passed yet)"},
		{"no status", nil, nil, "db", false, "not found in pod status"},
		{"crash loop", []corev1.ContainerStatus{waitingCrash}, nil, "proxy", false, "waiting (CrashLoopBackOff, last exit code 2)"},
		{"image pull", []corev1.ContainerStatus{{Name: "db", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}, nil, "db", false, "waiting (ImagePullBackOff)"},
		{"terminated", []corev1.ContainerStatus{{Name: "db", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", ExitCode: 0}}}}, nil, "db", false, "terminated (Completed, exit code 0)"},
		{"empty state", []corev1.ContainerStatus{{Name: "db"}}, nil, "db", false, "not started"},
		{"sidecar without probe started", nil, []corev1.ContainerStatus{running("mesh", false, ptr(true))}, "mesh", true, ""},
		{"sidecar without probe not started", nil, []corev1.ContainerStatus{running("mesh", false, ptr(false))}, "mesh", false, "running, not started (startup probe not passed yet)"},
		{"sidecar ready", nil, []corev1.ContainerStatus{running("mesh", true, nil)}, "mesh", true, ""},
		{"sidecar status among containers does not count", []corev1.ContainerStatus{running("mesh", true, nil)}, nil, "mesh", false, "not found in pod status"},
		{"probed sidecar started, not ready", nil, []corev1.ContainerStatus{running("probed", false, ptr(true))}, "probed", false, "running, not ready"},
		{"probed sidecar ready", nil, []corev1.ContainerStatus{running("probed", true, ptr(true))}, "probed", true, ""},
		{"sidecar waiting", nil, []corev1.ContainerStatus{{Name: "mesh", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}, "mesh", false, "waiting (PodInitializing)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pod := testPod()
			pod.Status.ContainerStatuses = c.statuses
			pod.Status.InitContainerStatuses = c.inits
			got := evaluateDeps(asPod(t, pod), []string{c.dep})
			if len(got) != 1 || got[0].Name != c.dep || got[0].Ready != c.ready || got[0].Reason != c.wantReason {
				t.Errorf("evaluateDeps = %+v, want ready=%v reason %q", got, c.ready, c.wantReason)
			}
		})
	}
}

func TestReadinessCheckContainers(t *testing.T) {
	pod := asPod(t, testPod())
	for _, c := range []struct {
		name, self string
		deps       []string
		want       []string // substrings; none means no error
		warning    string   // a substring; "" means no warning
	}{
		{"containers and sidecars", "app", []string{"db", "mesh", "probed"}, nil, ""},
		{"kubexit in a sidecar", "mesh", []string{"db"}, nil, ""},
		{"unknown dep", "app", []string{"db", "nosuch"}, []string{"pod ns/pod: birth dep nosuch (KUBEXIT_BIRTH_DEPS) is not a container of the pod; the pod's containers: setup (init), mesh (sidecar), probed (sidecar), app, db, proxy"}, ""},
		// The original accepts such a name: only a warning, so that a pod
		// that works with it keeps working.
		{"unknown name", "nosuch", []string{"db"}, nil, "pod ns/pod: KUBEXIT_NAME nosuch is not a container of the pod (it should be this container's name); the pod's containers: setup (init), mesh (sidecar), probed (sidecar), app, db, proxy"},
		{"plain init dep", "app", []string{"setup"}, []string{"birth dep setup is an init container that runs to completion"}, ""},
		{"all at once", "nosuch", []string{"x", "setup"}, []string{"birth dep x (", "birth dep setup is"}, "KUBEXIT_NAME nosuch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			warning, err := checkPodContainers(pod, c.deps, c.self, "ns")
			if (warning != "") != (c.warning != "") || !strings.Contains(warning, c.warning) || strings.Contains(warning, "\n") {
				t.Errorf("warning %q, want one line with %q", warning, c.warning)
			}
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReadinessRetryDelay(t *testing.T) {
	for _, interval := range []time.Duration{10 * time.Millisecond, 200 * time.Millisecond, time.Second, 20 * time.Second} {
		limit := max(readinessBackoffCap, interval)
		prevHigh := time.Duration(0)
		for n := 1; n <= 40; n++ {
			low := retryDelay(interval, n, func() float64 { return 0 })
			high := retryDelay(interval, n, func() float64 { return 0.999999 })
			if low > high || high > limit || low < limit/2 && n > 40 {
				t.Fatalf("interval %v, failure %d: delay in [%v, %v], limit %v", interval, n, low, high, limit)
			}
			if n == 1 && (low != interval/2 || high > interval) {
				t.Errorf("interval %v: first retry in [%v, %v], want [interval/2, interval]", interval, low, high)
			}
			if high < prevHigh {
				t.Errorf("interval %v: delay shrank at failure %d: %v < %v", interval, n, high, prevHigh)
			}
			prevHigh = high
		}
		if got := retryDelay(interval, 40, func() float64 { return 0 }); got != limit/2 {
			t.Errorf("interval %v: capped low = %v, want %v", interval, got, limit/2)
		}
	}
}

func fakeJWT(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"sub":"`+sub+`"}`)) + ".sig"
}

func TestReadinessTokenIdentity(t *testing.T) {
	for _, c := range []struct{ token, account, user string }{
		{fakeJWT("system:serviceaccount:ns:runner"), "ns/runner", ""},
		{fakeJWT("alice"), "", "alice"},
		{"opaque-token", "", ""},
		{"", "", ""},
		{"a.!!!.c", "", ""},
	} {
		a, u := tokenIdentity(c.token)
		if a != c.account || u != c.user {
			t.Errorf("tokenIdentity(%q) = %q, %q; want %q, %q", c.token, a, u, c.account, c.user)
		}
	}
}

func TestReadinessNamespace(t *testing.T) {
	t.Parallel()
	env := apiEnv{getenv: envFunc(nil), saDir: t.TempDir()}
	file := filepath.Join(env.saDir, "namespace")

	if ns, err := podNamespace(env, "given"); ns != "given" || err != nil {
		t.Errorf("podNamespace(given) = %q, %v", ns, err)
	}
	_, err := podNamespace(env, "")
	wantErrSaying(t, "no namespace", err, "KUBEXIT_NAMESPACE", file)
	os.WriteFile(file, []byte("from-sa\n"), 0o644)
	if ns, err := podNamespace(env, ""); ns != "from-sa" || err != nil {
		t.Errorf("podNamespace from file = %q, %v", ns, err)
	}
}

func TestReadinessUserAgent(t *testing.T) {
	if ua := userAgent(); !strings.HasPrefix(ua, "kubexit/") {
		t.Errorf("userAgent() = %q", ua)
	}
}

// fakeAPI is an API server that answers GETs of one pod from a script.
type fakeAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	answers []func(w http.ResponseWriter) // one per request; the last repeats
	gets    int
	agents  []string
	paths   []string
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.gets++
		f.agents = append(f.agents, r.UserAgent())
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		i := min(f.gets, len(f.answers)) - 1
		answer := f.answers[i]
		f.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) script(answers ...func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers, f.gets = answers, 0
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

func podAnswer(pod *corev1.Pod) func(w http.ResponseWriter) {
	data, _ := json.Marshal(pod)
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}
}

func statusAnswer(code int, reason metav1.StatusReason, msg string) func(w http.ResponseWriter) {
	data, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write(data)
	}
}

// fakeAPIEnv is an API environment whose KUBECONFIG points at the fake
// server, with token.
func fakeAPIEnv(t testing.TB, f *fakeAPI, token string) apiEnv {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	user := "{}"
	if token != "" {
		user = fmt.Sprintf("{token: %q}", token)
	}
	os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: %s}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, f.srv.URL, user)), 0o600)
	return apiEnv{getenv: envFunc(map[string]string{"KUBECONFIG": kc}), saDir: t.TempDir()}
}

// birthWait runs the supervisor's birth wait for cfg in env.
func birthWait(ctx context.Context, env apiEnv, cfg config, log *slog.Logger) error {
	return (&supervisor{cfg: cfg, api: env, log: log}).birthWait(ctx)
}

func readinessConfig(deps ...string) config {
	return config{Name: "app", BirthDeps: deps, PodName: "pod", Namespace: "ns",
		ReadinessInterval: 10 * time.Millisecond, BirthTimeout: 20 * time.Second}
}

func captureLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// wantErrSaying fails the test (what says which case) unless err is an
// error whose message has each of parts in it.
func wantErrSaying(t testing.TB, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one saying %q", what, parts)
		return
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%s: error %q does not say %q", what, err, part)
		}
	}
}

func TestReadinessRetriesThenReady(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	env := fakeAPIEnv(t, f, "")
	notReady := testPod()
	notReady.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", false, ptr(true))}
	ready := testPod()
	ready.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", true, ptr(true))}
	unavailable := statusAnswer(503, metav1.StatusReasonServiceUnavailable, "etcd is down")
	f.script(unavailable, unavailable, unavailable,
		statusAnswer(500, metav1.StatusReasonInternalError, "boom"),
		statusAnswer(504, metav1.StatusReasonTimeout, "slow"),
		statusAnswer(429, metav1.StatusReasonTooManyRequests, "slow down"),
		podAnswer(notReady), podAnswer(notReady), podAnswer(ready))

	log, buf := captureLog()
	if err := birthWait(context.Background(), env, readinessConfig("db"), log); err != nil {
		t.Fatalf("waitForBirthDeps: %v\nlog:\n%s", err, buf)
	}
	if n := f.count(); n != 9 {
		t.Errorf("%d GETs, want 9", n)
	}
	f.mu.Lock()
	for i := range f.paths {
		if f.paths[i] != "GET /api/v1/namespaces/ns/pods/pod" || !strings.HasPrefix(f.agents[i], "kubexit/") {
			t.Errorf("request %d: %s, user agent %q", i, f.paths[i], f.agents[i])
		}
	}
	f.mu.Unlock()
	logs := buf.String()
	// Each distinct failure is logged once.
	if n := strings.Count(logs, "cannot read the pod; retrying"); n != 4 {
		t.Errorf("%d retry warnings, want 4 (503, 500, 504, 429):\n%s", n, logs)
	}
	for _, want := range []string{"etcd is down", "the pod is readable again", "db: running, not ready", "birth deps ready"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestReadinessFailFast(t *testing.T) {
	t.Parallel()
	pod := testPod()
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", true, nil)}
	cases := []struct {
		name   string
		token  string
		cfg    config
		answer func(w http.ResponseWriter)
		want   []string
	}{
		{"403 with service account token", fakeJWT("system:serviceaccount:ns:runner"), readinessConfig("db"),
			statusAnswer(403, metav1.StatusReasonForbidden, `pods "pod" is forbidden: User "system:serviceaccount:ns:runner" cannot get resource "pods"`),
			[]string{"service account ns/runner may not get pod pod in namespace ns (403 Forbidden)",
				"{apiGroups: [''], resources: [pods], verbs: [get], resourceNames: [pod]}",
				"RoleBinding of it to {kind: ServiceAccount, name: runner, namespace: ns}"}},
		{"403, identity from the server's message", "opaque", readinessConfig("db"),
			statusAnswer(403, metav1.StatusReasonForbidden, `pods "pod" is forbidden: User "system:serviceaccount:other:sa" cannot get resource "pods"`),
			[]string{"service account other/sa may not get pod pod"}},
		{"403, identity unknown", "", readinessConfig("db"),
			statusAnswer(403, metav1.StatusReasonForbidden, "forbidden"),
			[]string{"the pod's service account may not get pod pod in namespace ns"}},
		{"404", "", readinessConfig("db"),
			statusAnswer(404, metav1.StatusReasonNotFound, `pods "pod" not found`),
			[]string{"pod pod not found in namespace ns (404)", "KUBEXIT_POD_NAME"}},
		{"401", "", readinessConfig("db"),
			statusAnswer(401, metav1.StatusReasonUnauthorized, "Unauthorized"),
			[]string{"rejected the credentials", "401"}},
		{"unknown dep", "", readinessConfig("db", "cache"), podAnswer(pod),
			[]string{"birth dep cache (KUBEXIT_BIRTH_DEPS) is not a container of the pod", "the pod's containers: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeAPI(t)
			env := fakeAPIEnv(t, f, c.token)
			f.script(c.answer)
			log, buf := captureLog()
			err := birthWait(context.Background(), env, c.cfg, log)
			if err == nil {
				t.Fatalf("no error; log:\n%s", buf)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// A 401, 403 or 404 is checked once more (a restarting API
			// server may answer 403 for a moment); nothing else is retried.
			want := 1
			if c.answer == nil || !strings.HasPrefix(c.name, "unknown") {
				want = 2
			}
			if n := f.count(); n != want {
				t.Errorf("%d GETs, want %d", n, want)
			}
		})
	}
}

func TestReadinessTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	env := fakeAPIEnv(t, f, "")
	pod := testPod()
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		running("db", false, ptr(true)),
		{Name: "proxy", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
	}
	cfg := readinessConfig("proxy", "db", "mesh")
	cfg.BirthTimeout = 300 * time.Millisecond

	f.script(podAnswer(pod))
	err := birthWait(context.Background(), env, cfg, slog.New(slog.DiscardHandler))
	want := "birth deps not ready after 300ms: proxy: waiting (CrashLoopBackOff); db: running, not ready; mesh: not found in pod status"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	// Never read: the last API error says why.
	f.script(statusAnswer(503, metav1.StatusReasonServiceUnavailable, "etcd is down"))
	err = birthWait(context.Background(), env, cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "birth deps not ready after 300ms: proxy, db, mesh: pod ns/pod could not be read: ") || !strings.Contains(err.Error(), "etcd is down") {
		t.Errorf("err = %v", err)
	}

	// Read once, then failing: both.
	f.script(podAnswer(pod), statusAnswer(503, metav1.StatusReasonServiceUnavailable, "etcd is down"))
	err = birthWait(context.Background(), env, cfg, slog.New(slog.DiscardHandler))
	wantErrSaying(t, "read once, then failing", err, "db: running, not ready", "the last attempt failed")
}

func TestReadinessCancel(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	env := fakeAPIEnv(t, f, "")
	f.script(podAnswer(testPod()))
	cfg := readinessConfig("db")
	cfg.BirthTimeout = 0 // forever
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- birthWait(ctx, env, cfg, slog.New(slog.DiscardHandler)) }()
	waitFor(t, "a few GETs", func() bool { return f.count() >= 3 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitForBirthDeps did not return after cancel")
	}
}

// With the API server gone, kubexit retries with growing delays: the number
// of attempts in a second stays small.
func TestReadinessBackoffOnConnectionRefused(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	env := fakeAPIEnv(t, f, "")
	f.srv.Close() // connection refused from now on
	cfg := readinessConfig("db")
	cfg.BirthTimeout = 1500 * time.Millisecond
	log, buf := captureLog()
	err := birthWait(context.Background(), env, cfg, log)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want a timeout naming connection refused", err)
	}
	// 10ms doubling (with jitter in the upper half) over 1.5 s: at most ~10 attempts;
	// each distinct error logged once.
	if n := strings.Count(buf.String(), "cannot read the pod; retrying"); n != 1 {
		t.Errorf("%d retry warnings, want 1:\n%s", n, buf)
	}
}

func TestReadinessNoCredentials(t *testing.T) {
	t.Parallel()
	env := apiEnv{getenv: envFunc(map[string]string{"HOME": t.TempDir()}), saDir: t.TempDir()}
	err := birthWait(context.Background(), env, readinessConfig("db"), slog.New(slog.DiscardHandler))
	wantErrSaying(t, "no credentials", err, "no Kubernetes API credentials", "KUBECONFIG is not set")

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte("this: [is not a kubeconfig"), 0o600)
	env.getenv = envFunc(map[string]string{"KUBECONFIG": kc})
	err = birthWait(context.Background(), env, readinessConfig("db"), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "cannot use kubeconfig "+kc) || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v", err)
	}

	// A KUBECONFIG naming only missing files: client-go would say "try
	// setting KUBERNETES_MASTER"; the message names the files.
	missing := filepath.Join(t.TempDir(), "no-such-kubeconfig")
	env.getenv = envFunc(map[string]string{"KUBECONFIG": missing + ":" + missing + "-2"})
	err = birthWait(context.Background(), env, readinessConfig("db"), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), missing+": no such file; "+missing+"-2: no such file") || strings.Contains(err.Error(), "KUBERNETES_MASTER") {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkBirthWaitRequests measures the API cost of one waiting kubexit at
// the default KUBEXIT_READINESS_INTERVAL: GETs during a 10 s birth wait for a
// dep that never becomes ready, against an API server that answers (ok) and
// one that fails with 503 (backoff). Reported: requests in total and per second.
func BenchmarkBirthWaitRequests(b *testing.B) {
	pod := testPod()
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"ok", podAnswer(pod)},
		{"503", statusAnswer(503, metav1.StatusReasonServiceUnavailable, "unavailable")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFakeAPI(b)
			env := fakeAPIEnv(b, f, "")
			cfg := readinessConfig("proxy")
			cfg.ReadinessInterval = time.Second // the default
			cfg.BirthTimeout = 10 * time.Second
			var total int
			for i := 0; i < b.N; i++ {
				f.script(tc.answer)
				birthWait(context.Background(), env, cfg, slog.New(slog.DiscardHandler))
				total += f.count()
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/10s")
			b.ReportMetric(float64(total)/float64(b.N)/10, "requests/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// In a pod: the API server from KUBERNETES_SERVICE_HOST and _PORT, over TLS
// with the service account's CA, its token and its namespace.
func TestReadinessInCluster(t *testing.T) {
	t.Parallel()
	var auth []string
	var mu sync.Mutex
	pod := testPod()
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", true, nil)}
	answer := podAnswer(pod)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		answer(w)
	}))
	t.Cleanup(srv.Close)
	sa := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(sa, "ca.crt"), ca, 0o644)
	os.WriteFile(filepath.Join(sa, "token"), []byte("sa-token"), 0o600)
	os.WriteFile(filepath.Join(sa, "namespace"), []byte("ns"), 0o644)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := apiEnv{getenv: envFunc(map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}), saDir: sa}

	cfg := readinessConfig("db")
	cfg.Namespace = "" // from the service account
	if err := birthWait(context.Background(), env, cfg, discardLogger()); err != nil {
		t.Fatalf("birth wait in cluster: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 1 || auth[0] != "GET /api/v1/namespaces/ns/pods/pod Bearer sa-token" {
		t.Errorf("requests: %q", auth)
	}

	// No token: what to fix.
	os.Remove(filepath.Join(sa, "token"))
	err := birthWait(context.Background(), env, cfg, discardLogger())
	wantErrSaying(t, "without a token", err, "cannot use its service account", "automountServiceAccountToken")
}

// A KUBEXIT_NAME that is not a container of the pod: one warning that names
// the pod's containers, and the wait goes on to its end (the original accepts
// such a name, so a pod that works with it must not crash-loop).
func TestReadinessUnknownSelfWarnsAndWaits(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	env := fakeAPIEnv(t, f, "")
	notReady, ready := testPod(), testPod()
	notReady.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", false, ptr(true))}
	ready.Status.ContainerStatuses = []corev1.ContainerStatus{running("db", true, ptr(true))}
	f.script(podAnswer(notReady), podAnswer(notReady), podAnswer(ready))
	cfg := readinessConfig("db")
	cfg.Name = "renamed"
	log, buf := captureLog()
	if err := birthWait(context.Background(), env, cfg, log); err != nil {
		t.Fatalf("birth wait: %v\nlog:\n%s", err, buf)
	}
	logs := buf.String()
	if n := strings.Count(logs, "level=WARN"); n != 1 || !strings.Contains(logs, "KUBEXIT_NAME renamed is not a container of the pod") ||
		!strings.Contains(logs, "the pod's containers: setup (init), mesh (sidecar), probed (sidecar), app, db, proxy") {
		t.Errorf("want one warning naming the pod's containers:\n%s", logs)
	}
	if n := f.count(); n != 3 {
		t.Errorf("%d GETs, want 3", n)
	}
}
