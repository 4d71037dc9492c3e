package main

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startHolder starts a proxy-like kubexit with KUBEXIT_SHUTDOWN_AFTER=after
// and extra env, whose child records the TERM it gets in $TMP/term and
// exits 0. It returns the process, the graveyard and the child's temp dir.
func startHolder(t *testing.T, after string, env map[string]string) (*kubexitProc, string, string, string) {
	t.Helper()
	gy := t.TempDir()
	msg := filepath.Join(t.TempDir(), "termination-log")
	e := map[string]string{"KUBEXIT_NAME": "proxy", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SHUTDOWN_AFTER": after,
		"KUBEXIT_TERMINATION_LOG": msg}
	for k, v := range env {
		e[k] = v
	}
	p, tmp := startReady(t, e, `trap 'touch "$TMP/term"; exit 0' TERM; `+loopUntilSignalled)
	return p, gy, tmp, msg
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

func terminationMessage(t *testing.T, path string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// A TERM from outside is held while the app is alive, and forwarded once
// its tombstone says it died; a second TERM during the hold does not cut it
// short.
func TestShutdownHeldUntilSiblingDies(t *testing.T) {
	t.Parallel()
	p, gy, tmp, msg := startHolder(t, "app", nil)
	writeFile(t, gy, "app", bornYAML)
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)

	// --status shows the held signal.
	cmd := exec.Command("kubexit", "--status")
	cmd.Env = append(os.Environ(), "KUBEXIT_GRAVEYARD="+gy)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "proxy  born, holding SIGTERM for app (") {
		t.Errorf("--status: %v\n%s", err, out)
	}

	writeFile(t, gy, "app", diedYAML)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if !fileExists(filepath.Join(tmp, "term")) {
		t.Error("the child never got the TERM")
	}
	if got := terminationMessage(t, msg); !strings.HasPrefix(got, "kubexit: exit 0: child exited 0; SIGTERM held ") || !strings.HasSuffix(got, ", until app was gone") {
		t.Errorf("termination message %q", got)
	}
	if strings.Count(p.stderr.String(), "forwarding signal to the child") != 1 {
		t.Errorf("want one forwarded TERM; stderr:\n%s", p.stderr)
	}
	if fileExists(filepath.Join(gy, holdFileName("proxy"))) {
		t.Error("the hold file was left behind")
	}
}

// The hold ends at KUBEXIT_SHUTDOWN_TIMEOUT if a sibling lives on; the
// message says who.
func TestShutdownHoldTimeout(t *testing.T) {
	t.Parallel()
	p, gy, tmp, msg := startHolder(t, "app,db", map[string]string{"KUBEXIT_SHUTDOWN_TIMEOUT": "1s"})
	writeFile(t, gy, "app", bornYAML)
	writeFile(t, gy, "db", diedYAML)
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if got := terminationMessage(t, msg); !strings.Contains(got, "; SIGTERM held ") || !strings.HasSuffix(got, "until KUBEXIT_SHUTDOWN_TIMEOUT ran out with app still running") {
		t.Errorf("termination message %q", got)
	}
}

// Gone: never born (no tombstone, or Died alone), died, or lost (its lock
// released). Such siblings do not hold the TERM up.
func TestShutdownSiblingsGone(t *testing.T) {
	t.Parallel()
	p, gy, tmp, msg := startHolder(t, "never,ghost,dead,killed", nil)
	writeFile(t, gy, "ghost", "Died: \"2026-11-25T23:21:14.610530456Z\"\nExitCode: 127\n")
	writeFile(t, gy, "dead", diedYAML)
	born := time.Now()
	fd, err := holdLifeLock(gy, "killed", born)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTombstone(gy, "killed", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)
	if locks, _ := lockTrusted(gy); !locks {
		syscall.Close(fd)
		writeTombstone(gy, "killed", tombstone{Born: &born, Died: &born})
		t.Logf("locks not trusted on %s: killed's death written instead", gy)
	} else {
		syscall.Close(fd) // as the kernel does for a SIGKILLed kubexit
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if got := terminationMessage(t, msg); !strings.HasSuffix(got, "until ghost, dead, killed were gone; never never had a tombstone in "+gy+": not held; a typo?") {
		t.Errorf("termination message %q", got)
	}
}

// Signals other than the stop signals are forwarded during the hold; a
// child that exits during the hold ends it.
func TestShutdownHoldOtherSignals(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	msg := filepath.Join(t.TempDir(), "termination-log")
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "proxy", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SHUTDOWN_AFTER": "app",
		"KUBEXIT_TERMINATION_LOG": msg},
		`trap 'touch "$TMP/term"' TERM; trap 'exit 5' USR1; `+loopUntilSignalled)
	writeFile(t, gy, "app", bornYAML)
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)
	p.signal(syscall.SIGUSR1)
	if code := p.wait(); code != 5 {
		t.Fatalf("exit %d, want 5; stderr:\n%s", code, p.stderr)
	}
	if got := terminationMessage(t, msg); !strings.HasPrefix(got, "kubexit: exit 5: child exited 5; SIGTERM held ") || !strings.HasSuffix(got, ", the child exited first") {
		t.Errorf("termination message %q", got)
	}
	if fileExists(filepath.Join(gy, holdFileName("proxy"))) {
		t.Error("the hold file was left behind")
	}
}

