package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeathURLParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"http://127.0.0.1:15020/quitquitquit", []string{"http://127.0.0.1:15020/quitquitquit"}},
		{" http://localhost:4191/shutdown , https://localhost:9091/quitquitquit ,",
			[]string{"http://localhost:4191/shutdown", "https://localhost:9091/quitquitquit"}},
		{"http://a/x,http://a/x, http://a/x", []string{"http://a/x"}},
		{"HTTP://[::1]:15020/quitquitquit?now=1", []string{"HTTP://[::1]:15020/quitquitquit?now=1"}},
		{"http://localhost", []string{"http://localhost"}},
	} {
		got, err := parseDeathURLs(tc.raw)
		if err != nil {
			t.Errorf("parseDeathURLs(%q): %v", tc.raw, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || (got == nil) != (tc.want == nil) {
			t.Errorf("parseDeathURLs(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestDeathURLParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want []string // in the message
	}{
		{"localhost:4191/shutdown", []string{`"localhost:4191/shutdown"`, "not an absolute URL"}},
		{"/quitquitquit", []string{`"/quitquitquit"`, "not an absolute URL"}},
		{"ftp://localhost/quit", []string{`"ftp://localhost/quit"`, `scheme "ftp"`}},
		{"http://", []string{"no host"}},
		{"http://:15020/quitquitquit", []string{"no host"}},
		{"http://localhost:0/quit", []string{"port 0"}},
		{"http://localhost:70000/quit", []string{"port 70000"}},
		{"http://localhost:/quit", []string{"empty port"}},
		{"http://local host/quit", []string{"not a URL"}},
		{"http://localhost:x/quit", []string{"not a URL"}},
		// Every bad item is named, the good one is not.
		{"http://ok/quit, ftp://a/, gopher://b/", []string{`"ftp://a/"`, `"gopher://b/"`}},
	} {
		got, err := parseDeathURLs(tc.raw)
		if err == nil {
			t.Errorf("parseDeathURLs(%q) = %q, want an error", tc.raw, got)
			continue
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("parseDeathURLs(%q): error %q does not say %q", tc.raw, msg, w)
			}
		}
		if !strings.Contains(msg, "want absolute http or https URLs") {
			t.Errorf("parseDeathURLs(%q): error %q does not say what is wanted", tc.raw, msg)
		}
		if strings.Contains(msg, `"http://ok/quit"`) || strings.Contains(msg, "\n") {
			t.Errorf("parseDeathURLs(%q): error %q names a good item or is not one line", tc.raw, msg)
		}
	}
}

func TestDeathURLParseMethod(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"": "POST", "post": "POST", " Get ": "GET", "PUT": "PUT"} {
		if got, err := parseDeathURLMethod(raw); err != nil || got != want {
			t.Errorf("parseDeathURLMethod(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"DELETE", "PATCH", "HEAD", "P OST", "x"} {
		got, err := parseDeathURLMethod(raw)
		if err == nil || !strings.Contains(err.Error(), "POST, GET or PUT") {
			t.Errorf("parseDeathURLMethod(%q) = %q, %v; want an error listing POST, GET or PUT", raw, got, err)
		}
	}
}

// shortDeathURLTimings makes retries fast for a test.
func shortDeathURLTimings(budget, request time.Duration) deathURLTimings {
	return deathURLTimings{Budget: budget, Request: request, FirstBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

// endpoint is a shutdown endpoint on loopback that counts its calls and
// answers with the statuses it is given, then with its last one.
type endpoint struct {
	*httptest.Server
	calls atomic.Int32

	mu       sync.Mutex
	statuses []int
	requests []endpointRequest
}

type endpointRequest struct {
	Method, UserAgent, ContentLength string
	Body                             []byte
}

func newEndpoint(t *testing.T, statuses ...int) *endpoint {
	e := &endpoint{statuses: statuses}
	e.Server = httptest.NewServer(e)
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.calls.Add(1)
	e.mu.Lock()
	e.requests = append(e.requests, endpointRequest{r.Method, r.UserAgent(), r.Header.Get("Content-Length"), body})
	status := e.statuses[0]
	if len(e.statuses) > 1 {
		e.statuses = e.statuses[1:]
	}
	e.mu.Unlock()
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status))
}

func (e *endpoint) lastRequest() endpointRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests[len(e.requests)-1]
}

// jsonLog captures log records; read it only after the calls returned.
type jsonLog struct{ buf bytes.Buffer }

func (l *jsonLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the records at level or above.
func (l *jsonLog) records(t *testing.T, level slog.Level) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		var lv slog.Level
		lv.UnmarshalText([]byte(r["level"].(string)))
		if lv >= level {
			out = append(out, r)
		}
	}
	return out
}

// outcome is the one record at Info or above for url, checked against msg,
// level and attempts.
func (l *jsonLog) outcome(t *testing.T, url, level, msg string, attempts int) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range l.records(t, slog.LevelInfo) {
		if r["url"] == url {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one record at info or above for %s, got %v\nlog:\n%s", url, found, l.buf.String())
	}
	r := found[0]
	if r["level"] != level || r["msg"] != msg {
		t.Errorf("record for %s: level %v msg %q, want %s %q", url, r["level"], r["msg"], level, msg)
	}
	if attempts > 0 && r["attempts"] != float64(attempts) {
		t.Errorf("record for %s: attempts %v, want %d", url, r["attempts"], attempts)
	}
	return r
}

func TestDeathURLCalledOnceWithMethod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ configured, want string }{{"", "POST"}, {"get", "GET"}, {"PUT", "PUT"}} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			e := newEndpoint(t, http.StatusOK)
			method, err := parseDeathURLMethod(tc.configured)
			if err != nil {
				t.Fatal(err)
			}
			var log jsonLog
			url := e.URL + "/quitquitquit"
			if err := callDeathURLs(context.Background(), defaultDeathURLTimings, []string{url}, method, log.logger()); err != nil {
				t.Fatalf("callDeathURLs: %v", err)
			}
			if n := e.calls.Load(); n != 1 {
				t.Fatalf("endpoint called %d times, want 1", n)
			}
			r := e.lastRequest()
			if r.Method != tc.want || len(r.Body) != 0 || !strings.HasPrefix(r.UserAgent, "kubexit/") {
				t.Errorf("request: %+v; want method %s, no body, User-Agent kubexit/...", r, tc.want)
			}
			// An empty POST or PUT says so; some servers want a length.
			if wantCL := map[string]string{"POST": "0", "PUT": "0", "GET": ""}[tc.want]; r.ContentLength != wantCL {
				t.Errorf("Content-Length %q, want %q", r.ContentLength, wantCL)
			}
			rec := log.outcome(t, url, "INFO", "death URL called", 1)
			if rec["status"] != float64(200) || rec["method"] != tc.want {
				t.Errorf("log record %v: want status 200, method %s", rec, tc.want)
			}
		})
	}
}

