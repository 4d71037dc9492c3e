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
	for _, tc := range []struct {
		name          string
		deps, quorum  string
		child         bool
		first, second string // the deaths: short of the quorum, then meeting it
		code          int
		stderr, msg   string // in the log; the termination message, if any
	}{
		{name: "with a child", deps: "a,b,c", quorum: "2", child: true, first: "b", second: "a", code: 143,
			stderr: "deps=a,b url="},
		{name: "without a child", deps: "a,b", quorum: "all", first: "a", second: "b", code: 0,
			msg: "kubexit: exit 0: death deps a, b died (KUBEXIT_DEATH_QUORUM=all); death URLs called"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEndpoint(t, http.StatusOK)
			env, gy, msgFile := quorumEnv(t, tc.deps, tc.quorum, map[string]string{"KUBEXIT_DEATH_URLS": e.URL + "/quitquitquit"})
			var p *kubexitProc
			if tc.child {
				p, _ = startReady(t, env, loopUntilSignalled)
			} else {
				env["KUBEXIT_NAME"] = "watcher"
				p = startKubexit(t, env)
				waitTombstone(t, gy, "watcher", "born", isBorn)
			}
			writeFile(t, gy, tc.first, diedYAML)
			waitLog(t, p, "death dep "+tc.first+" died; 1 of 2 deaths needed")
			if n := e.calls.Load(); n != 0 {
				t.Fatalf("URL called %d times before the quorum", n)
			}
			writeFile(t, gy, tc.second, diedYAML)
			if code := p.wait(); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, p.stderr)
			}
			if n := e.calls.Load(); n != 1 {
				t.Errorf("URL called %d times, want once", n)
			}
			if !strings.Contains(p.stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, p.stderr)
			}
			if got := terminationMessage(t, msgFile); tc.msg != "" && got != tc.msg {
				t.Errorf("termination message %q, want %q", got, tc.msg)
			}
		})
	}
}
