package main

// KUBEXIT_DEATH_QUORUM end to end: real kubexit processes, real children,
// real graveyards. Each test waits for what kubexit logs, never for a time.

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quorumEnv is the environment of a sidecar with death deps deps and
// KUBEXIT_DEATH_QUORUM quorum, its termination message in a file of its own.
func quorumEnv(t *testing.T, deps, quorum string, more map[string]string) (env map[string]string, gy, msgFile string) {
	gy = t.TempDir()
	msgFile = filepath.Join(t.TempDir(), "termination-log")
	env = map[string]string{
		"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": deps,
		"KUBEXIT_DEATH_QUORUM": quorum, "KUBEXIT_TERMINATION_LOG": msgFile,
	}
	maps.Copy(env, more)
	return env, gy, msgFile
}

// expectMessage checks the termination message.
func expectMessage(t *testing.T, msgFile, want string) {
	t.Helper()
	data, _ := os.ReadFile(msgFile)
	if got := strings.TrimSuffix(string(data), "\n"); got != want {
		t.Errorf("termination message %q, want %q", got, want)
	}
}

// waitQuorumLog waits until kubexit has logged want, and fails if kubexit exited
// (its child stopped) instead.
func waitQuorumLog(t *testing.T, p *kubexitProc, want string) {
	t.Helper()
	waitFor(t, "kubexit to log "+want, func() bool { return strings.Contains(p.stderr.String(), want) || p.exited() })
	if !strings.Contains(p.stderr.String(), want) {
		t.Fatalf("kubexit exited %d before it logged %q; stderr:\n%s", p.code, want, p.stderr)
	}
	if p.exited() {
		t.Fatalf("kubexit exited %d after %q; stderr:\n%s", p.code, want, p.stderr)
	}
}

// A quorum of 2 of 3: the child keeps running after the first death and is
// terminated after the second; the log and the message name both deps.
func TestQuorumTwoOfThree(t *testing.T) {
	t.Parallel()
	env, gy, msgFile := quorumEnv(t, "a,b,c", "2", nil)
	p, _ := startReady(t, env, loopUntilSignalled)
	waitQuorumLog(t, p, `quorum="2 of 3"`)
	writeFile(t, gy, "a", diedYAML)
	waitQuorumLog(t, p, "death dep a died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=2 of 3); waiting for 1 more of b, c")
	writeFile(t, gy, "c", diedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit %d, want 143; stderr:\n%s", code, p.stderr)
	}
	if want := "death deps a, c died (KUBEXIT_DEATH_QUORUM=2 of 3); terminating the child"; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
	}
	expectMessage(t, msgFile, "kubexit: exit 143: child terminated because death deps a, c died (KUBEXIT_DEATH_QUORUM=2 of 3); it exited 143 (SIGTERM)")
	if ts, _ := readTombstone(gy, "sidecar"); ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %+v, want Died with 143", ts)
	}
}

// KUBEXIT_DEATH_QUORUM=all, as a Job's sidecar with two mains and
// KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS: stopped after the last main, exit 0,
// tombstone 143.
func TestQuorumAll(t *testing.T) {
	t.Parallel()
	env, gy, msgFile := quorumEnv(t, "worker1,worker2", "all", map[string]string{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "true"})
	p, _ := startReady(t, env, loopUntilSignalled)
	writeFile(t, gy, "worker2", diedYAML)
	waitQuorumLog(t, p, "death dep worker2 died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for worker1")
	writeFile(t, gy, "worker1", diedYAML)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d, want 0 (KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS); stderr:\n%s", code, p.stderr)
	}
	expectMessage(t, msgFile, "kubexit: exit 0: child terminated because death deps worker1, worker2 died (KUBEXIT_DEATH_QUORUM=all); it exited 143 (SIGTERM)")
	if ts, _ := readTombstone(gy, "sidecar"); ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %+v, want ExitCode 143 (the child's real status)", ts)
	}
}

// A dep that dies and is born again (Born later than its Died) before the
// quorum is met drops out: the child keeps running while the other deps
// die, and is terminated only when the reborn dep dies again.
func TestQuorumRebornDropsOut(t *testing.T) {
	t.Parallel()
	env, gy, msgFile := quorumEnv(t, "a,b", "all", nil)
	p, _ := startReady(t, env, loopUntilSignalled)
	writeFile(t, gy, "a", diedYAML)
	waitQuorumLog(t, p, "death dep a died; 1 of 2 deaths needed")
	writeFile(t, gy, "a", rebornYAML)
	waitQuorumLog(t, p, "death dep a was born again: its death no longer counts; 0 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all)")
	writeFile(t, gy, "b", diedYAML)
	waitQuorumLog(t, p, "death dep b died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for a")
	writeFile(t, gy, "a", rebornDiedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit %d, want 143; stderr:\n%s", code, p.stderr)
	}
	expectMessage(t, msgFile, "kubexit: exit 143: child terminated because death deps a, b died (KUBEXIT_DEATH_QUORUM=all); it exited 143 (SIGTERM)")
}

