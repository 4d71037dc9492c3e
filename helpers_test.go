package main

// Helpers shared by the tests: kubexit processes, waits, tombstones, logs.

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTimeout bounds waits in tests. It is generous on purpose: these tests
// assert on what happens, never on how fast (see the benchmarks for that).
const testTimeout = 60 * time.Second

// kubexitProc is a kubexit process started by a test.
type kubexitProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	code   int
}

// startKubexit starts kubexit with args and the KUBEXIT_* variables in env
// (other KUBEXIT_* variables of the test process are removed). The process
// is killed when the test ends, if it still runs.
func startKubexit(t testing.TB, env map[string]string, args ...string) *kubexitProc {
	t.Helper()
	path, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatalf("kubexit not on PATH (TestMain sets it up): %v", err)
	}
	cmd := exec.Command(path, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBEXIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &kubexitProc{t: t, cmd: cmd, stderr: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	// A grandchild that outlives kubexit may hold the output pipes open;
	// kubexit's own exit is what the tests wait for.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kubexit: %v", err)
	}
	go func() {
		cmd.Wait()
		p.code = -1
		if cmd.ProcessState != nil {
			p.code = exitStatus(cmd.ProcessState)
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
			t.Logf("kubexit %v was still running at the end of the test; killed. stderr:\n%s", args, p.stderr)
		}
	})
	return p
}

// wait waits for kubexit to exit and returns its exit status.
func (p *kubexitProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(testTimeout):
		p.t.Fatalf("kubexit did not exit within %v; stderr:\n%s", testTimeout, p.stderr)
		return -1
	}
}

// exited reports whether kubexit has exited.
func (p *kubexitProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *kubexitProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal kubexit: %v", err)
	}
}

// runKubexit runs kubexit to the end and returns its status and stderr.
func runKubexit(t testing.TB, env map[string]string, args ...string) (int, string) {
	t.Helper()
	p := startKubexit(t, env, args...)
	code := p.wait()
	return code, p.stderr.String()
}

// waitFor polls cond every 10ms until it holds, and fails the test if it
// does not within testTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, testTimeout, 10*time.Millisecond, what, cond)
}

// waitWithin polls cond every interval until it holds, and fails the test if
// it does not within timeout.
func waitWithin(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// readTombstone reads and parses <dir>/<name>; ok is false while it does not
// exist or does not parse.
func readTombstone(dir, name string) (tombstone, bool) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return tombstone{}, false
	}
	t, err := parseTombstone(data)
	return t, err == nil
}

// waitTombstone waits until <dir>/<name> satisfies cond.
func waitTombstone(t testing.TB, dir, name string, what string, cond func(tombstone) bool) tombstone {
	t.Helper()
	var ts tombstone
	waitFor(t, "tombstone "+name+" "+what, func() bool {
		var ok bool
		ts, ok = readTombstone(dir, name)
		return ok && cond(ts)
	})
	return ts
}

func isBorn(t tombstone) bool { return t.Born != nil }

// script writes an sh script into dir and returns its path. Scripts that must
// react to signals loop on short sleeps: sh runs a trap only after the
// foreground command ends.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// loopUntilSignalled is an sh fragment: tell the test we are ready, then idle.
const loopUntilSignalled = `touch "$READY"; while :; do sleep 0.05; done`

// startReady starts kubexit with env and an sh child running body, which
// must touch "$READY" (loopUntilSignalled does), and returns once it has.
// The child's environment has READY and TMP, a temporary directory of the
// test's for the child's own marker files, which startReady returns.
func startReady(t *testing.T, env map[string]string, body string) (*kubexitProc, string) {
	t.Helper()
	tmp := t.TempDir()
	ready := filepath.Join(tmp, "ready")
	env = maps.Clone(env)
	env["READY"], env["TMP"] = ready, tmp
	p := startKubexit(t, env, script(t, tmp, "child.sh", body))
	waitFor(t, "the child to be ready", func() bool { return fileExists(ready) || p.exited() })
	if !fileExists(ready) {
		t.Fatalf("kubexit exited %d before its child was ready; stderr:\n%s", p.code, p.stderr)
	}
	return p, tmp
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tombstones as kubexit writes them: born; died (exit 0); failed (exit 1);
// and a second life that began after those deaths, alive and ended.
const (
	bornYAML       = "Born: \"2026-11-25T23:21:14.604215824Z\"\n"
	diedYAML       = "Born: \"2026-11-25T23:21:14.604215824Z\"\nDied: \"2026-11-25T23:21:14.610530456Z\"\nExitCode: 0\n"
	failedYAML     = "Born: \"2026-11-25T23:21:14.604215824Z\"\nDied: \"2026-11-25T23:21:14.610530456Z\"\nExitCode: 1\n"
	rebornYAML     = "Born: \"2026-11-25T23:21:20Z\"\n"
	rebornDiedYAML = "Born: \"2026-11-25T23:21:20Z\"\nDied: \"2026-11-25T23:21:25Z\"\nExitCode: 0\n"
)

// writeFile writes content to <dir>/<name> and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitLog waits until kubexit has logged s, and fails if kubexit exited
// instead, or right after.
func waitLog(t testing.TB, p *kubexitProc, s string) {
	t.Helper()
	waitFor(t, "kubexit to log "+strconv.Quote(s), func() bool { return strings.Contains(p.stderr.String(), s) || p.exited() })
	if !strings.Contains(p.stderr.String(), s) {
		t.Fatalf("kubexit exited %d before it logged %q; stderr:\n%s", p.code, s, p.stderr)
	}
	if p.exited() {
		t.Fatalf("kubexit exited %d after %q; stderr:\n%s", p.code, s, p.stderr)
	}
}

// terminationMessage is the termination message in path, without the
// trailing newline.
func terminationMessage(t *testing.T, path string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// notYet checks, for a while, that the child has not got the TERM. A
// forwarded TERM reaches it within milliseconds; half a second of absence
// is a generous sign of the hold (not a timing assertion: a broken hold
// fails it at once).
func notYet(t *testing.T, p *kubexitProc, tmp string) {
	t.Helper()
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if fileExists(filepath.Join(tmp, "term")) || p.exited() {
			t.Fatalf("the child got the TERM during the hold; stderr:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
