package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Each item of KUBEXIT_BIRTH_PROBES is parsed into what is probed; items
// that cannot be probed are refused with a reason.
func TestProbeParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		item string
		want probe  // Raw is filled in
		err  string // a part of the reason, "" when valid
	}{
		{item: "tcp://127.0.0.1:8080", want: probe{Scheme: "tcp", Addr: "127.0.0.1:8080"}},
		{item: "TCP://localhost:1/", want: probe{Scheme: "tcp", Addr: "localhost:1"}},
		{item: "tcp://[::1]:15021", want: probe{Scheme: "tcp", Addr: "[::1]:15021"}},
		{item: "http://127.0.0.1:15021/healthz/ready", want: probe{Scheme: "http", Addr: "127.0.0.1:15021", URL: "http://127.0.0.1:15021/healthz/ready"}},
		{item: "http://localhost:8080", want: probe{Scheme: "http", Addr: "localhost:8080", URL: "http://localhost:8080"}},
		{item: "https://localhost:8443/ready?full=1", want: probe{Scheme: "https", Addr: "localhost:8443", URL: "https://localhost:8443/ready?full=1"}},
		{item: "file:///graveyard/proxy.ready", want: probe{Scheme: "file", Path: "/graveyard/proxy.ready"}},

		{item: "ftp://127.0.0.1:21", err: `unknown scheme "ftp"`},
		{item: "localhost:8080", err: `unknown scheme "localhost"`},
		{item: "127.0.0.1:8080", err: "not a URL"},
		{item: "//127.0.0.1:8080", err: "no scheme"},
		{item: "tcp://127.0.0.1", err: "a missing port"},
		{item: "tcp://127.0.0.1:", err: "a missing port"},
		{item: "http://localhost/ready", err: "a missing port"},
		{item: "https://localhost/ready", err: "a missing port"},
		{item: "tcp://:8080", err: "no host"},
		{item: "tcp://127.0.0.1:0", err: "want 1 to 65535"},
		{item: "tcp://127.0.0.1:65536", err: "want 1 to 65535"},
		{item: "tcp://127.0.0.1:8080/ready", err: "a path or query is not allowed"},
		{item: "tcp:127.0.0.1:8080", err: "want tcp://HOST:PORT"},
		{item: "http://user@127.0.0.1:8080/", err: "user information"},
		{item: "http://user:secret@127.0.0.1:8080/", err: "user information"},
		{item: "http://127.0.0.1:8080/ready#top", err: "a fragment"},
		{item: "http://127.0.0.1:8080/ready#", err: "a fragment"},
		{item: "file://graveyard/ready", err: "a relative path"},
		{item: "file:graveyard/ready", err: "a relative path"},
		{item: "file:///graveyard/ready#x", err: "a fragment"},
		{item: "file:///graveyard/ready?x", err: "a query"},
		{item: "file://user@/graveyard/ready", err: "user information"},
		{item: "file:///graveyard/re%0Ady", err: "control or invisible characters"},
	} {
		got, err := parseProbe(tc.item)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.item, err)
		case tc.err != "" && err == nil:
			t.Errorf("%s: accepted as %+v, want an error with %q", tc.item, got, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("%s: error %q, want %q in it", tc.item, err, tc.err)
		case tc.err == "":
			tc.want.Raw = tc.item
			if got != tc.want {
				t.Errorf("%s: got %+v, want %+v", tc.item, got, tc.want)
			}
		}
	}
}

func mustProbe(t testing.TB, item string) probe {
	t.Helper()
	p, err := parseProbe(item)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// freeAddr is a loopback address that refuses connections: a socket bound
// to it but not listening, which keeps other tests (and anyone else) from
// taking the port, until release is called or the test ends.
func freeAddr(t testing.TB) string {
	addr, _ := reservedAddr(t)
	return addr
}

func reservedAddr(t testing.TB) (addr string, release func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { syscall.Close(fd) }) }
	t.Cleanup(release)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port), release
}

// probeWaitAsync runs waitForProbes in the background; the result arrives on
// the channel.
func probeWaitAsync(t testing.TB, b birthProbes) (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	res := make(chan error, 1)
	go func() { res <- waitForProbes(ctx, b, discardLogger()) }()
	return res, cancel
}

func probeResult(t testing.TB, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(testTimeout):
		t.Fatalf("the probe wait did not end within %v", testTimeout)
		return nil
	}
}

