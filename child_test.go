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
	stopProcess(t, pid, "the child")
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
	stopProcess(t, pid, "the child")
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

// A running child gets the TERM and no CONT, whether kubexit forwards the
// TERM or sends it for a dead death dep, to the child or to its process
// group: the CONT is only for a stopped child. The child records the
// signals it traps in order; WINCH, forwarded once TERM is recorded, ends it
// (trapped last: sh runs pending traps in signal order, so a CONT sent with
// the TERM would be recorded before it).
func TestRunningChildNoContAfterTerm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		group bool
		dep   bool // a death dep dies, rather than a TERM from outside
	}{
		{"forwarded", false, false}, {"death dep", false, true},
		{"forwarded to the group", true, false}, {"death dep, group", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gy := t.TempDir()
			p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
				"KUBEXIT_GRACE_PERIOD": "10m", "KUBEXIT_PROCESS_GROUP": strconv.FormatBool(tc.group)},
				`for s in TERM CONT; do trap "echo $s >> \"\$TMP/got\"" $s; done; trap 'echo WINCH >> "$TMP/got"; exit 0' WINCH; `+loopUntilSignalled)
			got := filepath.Join(tmp, "got")
			if tc.dep {
				writeFile(t, gy, "main", diedYAML)
			} else {
				p.signal(syscall.SIGTERM)
			}
			waitFor(t, "the child to trap TERM", func() bool { data, _ := os.ReadFile(got); return strings.Contains(string(data), "TERM") })
			p.signal(syscall.SIGWINCH)
			if code := p.wait(); code != 0 {
				t.Fatalf("exit %d, want 0 (the child's WINCH trap); stderr:\n%s", code, p.stderr)
			}
			if data, _ := os.ReadFile(got); string(data) != "TERM\nWINCH\n" {
				t.Errorf("the child trapped %q, want TERM then WINCH, no CONT", data)
			}
		})
	}
}

// With KUBEXIT_PROCESS_GROUP, a stopped member of the group, not only the
// leader, has the CONT sent after the TERM: the child's own child, stopped,
// acts on the TERM (dies of it) instead of staying stopped. The child waits
// for it in its TERM trap, so the group is not orphaned (the kernel would
// continue it then) until it is gone; a grace period of 10 min leaves the
// test's timeout to say that it stayed stopped.
func TestStoppedGroupMemberContinuedAfterTerm(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy,
		"KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_PROCESS_GROUP": "true", "KUBEXIT_GRACE_PERIOD": "10m"},
		`sleep 600 & gc=$!; echo $gc > "$TMP/pid"; trap 'wait $gc; exit 0' TERM; `+loopUntilSignalled)
	pid := childPID(t, tmp)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	stopProcess(t, pid, "the grandchild")
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d, want 0 (the child's TERM trap ran); stderr:\n%s", code, p.stderr)
	}
	waitFor(t, "the stopped grandchild to die of the TERM", func() bool {
		s := procState(pid)
		return s == "" || s == "Z" || s == "X"
	})
}

// stopProcess stops pid (SIGSTOP), what it is, and waits until it is stopped.
func stopProcess(t *testing.T, pid int, what string) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, what+" to stop", func() bool { return procState(pid) == "T" })
}
