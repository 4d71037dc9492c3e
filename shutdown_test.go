package main

import (
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The hold end to end, with real signals: testdata/script/shutdown_hold.txtar.

// At start-up, names with no tombstone after a while are warned about once;
// names with tombstones are not.
func TestShutdownAfterNeverBornAtStart(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	writeFile(t, gy, "db", bornYAML)
	logs := &syncBuffer{}
	cfg := config{Name: "proxy", Graveyard: gy, ShutdownAfter: []string{"app", "db"}}
	h := newShutdownHold(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	h.checkNames(10 * time.Millisecond)
	defer h.stop()
	waitFor(t, "the warning", func() bool { return strings.Contains(logs.String(), "never_born=app ") })
	if strings.Count(logs.String(), "level=WARN") != 1 || strings.Contains(logs.String(), "db") {
		t.Errorf("want one WARN naming app only:\n%s", logs)
	}

	writeFile(t, gy, "app", bornYAML)
	logs2 := &syncBuffer{}
	h2 := newShutdownHold(cfg, slog.New(slog.NewTextHandler(logs2, nil)))
	h2.checkNames(10 * time.Millisecond)
	defer h2.stop()
	time.Sleep(200 * time.Millisecond) // ten times the delay: a wrong warning would be there
	if logs2.String() != "" {
		t.Errorf("warned with every name born:\n%s", logs2)
	}
}

// Two kubexits that each hold their stop signal until the other is gone
// would hold for all of KUBEXIT_SHUTDOWN_TIMEOUT (60s here; forever with
// 0): the first to see the cycle in the other's hold file releases, names
// the cycle, and the other's wait then ends as usual. Both stop well before
// the timeout.
func TestShutdownCycleReleased(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	start := func(name, after string) (*kubexitProc, string) {
		msg := filepath.Join(t.TempDir(), "termination-log")
		p, _ := startReady(t, map[string]string{"KUBEXIT_NAME": name, "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SHUTDOWN_AFTER": after,
			"KUBEXIT_SHUTDOWN_TIMEOUT": "60s", "KUBEXIT_TERMINATION_LOG": msg}, `trap 'exit 0' TERM; `+loopUntilSignalled)
		return p, msg
	}
	a, amsg := start("a", "b")
	b, bmsg := start("b", "a")
	waitTombstone(t, gy, "a", "born", isBorn)
	waitTombstone(t, gy, "b", "born", isBorn)
	a.signal(syscall.SIGTERM)
	b.signal(syscall.SIGTERM)
	// Generous, but half the timeout: a release by the timeout fails it.
	waitWithin(t, 30*time.Second, 50*time.Millisecond, "both to stop", func() bool { return a.exited() && b.exited() })
	if a.code != 0 || b.code != 0 {
		t.Errorf("exit %d and %d, want 0", a.code, b.code)
	}
	logs := a.stderr.String() + b.stderr.String()
	if !strings.Contains(logs, `cycle="a -> b -> a"`) && !strings.Contains(logs, `cycle="b -> a -> b"`) {
		t.Errorf("no log names the cycle:\n%s", logs)
	}
	msgs := terminationMessage(t, amsg) + "\n" + terminationMessage(t, bmsg)
	if !strings.Contains(msgs, "a cycle of holds, ") || strings.Contains(msgs, "KUBEXIT_SHUTDOWN_TIMEOUT ran out") {
		t.Errorf("termination messages:\n%s", msgs)
	}
}

// holdCycle follows the hold files from this process through siblings
// still there, back to it; a gone sibling's leftover hold file holds
// nothing. --check names the cycle it can see.
func TestShutdownHoldCycle(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	hold := func(name, after string) {
		writeFile(t, gy, holdFileName(name), "Signal: SIGTERM\nSince: \"2026-11-25T23:21:14Z\"\nAfter: "+after+"\n")
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		writeFile(t, gy, name, bornYAML)
	}
	g := newGraveyardReader(gy)
	cycle := func(self string, first ...string) string {
		return strings.Join(holdCycle(g, self, first), " -> ")
	}
	hold("b", "d,c")
	hold("c", "a")
	if got := cycle("a", "b"); got != "a -> b -> c -> a" {
		t.Errorf("cycle %q", got)
	}
	if got := cycle("d", "b"); got != "d -> b -> d" {
		t.Errorf("cycle %q", got)
	}
	if got := cycle("e", "b"); got != "" {
		t.Errorf("cycle not through e: %q", got)
	}
	writeFile(t, gy, "c", diedYAML)
	if got := cycle("a", "b"); got != "" {
		t.Errorf("through a gone sibling: %q", got)
	}

	writeFile(t, gy, "c", bornYAML)
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SHUTDOWN_AFTER": "b"}, "--check")
	if code := p.wait(); code != 0 || !strings.Contains(p.stdout.String(), "WARN: KUBEXIT_SHUTDOWN_AFTER: the hold files show a cycle of holds, a -> b -> c -> a,") {
		t.Errorf("--check: exit %d\n%s%s", code, p.stdout, p.stderr)
	}
}
