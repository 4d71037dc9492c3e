package main

// Birth deps: kubexit holds its child until named containers of its own pod
// are Ready, as read from the Kubernetes API (kubeapi.go) every
// KUBEXIT_READINESS_INTERVAL.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Tunables of the readiness poller.
const (
	// readinessBackoffCap bounds the delay between attempts after API errors
	// (unless KUBEXIT_READINESS_INTERVAL is longer).
	readinessBackoffCap = 10 * time.Second
	// Progress is logged first after readinessProgressFirst of waiting,
	// then every readinessProgressEvery.
	readinessProgressFirst = 5 * time.Second
	readinessProgressEvery = 30 * time.Second
	// readinessConfirmDelay is the pause before a GET that confirms a 401,
	// 403 or 404: a kube-apiserver that has just started may answer 403
	// for a moment before its RBAC caches fill (seen on the test bed).
	readinessConfirmDelay = time.Second
)

// birthDeps is what the birth wait needs of the configuration.
type birthDeps struct {
	Deps     []string      // KUBEXIT_BIRTH_DEPS
	Self     string        // KUBEXIT_NAME, which should be a container of the pod
	Timeout  time.Duration // 0 waits forever
	Interval time.Duration
}

// waitForBirthDeps blocks until every birth dep is Ready in the pod that
// client reads. It returns nil when they are, ctx.Err() when ctx is cancelled
// (the supervisor cancels it on a signal or a death dep's death), and
// otherwise an error, one line meant for a pod log, that says what to fix: on
// the timeout, or at once on what waiting cannot cure (RBAC, a missing pod, a
// dep that is not a container of the pod).
func waitForBirthDeps(ctx context.Context, b birthDeps, client *podClient, log *slog.Logger) error {
	w := &birthWaiter{birthDeps: b, client: client, log: log, jitter: rand.Float64}
	return w.wait(ctx)
}

// birthWaiter is one wait: what it is waiting for and what it has seen.
type birthWaiter struct {
	birthDeps
	client *podClient
	log    *slog.Logger
	// jitter returns a number in [0, 1); rand.Float64 but for tests.
	jitter func() float64

	start        time.Time
	nextProgress time.Time
	failures     int         // consecutive failed GETs
	fatals       int         // consecutive answers that waiting cannot cure
	fatal        error       // the last of those, while fatals > 0
	lastErr      error       // of the last GET, nil if it succeeded
	lastErrKey   string      // the kind of lastErr, logged once
	notReady     []depStatus // as last read
	haveStatus   bool        // some GET succeeded
	lastSummary  string      // of notReady, logged when it changes
	selfWarned   bool        // KUBEXIT_NAME not in the pod: warned once
}

// depStatus is one birth dep's readiness.
type depStatus struct {
	Name   string
	Ready  bool
	Reason string // why it is not ready
}

// birthDeadline is the context of a birth wait bounded by
// KUBEXIT_BIRTH_TIMEOUT (0: none), and the timeout as logs show it.
func birthDeadline(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc, string) {
	if timeout <= 0 {
		return ctx, func() {}, "none"
	}
	c, cancel := context.WithTimeout(ctx, timeout)
	return c, cancel, timeout.String()
}

// wait reads the pod, judges what it read, and sleeps, until the deps are
// ready, the wait fails, or it ends (ctx cancelled, or the timeout).
func (w *birthWaiter) wait(ctx context.Context) error {
	w.start = time.Now()
	w.nextProgress = w.start.Add(readinessProgressFirst)
	waitCtx, cancel, timeout := birthDeadline(ctx, w.Timeout)
	defer cancel()
	w.log.Info("waiting for birth deps", "deps", strings.Join(w.Deps, ","),
		"pod", w.client.String(), "interval", w.Interval.String(), "timeout", timeout, "api", w.client.src.desc)
	for {
		p, err := w.client.get(waitCtx)
		if waitCtx.Err() != nil {
			return w.ended(ctx)
		}
		var delay time.Duration
		var done bool
		if err != nil {
			delay, err = w.failed(err)
		} else {
			delay, done, err = w.read(p)
		}
		if done || err != nil {
			return err
		}
		w.logProgress()
		if !sleepCtx(waitCtx, delay) {
			return w.ended(ctx)
		}
	}
}