func TestDeathURLCallsEveryURL(t *testing.T) {
	t.Parallel()
	a, b := newEndpoint(t, http.StatusOK), newEndpoint(t, http.StatusNoContent)
	var log jsonLog
	urls := []string{a.URL + "/quitquitquit", b.URL + "/shutdown"}
	if err := callDeathURLs(context.Background(), defaultDeathURLTimings, urls, "POST", log.logger()); err != nil {
		t.Fatalf("callDeathURLs: %v", err)
	}
	if a.calls.Load() != 1 || b.calls.Load() != 1 {
		t.Errorf("calls: %d and %d, want 1 each", a.calls.Load(), b.calls.Load())
	}
	log.outcome(t, urls[0], "INFO", "death URL called", 1)
	log.outcome(t, urls[1], "INFO", "death URL called", 1)
}

func TestDeathURLCallsConcurrently(t *testing.T) {
	t.Parallel()
	// Each endpoint answers 200 only once both have been called; called
	// one after the other, the first would hang past the budget.
	tm := shortDeathURLTimings(3*time.Second, time.Minute)
	var arrived sync.WaitGroup
	arrived.Add(2)
	both := make(chan struct{})
	go func() { arrived.Wait(); close(both) }()
	var calls atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			arrived.Done()
		}
		select {
		case <-both:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	})
	a, b := httptest.NewServer(handler), httptest.NewServer(handler)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if err := callDeathURLs(context.Background(), tm, []string{a.URL, b.URL}, "POST", nil); err != nil {
		t.Fatalf("callDeathURLs: %v; were the URLs called one after the other?", err)
	}
}

func TestDeathURLRetries500ThenSucceeds(t *testing.T) {
	t.Parallel()
	tm := shortDeathURLTimings(30*time.Second, 5*time.Second)
	e := newEndpoint(t, 500, 503, 200)
	var log jsonLog
	url := e.URL + "/quitquitquit"
	if err := callDeathURLs(context.Background(), tm, []string{url}, "POST", log.logger()); err != nil {
		t.Fatalf("callDeathURLs: %v", err)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("endpoint called %d times, want 3", n)
	}
	log.outcome(t, url, "INFO", "death URL called", 3)
	if n := len(log.records(t, slog.LevelDebug)); n != 3 {
		t.Errorf("%d log records, want 2 retries at debug and 1 outcome:\n%s", n, log.buf.String())
	}
}