// waitGoesOn checks that the wait is still going.
func waitGoesOn(t testing.TB, res <-chan error, what string) {
	t.Helper()
	select {
	case err := <-res:
		t.Fatalf("the wait ended (%v) before %s", err, what)
	default:
	}
}

// A port that opens late: refused until then, and the wait ends once it
// accepts.
func TestProbeTCPLate(t *testing.T) {
	t.Parallel()
	addr, release := reservedAddr(t)
	p := mustProbe(t, "tcp://"+addr)
	if err := newProber().try(context.Background(), p); err == nil || err.Error() != "connection refused" {
		t.Fatalf("closed port: %v, want connection refused", err)
	}
	res, _ := probeWaitAsync(t, birthProbes{Probes: []probe{p}, Interval: minReadinessInterval})
	time.Sleep(3 * minReadinessInterval) // a few refused rounds
	waitGoesOn(t, res, "the port opened")
	release()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	defer l.Close()
	if err := probeResult(t, res); err != nil {
		t.Fatalf("the port is open: %v", err)
	}
}

// lateServer is an HTTP endpoint that answers 503 until the test sets
// ready, and 200 ("ok") from then on. It counts every request it gets, and
// the 200s it answers; a request that accept (when not nil) refuses is
// answered 400 before it is looked at further.
type lateServer struct {
	*httptest.Server
	ready    atomic.Bool
	requests atomic.Int32
	oks      atomic.Int32
}

func newLateServer(t testing.TB, accept func(*http.Request) bool) *lateServer {
	s := &lateServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if accept != nil && !accept(r) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !s.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.oks.Add(1)
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// An HTTP endpoint that answers 503, then 200: "HTTP 503" until then, and
// the wait ends on the 200.
func TestProbeHTTP503Then200(t *testing.T) {
	t.Parallel()
	srv := newLateServer(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/ready" && strings.HasPrefix(r.UserAgent(), "kubexit/")
	})
	p := mustProbe(t, srv.URL+"/ready")
	if err := newProber().try(context.Background(), p); err == nil || err.Error() != "HTTP 503" {
		t.Fatalf("not ready: %v, want HTTP 503", err)
	}
	res, _ := probeWaitAsync(t, birthProbes{Probes: []probe{p}, Interval: minReadinessInterval})
	waitFor(t, "a few 503s", func() bool { return srv.requests.Load() >= 3 })
	waitGoesOn(t, res, "the endpoint answered 200")
	srv.ready.Store(true)
	if err := probeResult(t, res); err != nil {
		t.Fatalf("the endpoint answers 200: %v", err)
	}
}

// Redirects, as the kubelet's httpGet: followed to the same host (the
// answer at the end counts), not followed to another host (the 3xx itself
// is the answer, a success), and a loop ends after 10.
func TestProbeRedirect(t *testing.T) {
	t.Parallel()
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/to-bad", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/bad", http.StatusMovedPermanently) })
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	// Another host name (localhost, not 127.0.0.1): not followed.
	mux.HandleFunc("/to-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+otherPort+"/", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	pr := newProber()
	for path, want := range map[string]string{
		"/to-ok":    "",
		"/to-bad":   "HTTP 503",
		"/loop":     "stopped after 10 redirects",
		"/to-other": "",
	} {
		err := pr.try(context.Background(), mustProbe(t, srv.URL+path))
		if got := fmt.Sprint(err); want == "" && err != nil || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the redirect to another host was followed (%d requests)", n)
	}
}

// A server that accepts and never answers: the attempt ends on its own
// timeout and says so; a tcp probe of the same port passes (it accepts).
func TestProbeNoAnswer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	pr := newProber()
	for _, item := range []string{"http://" + l.Addr().String() + "/ready", "https://" + l.Addr().String() + "/ready"} {
		start := time.Now()
		err := pr.try(context.Background(), mustProbe(t, item))
		took := time.Since(start)
		if err == nil || err.Error() != "no answer within 1s" {
			t.Errorf("%s: %v, want no answer within 1s", item, err)
		}
		if took < probeAttemptTimeout/2 || took > 20*probeAttemptTimeout {
			t.Errorf("%s: the attempt took %v, want about %v", item, took, probeAttemptTimeout)
		}
	}
	if err := pr.try(context.Background(), mustProbe(t, "tcp://"+l.Addr().String())); err != nil {
		t.Errorf("tcp probe of a port that accepts: %v", err)
	}
}

