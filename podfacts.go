package main

// The supervisor's reading of its own pod for the death deps (restart.go):
// their restart rules, and this container's stop signal.

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// readPodFacts starts reading the pod's spec, for the death deps' restart
// rules and this container's stop signal, where kubexit may read its pod
// (KUBEXIT_POD_NAME set); nil elsewhere. What it cannot read is said once.
func (s *supervisor) readPodFacts(ctx context.Context) *podFacts {
	if s.cfg.PodName == "" || len(s.cfg.DeathDeps) == 0 {
		return nil
	}
	const cannot = "cannot read the pod's spec: the death deps' restart rules and this container's lifecycle.stopSignal are not known; deaths count as they come, but for the exit codes KUBEXIT_RESTART_CODES names"
	client, err := newPodClient(s.api, s.cfg.PodName, s.cfg.Namespace, s.log)
	if err != nil {
		s.log.Info(cannot, "err", err)
		return noPodFacts(err)
	}
	f := fetchPodFacts(ctx, client, s.log)
	go func() {
		<-f.ready
		switch {
		case f.err != nil:
			s.log.Warn(cannot, "err", f.err)
		case f.restartsAll:
			if _, err := readGeneration(s.cfg.Graveyard); errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("the pod restarts all its containers on some exits (a RestartAllContainers rule), but its graveyard has no generation: after such a restart, tombstones of the earlier run may be taken for this run's; run `kubexit --install` in an init container that mounts the graveyard", "graveyard", s.cfg.Graveyard)
			}
		}
	}()
	return f
}

// stopSignal is what a death dep's death sends the child:
// KUBEXIT_STOP_SIGNAL when set, else the container's lifecycle.stopSignal
// where the pod's spec was read, else TERM.
func (s *supervisor) stopSignal() syscall.Signal {
	if s.cfg.StopSignalSet || s.facts == nil {
		return s.cfg.StopSignal
	}
	select {
	case <-s.facts.ready:
	default:
		return s.cfg.StopSignal
	}
	if sig := unix.SignalNum(s.facts.stopSignals[s.cfg.Name]); sig != 0 {
		return sig
	}
	return s.cfg.StopSignal
}