func TestDeathURLAlways500GivesUp(t *testing.T) {
	t.Parallel()
	tm := shortDeathURLTimings(500*time.Millisecond, 5*time.Second)
	bad, good := newEndpoint(t, 500), newEndpoint(t, 200)
	var log jsonLog
	badURL, goodURL := bad.URL+"/quitquitquit", good.URL+"/quitquitquit"
	err := callDeathURLs(context.Background(), tm, []string{badURL, goodURL}, "POST", log.logger())
	if err == nil {
		t.Fatal("callDeathURLs succeeded against an endpoint that always answers 500")
	}
	for _, w := range []string{"POST " + badURL, "gave up after", "answered 500 Internal Server Error"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), goodURL) {
		t.Errorf("error %q names the URL that succeeded", err)
	}
	if n := bad.calls.Load(); n < 2 {
		t.Errorf("failing endpoint called %d times, want retries", n)
	}
	rec := log.outcome(t, badURL, "ERROR", "death URL call failed", int(bad.calls.Load()))
	if !strings.Contains(rec["err"].(string), "answered 500") {
		t.Errorf("log record %v does not give the last error", rec)
	}
	log.outcome(t, goodURL, "INFO", "death URL called", 1)
}

func TestDeathURL404NotRetried(t *testing.T) {
	t.Parallel()
	tm := shortDeathURLTimings(30*time.Second, 5*time.Second)
	e := newEndpoint(t, http.StatusNotFound, http.StatusOK)
	var log jsonLog
	url := e.URL + "/quitquitquit"
	err := callDeathURLs(context.Background(), tm, []string{url}, "POST", log.logger())
	if err == nil || !strings.Contains(err.Error(), "not retried: answered 404 Not Found") {
		t.Fatalf("callDeathURLs: %v; want an error saying 404, not retried", err)
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("endpoint called %d times, want 1", n)
	}
	log.outcome(t, url, "ERROR", "death URL call failed", 1)
}

func TestDeathURLDownAtFirst(t *testing.T) {
	tm := shortDeathURLTimings(30*time.Second, 5*time.Second)
	tm.MaxBackoff = 200 * time.Millisecond
	// A free port on loopback: nothing listens on it until the sidecar
	// comes up, 300ms into the calls.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	e := &endpoint{statuses: []int{http.StatusOK}}
	started := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			started <- err
			return
		}
		e.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: e}}
		e.Start()
		started <- nil
	}()

	var log jsonLog
	url := "http://" + addr + "/quitquitquit"
	callErr := callDeathURLs(context.Background(), tm, []string{url}, "POST", log.logger())
	if err := <-started; err != nil {
		t.Skipf("port %s was taken before the endpoint could start: %v", addr, err)
	}
	defer e.Close()
	if callErr != nil {
		t.Fatalf("callDeathURLs: %v\nlog:\n%s", callErr, log.buf.String())
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("endpoint called %d times, want 1", n)
	}
	rec := log.outcome(t, url, "INFO", "death URL called", 0)
	if rec["attempts"].(float64) < 2 {
		t.Errorf("success on attempt %v, want a retry after connection refused", rec["attempts"])
	}
	if !strings.Contains(log.buf.String(), "connection refused") {
		t.Errorf("no retry logged at debug for connection refused:\n%s", log.buf.String())
	}
}

// hangingEndpoint accepts requests and never answers until the test ends.
func hangingEndpoint(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return s, &calls
}

func TestDeathURLRequestTimeoutRetries(t *testing.T) {
	t.Parallel()
	tm := shortDeathURLTimings(time.Second, 200*time.Millisecond)
	s, calls := hangingEndpoint(t)
	var log jsonLog
	url := s.URL + "/quitquitquit"
	err := callDeathURLs(context.Background(), tm, []string{url}, "POST", log.logger())
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("callDeathURLs: %v; want an error saying there was no answer", err)
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("hanging endpoint called %d times, want retries after each timeout", n)
	}
}

func TestDeathURLCancelReturnsPromptly(t *testing.T) {
	t.Parallel()
	// Long budget and request timeout: only the cancellation can end it.
	tm := shortDeathURLTimings(time.Minute, time.Minute)
	s, calls := hangingEndpoint(t)
	var log jsonLog
	url := s.URL + "/quitquitquit"
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for calls.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	done := make(chan error, 1)
	go func() { done <- callDeathURLs(ctx, tm, []string{url}, "POST", log.logger()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cancelled after 1 attempt") {
			t.Errorf("callDeathURLs: %v; want an error saying it was cancelled", err)
		}
		log.outcome(t, url, "WARN", "death URL call failed", 1)
	case <-time.After(20 * time.Second):
		t.Fatal("callDeathURLs still running 20s after its context was cancelled")
	}
}

func TestDeathURLCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, http.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := callDeathURLs(ctx, defaultDeathURLTimings, []string{e.URL + "/quitquitquit"}, "POST", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("callDeathURLs with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestDeathURLEndlessBodyIsNotRead(t *testing.T) {
	t.Parallel()
	// Only the end of the body would end a call that read it all.
	tm := shortDeathURLTimings(time.Minute, time.Minute)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 4096)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	done := make(chan error, 1)
	go func() { done <- callDeathURLs(context.Background(), tm, []string{s.URL}, "GET", nil) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("callDeathURLs: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("callDeathURLs still reading an endless body after 20s")
	}
}

func TestDeathURLNone(t *testing.T) {
	t.Parallel()
	if err := callDeathURLs(context.Background(), defaultDeathURLTimings, nil, "POST", nil); err != nil {
		t.Errorf("callDeathURLs with no URLs: %v", err)
	}
}

// End to end: kubexit calls KUBEXIT_DEATH_URLS when a death dep dies, with
// a child or as a watcher without one.

func TestDeathURLsCalledWithChild(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	a, b := newEndpoint(t, http.StatusOK), newEndpoint(t, http.StatusOK)
	p, _ := startReady(t, map[string]string{
		"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": a.URL + "/quitquitquit, " + b.URL + "/shutdown",
	}, loopUntilSignalled)
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit status %d; stderr:\n%s", code, p.stderr)
	}
	for _, e := range []*endpoint{a, b} {
		if n := e.calls.Load(); n != 1 {
			t.Errorf("%s called %d times, want once", e.URL, n)
		} else if m := e.lastRequest().Method; m != "POST" {
			t.Errorf("method %s, want POST", m)
		}
	}
}

// TestDeathURLsWithoutChild: kubexit as a tiny watcher container whose only
// job is to call the shutdown endpoint of a sidecar it cannot wrap.
func TestDeathURLsWithoutChild(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	e := newEndpoint(t, http.StatusOK)
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME": "watcher", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": e.URL + "/quitquitquit", "KUBEXIT_DEATH_URL_METHOD": "get",
	})
	waitTombstone(t, gy, "watcher", "born", isBorn)
	if e.calls.Load() != 0 {
		t.Fatal("URL called before the dep died")
	}
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.stderr)
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("called %d times, want once", n)
	} else if m := e.lastRequest().Method; m != "GET" {
		t.Errorf("method %s, want GET", m)
	}
	if ts, _ := readTombstone(gy, "watcher"); ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("tombstone %v, want Died with 0", ts)
	}
}

// A death URL that keeps failing makes a watcher without child exit 1.
func TestDeathURLFailingWithoutChild(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	e := newEndpoint(t, http.StatusNotFound)
	writeFile(t, gy, "main", diedYAML)
	code, stderr := runKubexit(t, map[string]string{
		"KUBEXIT_NAME": "watcher", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": e.URL + "/nope",
	})
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("a 404 was retried: %d calls", n)
	}
}

// The epilogue waits for the death URL calls before it writes Died, on every
// path: a sibling that sees Died knows that this process is done, calls
// included.
func TestDiedWrittenAfterDeathURLCalls(t *testing.T) {
	t.Parallel()
	gy, tmp := t.TempDir(), t.TempDir()
	ready, exited := filepath.Join(tmp, "ready"), filepath.Join(tmp, "exited")
	called, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called <- struct{}{}
		<-release
	}))
	defer srv.Close()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": srv.URL + "/quitquitquit", "READY": ready, "EXITED": exited,
	}, script(t, tmp, "child.sh", `trap 'touch "$EXITED"; exit 0' TERM; `+loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, gy, "main", diedYAML)
	select {
	case <-called:
	case <-time.After(testTimeout):
		t.Fatal("the death URL was not called")
	}
	waitFor(t, "the child's exit", func() bool { return fileExists(exited) })
	// The child is gone and the call hangs: no Died yet, however long.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ts, _ := readTombstone(gy, "app"); ts.Died != nil {
			t.Fatalf("Died written while a death URL call was in flight: %+v", ts)
		}
	}
	released = true
	close(release)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d, want 0 (the child's); stderr:\n%s", code, p.stderr)
	}
	if ts, _ := readTombstone(gy, "app"); ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("tombstone %+v, want Died with ExitCode 0", ts)
	}
}
