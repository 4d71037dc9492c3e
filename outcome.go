package main

// Outcomes: how kubexit's life ended, and the outcome of each way it ends
// other than a phase's own failure: a signal or a death dep's death before
// the child started, the death URL watcher's end, the child's exit or its
// failure to start.

import (
	"fmt"
	"os"
	"syscall"
)

// outcome is how kubexit's life ended: what the epilogue records and reports.
type outcome struct {
	// status is the child's exit status, or kubexit's own when there is no
	// child: what the tombstone records as ExitCode.
	status int
	reason string // one line, for the termination message
	cause  cause
}

// cause is what ended kubexit's life.
type cause int

const (
	causeChild    cause = iota // the child exited (by itself, or on a forwarded signal)
	causeDeathDep              // a death dep died: the child was terminated, or never started
	causeSignal                // a terminating signal before the child started
	causeFailure               // kubexit could not do its job: configuration, preflight, birth deps, start
)

func (c cause) String() string {
	return [...]string{"child exited", "death dep died", "signal", "failure"}[c]
}

// signalBeforeStart is the outcome of a terminating signal that arrived
// before the child started (128+N); nil for other signals, which are dropped.
func (s *supervisor) signalBeforeStart(sig os.Signal) *outcome {
	if !terminating(sig) {
		s.log.Debug("signal dropped: no child yet", "signal", signalName(sig))
		return nil
	}
	code := signalStatus(sig.(syscall.Signal))
	s.log.Warn("signal received before the child started; not starting it", "signal", signalName(sig), "exit_code", code)
	return &outcome{code, "not started: received " + signalName(sig), causeSignal}
}

// notStarted is the outcome of death deps' deaths (the quorum) before the
// child started: 143, as if the child had been terminated by SIGTERM for
// that reason. Without a child (only KUBEXIT_DEATH_URLS to call), it is the
// normal end.
func (s *supervisor) notStarted(ds deathSet, how string) *outcome {
	if s.noChild {
		o := s.deathWithoutChild(ds)
		return &o
	}
	if ds.single() && ds.List[0].Lost {
		how += " (its kubexit ended without recording a death)"
	}
	what := ds.describe(how)
	s.log.Warn(what+"; not starting the child", ds.logAttrs()...)
	s.callDeathURLs(ds)
	return &outcome{signalStatus(syscall.SIGTERM), "not started: " + what, causeDeathDep}
}

// deathWithoutChild calls the death URLs for the deaths of the quorum and
// waits for them: exit 0, or 1 if a call failed.
func (s *supervisor) deathWithoutChild(ds deathSet) outcome {
	s.log.Info(ds.headline(), ds.logAttrs()...)
	s.callDeathURLs(ds)
	what := ds.describe("died")
	if !s.waitDeathCalls() {
		return outcome{exitInternal, what + "; a death URL call failed", causeDeathDep}
	}
	return outcome{0, what + "; death URLs called", causeDeathDep}
}

// childExited is the outcome of the child's end: a signal is named only
// when one killed it, not for its own exit 128+N.
func (s *supervisor) childExited(c *child, end childEnd, killedBy string, killed bool) outcome {
	code := end.code
	attrs := []any{"exit_code", code}
	if end.signal != 0 {
		attrs = append(attrs, "signal", signalName(end.signal))
	}
	s.log.Info("child exited", attrs...)
	if c.group {
		// Leftovers of the child's process group go with it.
		c.signal(syscall.SIGTERM)
	}
	switch {
	case killed:
		return outcome{code, fmt.Sprintf("child killed after the grace period (%v) because %s", s.cfg.GracePeriod, killedBy), causeDeathDep}
	case killedBy != "":
		return outcome{code, fmt.Sprintf("child terminated because %s; it exited %s", killedBy, describeStatus(end)), causeDeathDep}
	}
	return outcome{code, "child exited " + describeStatus(end), causeChild}
}

// startFailed is the outcome of a child that could not be started. Born,
// if already written, is taken back: the tombstone will say the child never
// started (a script without a shebang, a missing interpreter: 126, 127).
func (s *supervisor) startFailed(command string, err error) outcome {
	s.born = nil
	code := startFailureStatus(err)
	s.log.Error("cannot start the child", "command", command, "err", err, "exit_code", code)
	return outcome{code, fmt.Sprintf("cannot start %s: %v", command, err), causeFailure}
}