// https is not verified, as the kubelet's probes: a self-signed
// certificate passes. Plain http to a TLS port gets Go's 400.
func TestProbeTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain request's handshake error
	srv.StartTLS()
	defer srv.Close()
	pr := newProber()
	if err := pr.try(context.Background(), mustProbe(t, srv.URL+"/ready")); err != nil {
		t.Errorf("https with a self-signed certificate: %v", err)
	}
	plain := "http://" + strings.TrimPrefix(srv.URL, "https://")
	if err := pr.try(context.Background(), mustProbe(t, plain+"/ready")); err == nil || err.Error() != "HTTP 400" {
		t.Errorf("http to a TLS port: %v, want HTTP 400", err)
	}
}

// A file probe passes on a regular file that is not empty (through a link
// too); an empty file, a missing one, a directory, a FIFO (never opened)
// do not. A file that appears empty, then gets content, ends the wait.
func TestProbeFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "full", "ready\n")
	writeFile(t, dir, "empty", "")
	os.Mkdir(filepath.Join(dir, "dir"), 0o755)
	os.Symlink("full", filepath.Join(dir, "link"))
	os.Symlink("missing", filepath.Join(dir, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	pr := newProber()
	for name, want := range map[string]string{
		"full": "", "link": "",
		"empty": "empty", "missing": "no such file", "dangling": "no such file",
		"dir": "a directory, not a regular file", "fifo": "not a regular file",
	} {
		err := pr.try(context.Background(), mustProbe(t, "file://"+filepath.Join(dir, name)))
		if got := fmt.Sprint(err); want == "" && err != nil || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}

	marker := filepath.Join(dir, "marker")
	res, _ := probeWaitAsync(t, birthProbes{Probes: []probe{mustProbe(t, "file://"+marker)}, Interval: minReadinessInterval})
	time.Sleep(2 * minReadinessInterval)
	waitGoesOn(t, res, "the file appeared")
	writeFile(t, dir, "marker", "")
	time.Sleep(3 * minReadinessInterval)
	waitGoesOn(t, res, "the file got content")
	writeFile(t, dir, "marker", "ready\n")
	if err := probeResult(t, res); err != nil {
		t.Fatalf("the file has content: %v", err)
	}
}

// All probes must pass in one round: the wait goes on while one fails, and
// on the timeout its error names each failing probe and its last error, not
// those that pass.
func TestProbeTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := "tcp://" + freeAddr(t)
	probes := []probe{mustProbe(t, closed), mustProbe(t, srv.URL+"/ready"), mustProbe(t, srv.URL+"/live")}
	start := time.Now()
	err := waitForProbes(context.Background(), birthProbes{Probes: probes, Timeout: time.Second, Interval: minReadinessInterval}, discardLogger())
	if err == nil {
		t.Fatal("the wait ended without an error")
	}
	want := fmt.Sprintf("birth probes timed out after 1s: %s (connection refused), %s/ready (HTTP 503)", closed, srv.URL)
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the wait ended after %v, before its timeout", took)
	}
	// Cancelled: ctx's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitForProbes(ctx, birthProbes{Probes: probes, Interval: minReadinessInterval}, discardLogger()); err != context.Canceled {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// Progress is logged at the API wait's pace: first after
// readinessProgressFirst, naming the failing probes and their errors.
func TestProbeProgress(t *testing.T) {
	t.Parallel()
	closed := "tcp://" + freeAddr(t)
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		res <- waitForProbes(ctx, birthProbes{Probes: []probe{mustProbe(t, closed)}, Interval: minReadinessInterval}, log)
	}()
	waitFor(t, "a progress line", func() bool { return strings.Contains(buf.String(), "still waiting for birth probes") })
	if took := time.Since(start); took < readinessProgressFirst {
		t.Errorf("progress logged after %v, before %v", took, readinessProgressFirst)
	}
	if want := `failing="` + closed + ` (connection refused)"`; !strings.Contains(buf.String(), want) {
		t.Errorf("the progress line does not have %s:\n%s", want, buf.String())
	}
	if n := strings.Count(buf.String(), "still waiting for birth probes"); n != 1 {
		t.Errorf("%d progress lines, want 1 (the next comes %v later)", n, readinessProgressEvery)
	}
	cancel()
	if err := probeResult(t, res); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