// Without KUBEXIT_SHUTDOWN_AFTER, or naming only itself, TERM is
// forwarded at once.
func TestShutdownNotHeld(t *testing.T) {
	t.Parallel()
	p, _, tmp, _ := startHolder(t, "proxy", nil)
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 || !fileExists(filepath.Join(tmp, "term")) {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "KUBEXIT_SHUTDOWN_AFTER names this process itself") {
		t.Errorf("no warning about its own name; stderr:\n%s", p.stderr)
	}
}

// INT (or QUIT), where a container's stop signal is configured so, is held
// the same way, and then forwarded as INT.
func TestShutdownHoldsINT(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "proxy", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SHUTDOWN_AFTER": "app"},
		`trap 'touch "$TMP/term"; exit 0' INT; `+loopUntilSignalled)
	writeFile(t, gy, "app", bornYAML)
	p.signal(syscall.SIGINT)
	notYet(t, p, tmp)
	writeFile(t, gy, "app", diedYAML)
	if code := p.wait(); code != 0 || !fileExists(filepath.Join(tmp, "term")) {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "signal=SIGINT held=") {
		t.Errorf("the release does not name SIGINT; stderr:\n%s", p.stderr)
	}
}

// A hold file that a sibling sharing the volume made a symbolic link to
// another file is replaced, never written through: the link's target is
// untouched, the refusal is said once, and the hold and the forwarded TERM
// work as usual.
func TestShutdownHoldFileLinkNotFollowed(t *testing.T) {
	t.Parallel()
	p, gy, tmp, _ := startHolder(t, "app", nil)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hold := filepath.Join(gy, holdFileName("proxy"))
	if err := os.Symlink(victim, hold); err != nil {
		t.Fatal(err)
	}
	writeFile(t, gy, "app", bornYAML)
	p.signal(syscall.SIGTERM)
	notYet(t, p, tmp)
	if fi, err := os.Lstat(hold); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("hold file during the hold: %v, %v; want a regular file", fi, err)
	}
	writeFile(t, gy, "app", diedYAML)
	if code := p.wait(); code != 0 || !fileExists(filepath.Join(tmp, "term")) {
		t.Fatalf("exit %d, child got TERM %v; stderr:\n%s", code, fileExists(filepath.Join(tmp, "term")), p.stderr)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Errorf("the link's target now holds %q, want it untouched", data)
	}
	if n := strings.Count(p.stderr.String(), "hold file is not a regular file"); n != 1 {
		t.Errorf("%d lines about the link, want 1; stderr:\n%s", n, p.stderr)
	}
	if _, err := os.Lstat(hold); err == nil {
		t.Error("the hold file was left behind")
	}
}

// A KUBEXIT_SHUTDOWN_AFTER name that never had a tombstone (a typo: app
// for app-main) holds nothing, and that is said: a WARN when the stop
// signal comes, and on release in the log and the termination message. A
// name that is there holds the signal as usual, and the report names only it
// as gone.
func TestShutdownAfterNeverBorn(t *testing.T) {
	t.Parallel()
	t.Run("alone", func(t *testing.T) {
		t.Parallel()
		p, gy, tmp, msg := startHolder(t, "app", nil)
		p.signal(syscall.SIGTERM)
		if code := p.wait(); code != 0 || !fileExists(filepath.Join(tmp, "term")) {
			t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
		}
		note := "app never had a tombstone in " + gy + ": not held; a typo?"
		if got := terminationMessage(t, msg); !strings.HasPrefix(got, "kubexit: exit 0: child exited 0; SIGTERM held ") || !strings.HasSuffix(got, "; "+note) {
			t.Errorf("termination message %q, want it to end %q", got, note)
		}
		stderr := p.stderr.String()
		if !strings.Contains(stderr, `level=WARN msg="KUBEXIT_SHUTDOWN_AFTER names siblings that never had a tombstone in the graveyard`) ||
			!strings.Contains(stderr, "never_born=app") || !strings.Contains(stderr, `level=WARN msg="siblings gone; forwarding the stop signal; `+note) {
			t.Errorf("the log does not say it; stderr:\n%s", stderr)
		}
	})
	t.Run("with another", func(t *testing.T) {
		t.Parallel()
		p, gy, tmp, msg := startHolder(t, "app,db", nil)
		writeFile(t, gy, "db", bornYAML)
		p.signal(syscall.SIGTERM)
		notYet(t, p, tmp)
		writeFile(t, gy, "db", diedYAML)
		if code := p.wait(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
		}
		if got := terminationMessage(t, msg); !strings.HasSuffix(got, ", until db was gone; app never had a tombstone in "+gy+": not held; a typo?") {
			t.Errorf("termination message %q", got)
		}
	})
}

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