// A quorum already met when kubexit starts: the child is never started
// (143), and the message names the deps. One death short of it, the child
// starts.
func TestQuorumMetAtStart(t *testing.T) {
	t.Parallel()
	env, gy, msgFile := quorumEnv(t, "a,b,c", "2", nil)
	writeFile(t, gy, "a", diedYAML)
	writeFile(t, gy, "c", diedYAML)
	started := filepath.Join(t.TempDir(), "started")
	code, stderr := runKubexit(t, env, "touch", started)
	if code != 143 || fileExists(started) {
		t.Fatalf("exit %d, child started: %v; want 143 and no child; stderr:\n%s", code, fileExists(started), stderr)
	}
	if want := "death deps a, c already dead (KUBEXIT_DEATH_QUORUM=2 of 3); not starting the child"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	expectMessage(t, msgFile, "kubexit: exit 143: not started: death deps a, c already dead (KUBEXIT_DEATH_QUORUM=2 of 3)")
	if ts, _ := readTombstone(gy, "sidecar"); ts.Born != nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %+v, want Died with 143 and no Born", ts)
	}

	os.Remove(filepath.Join(gy, "c"))
	if code, stderr := runKubexit(t, env, "touch", started); code != 0 || !fileExists(started) {
		t.Errorf("one death of two: exit %d, child started: %v; want 0 and the child run; stderr:\n%s", code, fileExists(started), stderr)
	}
}

// Under KUBEXIT_DEATH_ON=success a failed death does not count towards the
// quorum: the child runs on until the failed dep, restarted, succeeds.
func TestQuorumDeathOnSuccess(t *testing.T) {
	t.Parallel()
	env, gy, msgFile := quorumEnv(t, "a,b", "all", map[string]string{"KUBEXIT_DEATH_ON": "success"})
	p, _ := startReady(t, env, loopUntilSignalled)
	writeFile(t, gy, "a", failedYAML)
	waitQuorumLog(t, p, "does not count with KUBEXIT_DEATH_ON=success")
	writeFile(t, gy, "b", diedYAML)
	waitQuorumLog(t, p, "death dep b died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for a")
	writeFile(t, gy, "a", rebornYAML)
	waitQuorumLog(t, p, "death dep is alive again")
	writeFile(t, gy, "a", rebornDiedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit %d, want 143; stderr:\n%s", code, p.stderr)
	}
	expectMessage(t, msgFile, "kubexit: exit 143: child terminated because death deps a, b died (KUBEXIT_DEATH_QUORUM=all); it exited 143 (SIGTERM)")
}

// KUBEXIT_DEATH_URLS are called once, when the quorum is met: not at the
// first death. With a child, and as a watcher without one.
func TestQuorumDeathURLs(t *testing.T) {
	t.Parallel()
	t.Run("with a child", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		env, gy, _ := quorumEnv(t, "a,b,c", "2", map[string]string{"KUBEXIT_DEATH_URLS": e.URL + "/quitquitquit"})
		p, _ := startReady(t, env, loopUntilSignalled)
		writeFile(t, gy, "b", diedYAML)
		waitQuorumLog(t, p, "death dep b died; 1 of 2 deaths needed")
		if n := e.calls.Load(); n != 0 {
			t.Fatalf("URL called %d times before the quorum", n)
		}
		writeFile(t, gy, "a", diedYAML)
		if code := p.wait(); code != 143 {
			t.Fatalf("exit %d, want 143; stderr:\n%s", code, p.stderr)
		}
		if n := e.calls.Load(); n != 1 {
			t.Errorf("URL called %d times, want once", n)
		}
		if want := `deps=a,b url=`; !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
		}
	})
	t.Run("without a child", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		env, gy, msgFile := quorumEnv(t, "a,b", "all", map[string]string{"KUBEXIT_DEATH_URLS": e.URL + "/quitquitquit"})
		env["KUBEXIT_NAME"] = "watcher"
		p := startKubexit(t, env)
		waitTombstone(t, gy, "watcher", "born", isBorn)
		writeFile(t, gy, "a", diedYAML)
		waitQuorumLog(t, p, "death dep a died; 1 of 2 deaths needed")
		if n := e.calls.Load(); n != 0 {
			t.Fatalf("URL called %d times before the quorum", n)
		}
		writeFile(t, gy, "b", diedYAML)
		if code := p.wait(); code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", code, p.stderr)
		}
		if n := e.calls.Load(); n != 1 {
			t.Errorf("URL called %d times, want once", n)
		}
		expectMessage(t, msgFile, "kubexit: exit 0: death deps a, b died (KUBEXIT_DEATH_QUORUM=all); death URLs called")
	})
}