// probeEnv is a kubexit environment with birth probes.
func probeEnv(t *testing.T, probes string, more ...string) (map[string]string, string) {
	gy := t.TempDir()
	env := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_BIRTH_PROBES": probes,
		"KUBEXIT_READINESS_INTERVAL": "200ms", "KUBEXIT_BIRTH_TIMEOUT": "0"}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return env, gy
}

// expectNotStarted checks kubexit's status, that the child did not run,
// and that the tombstone records a death without a birth.
func expectNotStarted(t *testing.T, p *kubexitProc, code int, gy, started string) {
	t.Helper()
	if got := p.wait(); got != code {
		t.Errorf("exit %d, want %d; stderr:\n%s", got, code, p.stderr)
	}
	if fileExists(started) {
		t.Error("the child was started")
	}
	ts, ok := readTombstone(gy, "app")
	if !ok || ts.Born != nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != code {
		t.Errorf("tombstone %+v (ok %v), want Died with ExitCode %d and no Born", ts, ok, code)
	}
}

// A death dep that dies during the probe wait: no child, 143.
func TestBirthProbesDeathDep(t *testing.T) {
	t.Parallel()
	env, gy := probeEnv(t, "tcp://"+freeAddr(t), "KUBEXIT_DEATH_DEPS", "main")
	started := filepath.Join(t.TempDir(), "started")
	p := startKubexit(t, env, "touch", started)
	waitFor(t, "the probe wait", func() bool { return strings.Contains(p.stderr.String(), "waiting for birth probes") })
	writeFile(t, gy, "main", diedYAML)
	expectNotStarted(t, p, 143, gy, started)
	if !strings.Contains(p.stderr.String(), "died while waiting for birth deps") {
		t.Errorf("stderr does not say why:\n%s", p.stderr)
	}
}

// A TERM during the probe wait: no child, 143.
func TestBirthProbesTerm(t *testing.T) {
	t.Parallel()
	env, gy := probeEnv(t, "tcp://"+freeAddr(t))
	started := filepath.Join(t.TempDir(), "started")
	p := startKubexit(t, env, "touch", started)
	waitFor(t, "the probe wait", func() bool { return strings.Contains(p.stderr.String(), "waiting for birth probes") })
	p.signal(syscall.SIGTERM)
	expectNotStarted(t, p, 143, gy, started)
}

// The timeout: exit 1, no child, a message naming each failing probe and
// its last error, in the log and the termination message.
func TestBirthProbesTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	closed := "tcp://" + freeAddr(t)
	msgFile := filepath.Join(t.TempDir(), "termination-log")
	env, gy := probeEnv(t, closed+","+srv.URL+"/ready", "KUBEXIT_BIRTH_TIMEOUT", "1s", "KUBEXIT_TERMINATION_LOG", msgFile)
	started := filepath.Join(t.TempDir(), "started")
	p := startKubexit(t, env, "touch", started)
	expectNotStarted(t, p, 1, gy, started)
	want := fmt.Sprintf("birth probes timed out after 1s: %s (connection refused), %s/ready (HTTP 503)", closed, srv.URL)
	if !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr does not have %q:\n%s", want, p.stderr)
	}
	if data, _ := os.ReadFile(msgFile); string(data) != "kubexit: exit 1: not started: "+want+"\n" {
		t.Errorf("termination message %q", data)
	}
}

// Probes that pass late start the child, which then finds the sibling
// serving: the 200 came before the child's first request.
func TestBirthProbesStartChild(t *testing.T) {
	t.Parallel()
	srv := newLateServer(t, nil)
	env, gy := probeEnv(t, srv.URL+"/ready")
	started := filepath.Join(t.TempDir(), "started")
	p := startKubexit(t, env, "touch", started)
	waitFor(t, "a failing round", func() bool { return strings.Contains(p.stderr.String(), "waiting for birth probes") })
	time.Sleep(3 * minReadinessInterval)
	if fileExists(started) {
		t.Fatal("the child started while the endpoint answered 503")
	}
	srv.ready.Store(true)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if !fileExists(started) || srv.oks.Load() == 0 {
		t.Errorf("child started %v, 200s answered %d", fileExists(started), srv.oks.Load())
	}
	if ts, ok := readTombstone(gy, "app"); !ok || ts.Born == nil || ts.Died == nil {
		t.Errorf("tombstone %+v", ts)
	}
}

