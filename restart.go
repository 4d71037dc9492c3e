package main

// Restarts the kubelet will make: which exits of a container its restart
// policy and rules (KEP-5307 restartPolicyRules, KEP-5532
// RestartAllContainers) undo by restarting it in place. A death dep's death
// that will be undone so does not count (watch.go): its next Born is
// awaited. The rules come from the pod's spec where kubexit may get its pod,
// or from KUBEXIT_RESTART_CODES where it cannot.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Actions of a restart rule.
const (
	actionRestart    = "Restart"
	actionRestartAll = "RestartAllContainers"
)

// matches tells whether the rule applies to an exit with code.
func (r restartRule) matches(code int) bool {
	if r.ExitCodes == nil {
		return false
	}
	in := slices.Contains(r.ExitCodes.Values, int32(code))
	switch r.ExitCodes.Operator {
	case "In":
		return in
	case "NotIn":
		return !in
	}
	return false // an operator of a later Kubernetes: not understood
}

// restartPlan is how the kubelet restarts one container: its pod's restart
// policy, its own, and its rules.
type restartPlan struct {
	PodPolicy string // "" is the API's default, Always
	Policy    string // the container's restartPolicy; "" when not set
	Rules     []restartRule
	Source    string // where the plan was read, for logs
}

// restarts tells whether the kubelet restarts the container in place when
// it exits with code, to retry it, and why, as the kubelet decides (its
// ContainerShouldRestart): with a container policy, the first matching
// rule, then that policy; else the pod's policy, OnFailure. The pod's
// Always (a Deployment's, and the default) is not counted: there every exit
// restarts, and a death dep's death stopping the child too, for the kubelet
// to restart both, is what the original does and what such pods rely on.
func (p restartPlan) restarts(code int) (bool, string) {
	if p.Policy != "" {
		// The first matching rule decides; one whose action kubexit does not
		// know (a later Kubernetes's) leaves it to the policy, as the
		// kubelet's own fallback does.
		if i := slices.IndexFunc(p.Rules, func(r restartRule) bool { return r.matches(code) }); i >= 0 {
			if a := p.Rules[i].Action; a == actionRestart || a == actionRestartAll {
				return true, fmt.Sprintf("restart rule %s on exit code %d (%s)", a, code, p.Source)
			}
		}
		return policyRestarts(p.Policy, code, "container restartPolicy", p.Source)
	}
	if p.PodPolicy != "OnFailure" {
		return false, ""
	}
	return policyRestarts(p.PodPolicy, code, "pod restartPolicy", p.Source)
}

func policyRestarts(policy string, code int, what, source string) (bool, string) {
	switch {
	case policy == "Never", policy == "OnFailure" && code == 0:
		return false, ""
	case policy == "":
		policy = "Always"
	}
	return true, fmt.Sprintf("%s %s, exit code %d (%s)", what, policy, code, source)
}

// podFacts is what kubexit reads once from its pod's spec: each
// container's restart plan and stop signal, and whether any rule restarts
// all containers. It is read in the background at start-up (fetchPodFacts);
// ready is closed once it is read or given up (err).
type podFacts struct {
	ready       chan struct{}
	plans       map[string]restartPlan
	stopSignals map[string]string
	restartsAll bool
	// restartedAll names the containers that a restart of all containers
	// killed last (their lastState says RestartingAllContainers) and that
	// have not ended since: their tombstones' deaths are of an earlier run.
	restartedAll map[string]bool
	err          error
}

// podFactsBound bounds the whole read, retries included: an unreachable API
// server must not leave a death unjudged for long.
const podFactsBound = 15 * time.Second

// noPodFacts is the facts of a kubexit that does not read its pod.
func noPodFacts(err error) *podFacts {
	f := &podFacts{ready: make(chan struct{}), err: err}
	close(f.ready)
	return f
}