// ended is the wait's result when it was cut short: ctx's error when ctx was
// cancelled, else (the timeout) an answer that waiting could not cure, if one
// was being confirmed, else the deps that are not ready.
func (w *birthWaiter) ended(ctx context.Context) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case w.fatal != nil:
		return w.fatal
	}
	return w.timeoutError()
}

// failed judges a failed GET: the delay before the next one, or the error
// that ends the wait.
func (w *birthWaiter) failed(err error) (time.Duration, error) {
	w.failures++
	if fatal := w.client.fatalError(err); fatal != nil {
		if w.fatals++; w.fatals >= 2 {
			return 0, fatal
		}
		w.fatal = fatal
		delay := min(readinessConfirmDelay, max(w.Interval, readinessConfirmDelay/5))
		w.log.Debug("checking again before giving up", "err", oneLine(err.Error()), "retry_in", delay.String())
		return delay, nil
	}
	w.fatals, w.fatal, w.lastErr = 0, nil, err
	delay := retryDelay(w.Interval, w.failures, w.jitter)
	if key := errorKey(err); key != w.lastErrKey {
		w.lastErrKey = key
		w.log.Warn("cannot read the pod; retrying", "pod", w.client.String(), "err", oneLine(err.Error()), "retry_in", delay.Round(time.Millisecond).String())
	}
	return delay, nil
}

// read judges a pod that was read: done when the deps are ready, an error
// when they never can be, else the delay before the next read.
func (w *birthWaiter) read(p *pod) (delay time.Duration, done bool, err error) {
	if w.failures > 0 {
		w.log.Info("the pod is readable again", "failed_attempts", w.failures)
	}
	w.failures, w.fatals, w.fatal, w.lastErr, w.lastErrKey = 0, 0, nil, nil, ""
	selfProblem, problems := checkPodContainers(p, w.Deps, w.Self, w.client.namespace)
	if problems != nil {
		return 0, true, problems
	}
	if selfProblem != "" && !w.selfWarned {
		w.selfWarned = true
		w.log.Warn(selfProblem + "; going on, as the original kubexit does")
	}
	w.haveStatus = true
	w.notReady = w.notReady[:0]
	for _, s := range evaluateDeps(p, w.Deps) {
		if !s.Ready {
			w.notReady = append(w.notReady, s)
		}
	}
	if len(w.notReady) == 0 {
		w.log.Info("birth deps ready", "deps", strings.Join(w.Deps, ","), "waited", time.Since(w.start).Round(time.Millisecond).String())
		return 0, true, nil
	}
	if s := describeNotReady(w.notReady); s != w.lastSummary {
		w.lastSummary = s
		w.log.Debug("birth deps not ready", "not_ready", s)
	}
	return w.Interval, false, nil
}

// logProgress says, at its pace, what the wait is still waiting for.
func (w *birthWaiter) logProgress() {
	now := time.Now()
	if now.Before(w.nextProgress) {
		return
	}
	w.nextProgress = now.Add(readinessProgressEvery)
	attrs := []any{"waited", now.Sub(w.start).Round(time.Second).String()}
	if w.haveStatus {
		attrs = append(attrs, "not_ready", describeNotReady(w.notReady))
	}
	if w.lastErr != nil {
		attrs = append(attrs, "last_error", oneLine(w.lastErr.Error()))
	}
	w.log.Info("still waiting for birth deps", attrs...)
}

// timeoutError lists every dep that is not ready and why.
func (w *birthWaiter) timeoutError() error {
	var b strings.Builder
	fmt.Fprintf(&b, "birth deps not ready after %v: ", w.Timeout)
	if w.haveStatus {
		b.WriteString(describeNotReady(w.notReady))
		if w.lastErr != nil {
			fmt.Fprintf(&b, " (as last read; the last attempt failed: %s)", oneLine(w.lastErr.Error()))
		}
	} else {
		fmt.Fprintf(&b, "%s: pod %s could not be read: ", strings.Join(w.Deps, ", "), w.client)
		if w.lastErr != nil {
			b.WriteString(oneLine(w.lastErr.Error()))
		} else {
			b.WriteString("no answer from the API server")
		}
	}
	return errors.New(b.String())
}

