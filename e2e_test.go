package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// End-to-end tests: the real kubexit binary (see TestMain), real child
// processes (sh scripts), real signals, real graveyards in temp dirs.

// Black-box behaviour that needs no signal sent at a chosen moment is in
// testdata/script.

func TestSignalsAreForwarded(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			// The child exits with the signal number so the test can tell
			// which one arrived. sh's trap wants the name without "SIG".
			trap := `trap 'exit ` + strconv.Itoa(int(sig)) + `' ` + strings.TrimPrefix(signalName(sig), "SIG") + `; `
			p, _ := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()}, trap+loopUntilSignalled)
			p.signal(sig)
			if code := p.wait(); code != int(sig) {
				t.Fatalf("exit status %d, want %d (the child's trap for %v); stderr:\n%s", code, int(sig), sig, p.stderr)
			}
		})
	}
}

// A child that does not handle the forwarded TERM dies of it: 128+15.
func TestForwardedTermKillsChild(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	p, _ := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, `touch "$READY"; exec sleep 600`)
	waitTombstone(t, gy, "app", "born", isBorn)
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
	}
	ts, _ := readTombstone(gy, "app")
	if ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %v, want exit code 143", ts)
	}
}

// TestJSONLogs decodes every line of KUBEXIT_LOG_FORMAT=json as JSON.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_LOG_FORMAT": "json"}, "true")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["logger"] != "kubexit" || rec["name"] != "app" || rec["time"] == nil || rec["level"] == nil {
			t.Errorf("record lacks logger/name/time/level: %q", line)
		}
	}
}