// fetchPodFacts reads the pod's spec in the background, with retries of
// what may heal, for at most podFactsBound.
func fetchPodFacts(ctx context.Context, client *podClient, log *slog.Logger) *podFacts {
	f := &podFacts{ready: make(chan struct{})}
	go func() {
		defer close(f.ready)
		ctx, cancel := context.WithTimeout(ctx, podFactsBound)
		defer cancel()
		for {
			p, err := client.get(ctx)
			if err == nil {
				f.read(p.Spec)
				f.readStatus(p.Status)
				log.Debug("restart rules read from the pod's spec", "pod", client.String(), "restarts_all", f.restartsAll)
				return
			}
			if fatal := client.fatalError(err); fatal != nil {
				f.err = fatal
				return
			}
			select {
			case <-ctx.Done():
				f.err = fmt.Errorf("no answer from the Kubernetes API within %v: %w", podFactsBound, err)
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return f
}

// read takes the facts from the pod's spec.
func (f *podFacts) read(spec podSpec) {
	f.plans, f.stopSignals = map[string]restartPlan{}, map[string]string{}
	for _, c := range append(slices.Clone(spec.Containers), spec.InitContainers...) {
		f.plans[c.Name] = restartPlan{PodPolicy: spec.RestartPolicy, Policy: c.RestartPolicy, Rules: c.RestartPolicyRules, Source: "the pod's spec"}
		if c.Lifecycle != nil && c.Lifecycle.StopSignal != "" {
			f.stopSignals[c.Name] = c.Lifecycle.StopSignal
		}
		for _, r := range c.RestartPolicyRules {
			f.restartsAll = f.restartsAll || r.Action == actionRestartAll
		}
	}
}

// reasonRestartingAll is the reason of a container's last termination when
// a restart of all the pod's containers killed it.
const reasonRestartingAll = "RestartingAllContainers"

// readStatus takes, from the pod's status, the containers that a restart of
// all containers killed last and that run (or wait to) since.
func (f *podFacts) readStatus(status podStatus) {
	f.restartedAll = map[string]bool{}
	for _, c := range append(slices.Clone(status.ContainerStatuses), status.InitContainerStatuses...) {
		last := c.LastTerminationState.Terminated
		if last != nil && last.Reason == reasonRestartingAll && c.State.Terminated == nil {
			f.restartedAll[c.Name] = true
		}
	}
}

// restartKnowledge answers, for the death watcher, how a dep's container
// restarts: from KUBEXIT_RESTART_CODES for the names it gives, else from
// the pod's spec once read.
type restartKnowledge struct {
	codes map[string]restartPlan
	pod   *podFacts
}

// read is the pod's facts once read (or given up); nil while they are
// being read, or when the pod is not read at all (known tells).
func (k *restartKnowledge) read() (f *podFacts, known bool) {
	if k.pod == nil {
		return nil, true
	}
	select {
	case <-k.pod.ready:
		return k.pod, true
	default:
		return nil, false
	}
}

// plan is dep's restart plan; known is false while the pod's spec is being
// read, and ok false when there is none (no API access, or no such
// container: its deaths count).
func (k *restartKnowledge) plan(dep string) (p restartPlan, ok, known bool) {
	if p, ok := k.codes[dep]; ok {
		return p, true, true
	}
	f, known := k.read()
	if f == nil {
		return restartPlan{}, false, known
	}
	p, ok = f.plans[dep]
	return p, ok, true
}

// undoes tells whether the kubelet restarts dep's container after an exit
// with code, and why (restartPlan.restarts); known is false while the
// pod's spec is being read.
func (k *restartKnowledge) undoes(dep string, code int) (restarts bool, why string, known bool) {
	p, ok, known := k.plan(dep)
	if !ok {
		return false, "", known
	}
	restarts, why = p.restarts(code)
	return restarts, why, true
}

// restartedAll tells whether the pod's status, once read, shows dep's
// container killed by a restart of all containers and not ended since.
func (k *restartKnowledge) restartedAll(dep string) bool {
	f, _ := k.read()
	return f != nil && f.restartedAll[dep]
}

// wait waits, at most until ctx ends, for the pod's spec.
func (k *restartKnowledge) wait(ctx context.Context) {
	if k.pod == nil {
		return
	}
	select {
	case <-k.pod.ready:
	case <-ctx.Done():
	}
}

// restartWaitBound is how long a dep whose container will be restarted is
// awaited before its death counts after all: longer than the kubelet's
// longest back-off between restarts (5 min).
const restartWaitBound = 6 * time.Minute
