package main

// KUBEXIT_DEATH_QUORUM end to end with death URLs: real kubexit processes,
// real children, real graveyards. Each test waits for what kubexit logs,
// never for a time. (The quorum alone: testdata/script/death_quorum.txtar
// and quorum_while_running.txtar.)

import (
	"maps"
	"net/http"
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
		waitLog(t, p, "death dep b died; 1 of 2 deaths needed")
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
		waitLog(t, p, "death dep a died; 1 of 2 deaths needed")
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
		if got, want := terminationMessage(t, msgFile), "kubexit: exit 0: death deps a, b died (KUBEXIT_DEATH_QUORUM=all); death URLs called"; got != want {
			t.Errorf("termination message %q, want %q", got, want)
		}
	})
}