// With only probes, kubexit makes no use of the Kubernetes API, even in
// what looks like a pod (KUBERNETES_SERVICE_HOST and _PORT pointing at a
// listener that records connections, no service account): no connection,
// no complaint about credentials, in the run, --check, and the preflight.
// With KUBEXIT_BIRTH_DEPS too, the API wait is made as well, and here fails
// for want of credentials although the probe passes: both must hold.
func TestBirthProbesNoAPI(t *testing.T) {
	t.Parallel()
	if fileExists(serviceAccountDir) {
		t.Skipf("%s exists on this machine", serviceAccountDir)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	marker := writeFile(t, t.TempDir(), "ready", "ready\n")
	env, _ := probeEnv(t, "file://"+marker, "KUBERNETES_SERVICE_HOST", host, "KUBERNETES_SERVICE_PORT", port,
		"KUBECONFIG", "", "KUBEXIT_LOG_LEVEL", "debug")
	complaint := func(stderr string) bool {
		s := strings.ToLower(stderr)
		return strings.Contains(s, "credential") || strings.Contains(s, "token") || strings.Contains(s, "service account") || strings.Contains(s, "kubernetes")
	}
	started := filepath.Join(t.TempDir(), "started")
	code, stderr := runKubexit(t, env, "touch", started)
	if code != 0 || !fileExists(started) || complaint(stderr) {
		t.Errorf("run: exit %d, child started %v; stderr:\n%s", code, fileExists(started), stderr)
	}
	env["KUBEXIT_PREFLIGHT"] = "true"
	code, stderr = runKubexit(t, env, "true")
	if code != 0 || complaint(stderr) || !strings.Contains(stderr, "birth probe file://"+marker+" passes") {
		t.Errorf("preflight: exit %d; stderr:\n%s", code, stderr)
	}
	delete(env, "KUBEXIT_PREFLIGHT")
	p := startKubexit(t, env, "--check")
	code = p.wait()
	if out := p.stdout.String(); code != 0 || complaint(out) || !strings.Contains(out, "ok: birth probe file://"+marker+" passes") {
		t.Errorf("--check: exit %d; stdout:\n%s", code, out)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the API address", n)
	}

	env["KUBEXIT_BIRTH_DEPS"], env["KUBEXIT_POD_NAME"], env["KUBEXIT_NAMESPACE"] = "proxy", "pod", "default"
	code, stderr = runKubexit(t, env, "touch", started+"2")
	if code != 1 || fileExists(started+"2") || !strings.Contains(stderr, "service account") {
		t.Errorf("with birth deps: exit %d, child started %v; stderr:\n%s", code, fileExists(started+"2"), stderr)
	}
}

// Birth deps and probes together (on the k8s test bed): both must hold.
// The deps are Ready but a probe fails: kubexit waits; once the probe
// passes, the child starts. And the other way round: the probe passes, a
// dep is not Ready: kubexit waits until it is.
func TestK8sBirthDepsAndProbes(t *testing.T) {
	b := needK8s(t)
	t.Run("probe last", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		p.setStatus(t, []obj{csRunning("app", false), csRunning("db", true), csRunning("proxy", true)}, nil)
		dir := t.TempDir()
		marker := filepath.Join(dir, "ready")
		k := p.start(t, "db,proxy", map[string]string{"KUBEXIT_BIRTH_PROBES": "file://" + marker})
		waitLog(t, k, "birth deps ready")
		p.stillWaiting(t, k)
		if strings.Contains(k.stderr.String(), "birth probes passing") {
			t.Fatalf("the probe passed without its file; stderr:\n%s", k.stderr)
		}
		writeFile(t, dir, "ready", "ready\n")
		p.expectSuccess(t, k)
	})
	t.Run("dep last", func(t *testing.T) {
		p := newK8sPod(t, b, k8sPodOpts{})
		p.setStatus(t, []obj{csRunning("app", false), csRunning("db", false), csRunning("proxy", true)}, nil)
		marker := writeFile(t, t.TempDir(), "ready", "ready\n")
		k := p.start(t, "db,proxy", map[string]string{"KUBEXIT_BIRTH_PROBES": "file://" + marker})
		waitLog(t, k, "birth probes passing")
		p.stillWaiting(t, k)
		p.setStatus(t, []obj{csRunning("app", false), csRunning("db", true), csRunning("proxy", true)}, nil)
		p.expectSuccess(t, k)
	})
}
