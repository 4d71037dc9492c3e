package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// childPID reads the PID the child wrote into $TMP/pid.
func childPID(t *testing.T, tmp string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tmp, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// A child stopped (SIGSTOP) when its death dep dies is continued after the
// TERM, as container runtimes do: it acts on the TERM at once instead of
// waiting, stopped, for the KILL at the end of the grace period (10 min
// here: the test's own timeout comes first).
func TestStoppedChildContinuedAfterTerm(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy,
		"KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_GRACE_PERIOD": "10m"},
		`echo $$ > "$TMP/pid"; trap 'exit 0' TERM; `+loopUntilSignalled)
	pid := childPID(t, tmp)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to stop", func() bool { return procState(pid) == "T" })
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d, want 0 (the child's TERM trap ran); stderr:\n%s", code, p.stderr)
	}
}

// The same for a TERM from outside, forwarded to a stopped child.
func TestStoppedChildContinuedAfterForwardedTerm(t *testing.T) {
	t.Parallel()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		`echo $$ > "$TMP/pid"; trap 'exit 0' TERM; `+loopUntilSignalled)
	pid := childPID(t, tmp)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to stop", func() bool { return procState(pid) == "T" })
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d, want 0 (the child's TERM trap ran); stderr:\n%s", code, p.stderr)
	}
}

// Outside PID 1, a SIGKILLed kubexit takes its child with it (the parent
// death signal): the child does not run on unsupervised.
func TestChildKilledWithKubexit(t *testing.T) {
	t.Parallel()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		`echo $$ > "$TMP/pid"; `+loopUntilSignalled)
	pid := childPID(t, tmp)
	p.signal(syscall.SIGKILL)
	p.wait()
	// Gone, or a zombie waiting for whoever it was re-parented to.
	waitFor(t, "the child to die with kubexit", func() bool {
		s := procState(pid)
		return s == "" || s == "Z" || s == "X"
	})
}
