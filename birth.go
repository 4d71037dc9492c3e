package main

// The birth wait: the child starts only once KUBEXIT_BIRTH_DEPS are Ready
// (readiness.go) and KUBEXIT_BIRTH_PROBES pass (probes.go); a death dep's
// death or a terminating signal ends the wait, and the life, first.

import (
	"context"
	"errors"
	"os"
)

// waitForBirthDeps blocks until the birth deps are ready and the birth
// probes pass. While it waits, a death dep dying, a terminating signal or a
// failed wait ends the life without a child.
func (s *supervisor) waitForBirthDeps(ctx context.Context, signals <-chan os.Signal, deaths <-chan deathSet) *outcome {
	if len(s.cfg.BirthDeps) == 0 && len(s.cfg.BirthProbes) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- s.birthWait(ctx) }()
	for {
		select {
		case err := <-result:
			if err == nil {
				return nil
			}
			what := "cannot wait for birth deps"
			if errors.Is(err, errProbesTimedOut) {
				what = "birth probes timed out" // err names each failing probe
			}
			s.log.Error(what+"; not starting the child", "err", err)
			return &outcome{exitInternal, "not started: " + err.Error(), causeFailure}
		case d := <-deaths:
			return s.notStarted(d, "died while waiting for birth deps")
		case sig := <-signals:
			if o := s.signalBeforeStart(sig); o != nil {
				return o
			}
		}
	}
}

// birthWait is the wait itself: the probes (probes.go) and the API wait
// (a client for this pod, then the poll), each only when configured, at the
// same time and each within KUBEXIT_BIRTH_TIMEOUT; both must hold, and the
// first to fail ends the other. Without KUBEXIT_BIRTH_DEPS nothing of the
// Kubernetes API is touched: no token, no client config, no connection.
func (s *supervisor) birthWait(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var waits []func(context.Context) error
	if len(s.cfg.BirthProbes) > 0 {
		p := birthProbes{Probes: s.cfg.BirthProbes, Timeout: s.cfg.BirthTimeout, Interval: s.cfg.ReadinessInterval}
		waits = append(waits, func(ctx context.Context) error { return waitForProbes(ctx, p, s.log) })
	}
	if len(s.cfg.BirthDeps) > 0 {
		waits = append(waits, func(ctx context.Context) error {
			client, err := newPodClient(s.api, s.cfg.PodName, s.cfg.Namespace, s.log)
			if err != nil {
				return err
			}
			b := birthDeps{Deps: s.cfg.BirthDeps, Self: s.cfg.Name, Timeout: s.cfg.BirthTimeout, Interval: s.cfg.ReadinessInterval}
			return waitForBirthDeps(ctx, b, client, s.log)
		})
	}
	results := make(chan error, len(waits))
	for _, w := range waits {
		go func() { results <- w(ctx) }()
	}
	for range waits {
		if err := <-results; err != nil {
			return err // the deferred cancel ends the other wait
		}
	}
	return nil
}
