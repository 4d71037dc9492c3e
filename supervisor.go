package main

// The supervisor's state through one life, and the KUBEXIT_DEATH_URLS calls
// it has in flight.

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// supervisor runs one child and keeps its tombstone.
type supervisor struct {
	cfg       config
	cfgErr    error // cfg's problems, nil when it is valid
	log       *slog.Logger
	api       apiEnv
	deathURLs deathURLTimings
	// noChild is set when kubexit runs without a command, only to call
	// KUBEXIT_DEATH_URLS when a death dep dies.
	noChild bool
	// noGraveyard is set when the graveyard was found unusable at
	// start-up: that was said once, and no tombstone is tried.
	noGraveyard bool
	// nameInUse is set when another live kubexit holds this name's life
	// lock: the tombstone is that one's, and is not written.
	nameInUse bool
	born      *time.Time // when Born was recorded
	// facts is what was read of the pod's spec (restart.go): nil when it
	// is not read.
	facts *podFacts
	// deathCalls tracks the KUBEXIT_DEATH_URLS calls in flight; kubexit
	// lets them finish before it exits.
	deathCalls       sync.WaitGroup
	deathCallsFailed atomic.Bool
}

// callDeathURLs starts calling KUBEXIT_DEATH_URLS, if any, for the deaths
// of the quorum: once, when it is met.
func (s *supervisor) callDeathURLs(ds deathSet) {
	if len(s.cfg.DeathURLs) == 0 {
		return
	}
	// The calls' logs name the dep ("dep"), or the deps ("deps").
	log := s.log.With(ds.logAttrs()[:2]...)
	s.deathCalls.Go(func() {
		if err := callDeathURLs(context.Background(), s.deathURLs, s.cfg.DeathURLs, s.cfg.DeathURLMethod, log); err != nil {
			s.deathCallsFailed.Store(true)
		}
	})
}

// waitDeathCalls waits for the death URL calls in flight; false if any failed.
func (s *supervisor) waitDeathCalls() bool {
	s.deathCalls.Wait()
	return !s.deathCallsFailed.Load()
}