// retryDelay is the pause after the n-th consecutive failed GET (n >= 1):
// exponential from interval, capped at readinessBackoffCap (or interval if
// longer), with jitter: a random point in the upper half.
func retryDelay(interval time.Duration, n int, jitter func() float64) time.Duration {
	limit := max(readinessBackoffCap, interval)
	d := interval
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// checkPodContainers fails when a birth dep is not a container of the pod,
// or can never be Ready (a plain init container, which runs to completion):
// all problems, on one line. A self (KUBEXIT_NAME) that is not a container of
// the pod is only a warning: the original accepts it.
func checkPodContainers(p *pod, deps []string, self, namespace string) (warning string, err error) {
	var problems []string
	for _, dep := range deps {
		if findContainer(p.Spec.Containers, dep) != nil {
			continue
		}
		if c := findContainer(p.Spec.InitContainers, dep); c != nil {
			if !isSidecar(c) {
				problems = append(problems, fmt.Sprintf("birth dep %s is an init container that runs to completion, so it is never Ready (only a native sidecar, an init container with restartPolicy: Always, can be a birth dep)", dep))
			}
			continue
		}
		problems = append(problems, fmt.Sprintf("birth dep %s (KUBEXIT_BIRTH_DEPS) is not a container of the pod", dep))
	}
	where := fmt.Sprintf("pod %s/%s", namespace, p.Metadata.Name)
	if self != "" && findContainer(p.Spec.Containers, self) == nil && findContainer(p.Spec.InitContainers, self) == nil {
		warning = fmt.Sprintf("%s: KUBEXIT_NAME %s is not a container of the pod (it should be this container's name); the pod's containers: %s", where, self, listContainers(p))
	}
	if len(problems) > 0 {
		err = fmt.Errorf("%s: %s; the pod's containers: %s", where, strings.Join(problems, "; "), listContainers(p))
	}
	return warning, err
}

// listContainers names the pod's containers, init containers marked.
func listContainers(p *pod) string {
	var names []string
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if isSidecar(c) {
			names = append(names, c.Name+" (sidecar)")
		} else {
			names = append(names, c.Name+" (init)")
		}
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func findContainer(cs []container, name string) *container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func isSidecar(c *container) bool {
	return c.RestartPolicy == "Always"
}

// evaluateDeps tells, for each dep, whether it is ready and why not. A dep is
// ready when its status in status.containerStatuses is ready, or, for a
// native sidecar (an init container with restartPolicy: Always), when its
// status in status.initContainerStatuses is ready, or started when it has no
// readiness probe.
func evaluateDeps(p *pod, deps []string) []depStatus {
	notFound := "not found in pod status"
	if phase := p.Status.Phase; phase != "" && phase != "Running" {
		notFound += " (pod " + phase + ")"
	}
	out := make([]depStatus, 0, len(deps))
	for _, dep := range deps {
		s := depStatus{Name: dep}
		statuses, probed := p.Status.ContainerStatuses, true
		if c := findContainer(p.Spec.InitContainers, dep); c != nil && findContainer(p.Spec.Containers, dep) == nil {
			statuses, probed = p.Status.InitContainerStatuses, c.ReadinessProbe != nil
		}
		cs := findStatus(statuses, dep)
		switch {
		case cs == nil:
			s.Reason = notFound
		case cs.Ready:
			s.Ready = true
		case !probed && cs.Started != nil && *cs.Started:
			s.Ready = true
		default:
			s.Reason = notReadyReason(cs)
		}
		out = append(out, s)
	}
	return out
}

func findStatus(ss []containerStatus, name string) *containerStatus {
	i := slices.IndexFunc(ss, func(s containerStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &ss[i]
}

// notReadyReason says why a container that is not ready is not.
func notReadyReason(cs *containerStatus) string {
	st := cs.State
	switch {
	case st.Waiting != nil:
		reason := cmp.Or(st.Waiting.Reason, "no reason given")
		if t := cs.LastTerminationState.Terminated; t != nil {
			return fmt.Sprintf("waiting (%s, last exit code %d)", reason, t.ExitCode)
		}
		return "waiting (" + reason + ")"
	case st.Terminated != nil:
		return fmt.Sprintf("terminated (%s, exit code %d)", cmp.Or(st.Terminated.Reason, "no reason given"), st.Terminated.ExitCode)
	case st.Running != nil:
		if cs.Started != nil && !*cs.Started {
			return "running, not started (startup probe not passed yet)"
		}
		return "running, not ready"
	}
	return "not started"
}

// describeNotReady is "dep: reason; dep: reason".
func describeNotReady(ss []depStatus) string {
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		parts = append(parts, s.Name+": "+s.Reason)
	}
	return strings.Join(parts, "; ")
}
