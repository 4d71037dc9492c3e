package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every signal a wrapper can forward reaches a child that traps it, and
// kubexit lives on: the faults a Go program would crash on (SIGILL, SIGSEGV,
// SIGABRT...) when another process sends them, SIGPIPE, and the real-time
// signals.
func TestEverySignalForwarded(t *testing.T) {
	t.Parallel()
	sigs := []syscall.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE,
		syscall.SIGSEGV, syscall.SIGSYS, syscall.SIGSTKFLT, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
		syscall.SIGIO, syscall.SIGPWR, syscall.SIGPIPE, 35, 36, 50, 63, 64}
	var traps strings.Builder
	for _, s := range sigs {
		fmt.Fprintf(&traps, `trap 'echo %d >> "$TMP/got"' %d; `, int(s), int(s))
	}
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		traps.String()+`trap 'exit 0' TERM; `+loopUntilSignalled)
	got := filepath.Join(tmp, "got")
	for i, s := range sigs {
		p.signal(s)
		want := i + 1
		waitFor(t, fmt.Sprintf("%s at the child", signalName(s)), func() bool {
			data, _ := os.ReadFile(got)
			return strings.Count(string(data), "\n") >= want || p.exited()
		})
		if p.exited() {
			t.Fatalf("kubexit exited %d on %s; stderr:\n%s", p.code, signalName(s), p.stderr)
		}
	}
	data, _ := os.ReadFile(got)
	var want strings.Builder
	for _, s := range sigs {
		fmt.Fprintf(&want, "%d\n", int(s))
	}
	if string(data) != want.String() {
		t.Errorf("the child got\n%s\nwant\n%s", data, want.String())
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d after TERM; stderr:\n%s", code, p.stderr)
	}
}

// A parent may make kubexit a subreaper before it execs it (exec keeps the
// bit): orphans then come to kubexit, which reaps them, as with
// KUBEXIT_SUBREAPER=true.
func TestInheritedSubreaperReaps(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed to set PR_SET_CHILD_SUBREAPER before exec")
	}
	kubexit, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatal(err)
	}
	child, count := orphansChild(t, 4, 42, false)
	cmd := exec.Command(py, "-c", `import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl failed")
os.execv(sys.argv[1], sys.argv[1:])`, kubexit, child)
	runReaping(t, cmd, t.TempDir(), 42, count, 4)
}

// With its stderr a pipe that no one reads, kubexit still supervises: its own
// log lines fail (EPIPE) without killing it and without a SIGPIPE for the
// child, which does not write to stderr and records every PIPE it gets; a
// SIGPIPE sent to kubexit with kill is forwarded; the child's status is
// kubexit's and the tombstone's.
func TestBrokenStderr(t *testing.T) {
	t.Parallel()
	gy, tmp := t.TempDir(), t.TempDir()
	got, ready := filepath.Join(tmp, "got"), filepath.Join(tmp, "ready")
	child := script(t, tmp, "child.sh", `trap 'echo PIPE >> "$TMP/got"' PIPE; trap 'echo TERM >> "$TMP/got"; exit 7' TERM; `+loopUntilSignalled)
	kubexit, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(kubexit, child)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBEXIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+gy, "KUBEXIT_LOG_LEVEL=debug", "TMP="+tmp, "READY="+ready)
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	waitFor(t, "the child to be ready", func() bool { return fileExists(ready) || exited() })
	cmd.Process.Signal(syscall.SIGPIPE)
	waitFor(t, "the PIPE sent with kill at the child", func() bool { return fileExists(got) || exited() })
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("kubexit did not exit within %v", testTimeout)
	}
	if code := exitStatus(cmd.ProcessState); code != 7 {
		t.Errorf("exit %d, want the child's 7", code)
	}
	if data, _ := os.ReadFile(got); string(data) != "PIPE\nTERM\n" {
		t.Errorf("the child trapped %q, want the one PIPE sent with kill, then TERM", data)
	}
	if ts, _ := readTombstone(gy, "app"); ts.ExitCode == nil || *ts.ExitCode != 7 {
		t.Errorf("tombstone %v, want exit code 7", ts)
	}
}

// A signal before the child started is named as kubexit names signals
// everywhere (SIGINT), not as Go's String() does ("interrupt"). The probe
// server says when kubexit is in the birth wait, its handlers installed.
func TestSignalBeforeStartNamed(t *testing.T) {
	t.Parallel()
	probed := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case probed <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	started := filepath.Join(t.TempDir(), "started")
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir(),
		"KUBEXIT_BIRTH_PROBES": srv.URL + "/ready"}, "touch", started)
	select {
	case <-probed:
	case <-p.done:
		t.Fatalf("exit %d before the birth probe; stderr:\n%s", p.code, p.stderr)
	case <-time.After(testTimeout):
		t.Fatalf("no birth probe within %v; stderr:\n%s", testTimeout, p.stderr)
	}
	p.signal(syscall.SIGINT)
	if code := p.wait(); code != 130 || fileExists(started) {
		t.Fatalf("exit %d (want 130), child started: %v; stderr:\n%s", code, fileExists(started), p.stderr)
	}
	want := `msg="signal received before the child started; not starting it" name=app signal=SIGINT exit_code=130`
	if log := p.stderr.String(); !strings.Contains(log, want) || strings.Contains(log, "interrupt") {
		t.Errorf("want %s, and no \"interrupt\"; stderr:\n%s", want, log)
	}
}
