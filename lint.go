package main

// kubexit --lint FILE...: the mistakes in a manifest's kubexit wiring that
// are found only when a Job hangs, reported before it is applied: a dep
// that is not a process of the pod, a wrapped container without the
// graveyard, a death dep on a native sidecar, a grace period too short for
// the configured shutdown, a cycle of KUBEXIT_SHUTDOWN_AFTER holds, and any
// KUBEXIT_* value the runtime would refuse (the same parsers).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// lintContainer is what --lint reads of a container.
type lintContainer struct {
	Name          string   `json:"name"`
	Command       []string `json:"command"`
	RestartPolicy string   `json:"restartPolicy"`
	Env           []struct {
		Name      string    `json:"name"`
		Value     string    `json:"value"`
		ValueFrom *struct{} `json:"valueFrom"`
	} `json:"env"`
	VolumeMounts []struct {
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
	init bool
}

// lintPodSpec is what --lint reads of a pod spec.
type lintPodSpec struct {
	Containers                    []lintContainer `json:"containers"`
	InitContainers                []lintContainer `json:"initContainers"`
	TerminationGracePeriodSeconds *int64          `json:"terminationGracePeriodSeconds"`
}

// wrapped tells whether kubexit runs the container's process: its command
// starts with a binary named kubexit, and is not one of kubexit's own
// commands (--install in an init container).
func (c lintContainer) wrapped() bool {
	return len(c.Command) > 0 && filepath.Base(c.Command[0]) == "kubexit" && !(len(c.Command) > 1 && isOption(c.Command[1:]))
}

// getenv is the container's environment as kubexit would read it. A value
// from the downward API (valueFrom) is unknown here: KUBEXIT_POD_NAME and
// KUBEXIT_NAMESPACE, the ones set so, stand for a valid name.
func (c lintContainer) getenv(name string) string {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil && (name == "KUBEXIT_POD_NAME" || name == "KUBEXIT_NAMESPACE") {
			return "from-the-downward-api"
		}
		return e.Value
	}
	return ""
}

// documentSeparator is a line that starts a new YAML document.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// lintManifest returns the problems of every pod template in a manifest
// (YAML documents or JSON), each "document N (Kind name), container C: what;
// the fix". An error: a document that is not YAML.
func lintManifest(data []byte) ([]string, error) {
	var problems []string
	for i, doc := range documentSeparator.Split(string(data), -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, cutError{err})
		}
		for _, t := range podTemplates(obj) {
			for _, p := range lintPod(t.spec) {
				problems = append(problems, fmt.Sprintf("document %d (%s), %s", i+1, t.what, p))
			}
		}
	}
	return problems, nil
}

// podTemplate is a pod spec found in an object, and what holds it.
type podTemplate struct {
	what string
	spec lintPodSpec
}

// podTemplates finds the pod specs of a Pod, a workload's template, a
// CronJob's job template, or the items of a List.
func podTemplates(obj map[string]any) []podTemplate {
	var out []podTemplate
	for _, t := range findTemplates(obj) {
		raw, err := yaml.Marshal(dataAt(obj, append(slices.Clone(t.path), "spec")...))
		var spec lintPodSpec
		if err != nil || yaml.Unmarshal(raw, &spec) != nil {
			continue
		}
		out = append(out, podTemplate{what: t.kind + " " + t.name, spec: spec})
	}
	return out
}

// defaultTerminationGrace is the pod's terminationGracePeriodSeconds when
// unset.
const defaultTerminationGrace = 30 * time.Second

// lintPod checks the kubexit wiring of one pod spec.
func lintPod(spec lintPodSpec) []string {
	var all []lintContainer
	for _, c := range spec.InitContainers {
		c.init = true
		all = append(all, c)
	}
	all = append(all, spec.Containers...)
	procs := map[string]lintContainer{} // wrapped containers by KUBEXIT_NAME
	for _, c := range all {
		if c.wrapped() && c.getenv("KUBEXIT_NAME") != "" {
			procs[c.getenv("KUBEXIT_NAME")] = c
		}
	}
	grace := defaultTerminationGrace
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	var problems []string
	holds, births := map[string][]string{}, map[string][]string{}
	for _, c := range all {
		if !c.wrapped() {
			continue
		}
		say := func(format string, a ...any) {
			problems = append(problems, "container "+c.Name+": "+fmt.Sprintf(format, a...))
		}
		cfg, err := parseConfig(c.getenv)
		for _, e := range unjoin(err) {
			say("%v", e)
		}
		lintDeps(cfg, all, procs, say)
		if !mountedAt(c, cfg.Graveyard) && cfg.Graveyard != "" {
			say("no volume is mounted at the graveyard %s (KUBEXIT_GRAVEYARD): its tombstones would be its own alone; mount the pod's shared emptyDir there", cfg.Graveyard)
		}
		if need := shutdownNeed(cfg, c.getenv); need > 0 && need >= grace {
			say("terminationGracePeriodSeconds is %d, no longer than the stop signal may be held (%v: KUBEXIT_SHUTDOWN_TIMEOUT, and KUBEXIT_GRACE_PERIOD where set): the kubelet's KILL would come before the child had its time to stop; raise it above %d or shorten those", int64(grace/time.Second), need, int64((need+time.Second-1)/time.Second))
		}
		holds[cfg.Name], births[c.Name] = cfg.ShutdownAfter, cfg.BirthDeps
	}
	if cycle := findCycle(holds); cycle != nil {
		problems = append(problems, "KUBEXIT_SHUTDOWN_AFTER holds form a cycle, "+strings.Join(cycle, " -> ")+": each would wait for the next to be gone until KUBEXIT_SHUTDOWN_TIMEOUT; drop one of them")
	}
	if cycle := findCycle(births); cycle != nil {
		problems = append(problems, "KUBEXIT_BIRTH_DEPS form a cycle, "+strings.Join(cycle, " -> ")+": each waits for the next to be Ready, which none becomes where a readiness probe checks its child, until KUBEXIT_BIRTH_TIMEOUT fails them all; drop one of them")
	}
	return problems
}

// shutdownNeed is how long a container with KUBEXIT_SHUTDOWN_AFTER may hold
// the kubelet's stop signal (KUBEXIT_SHUTDOWN_TIMEOUT) plus, where set, the
// time its child is given to stop (KUBEXIT_GRACE_PERIOD: the default, 30 s,
// is the original's, not a statement about this child); 0 without holds,
// whose stop the kubelet's grace period bounds alone.
func shutdownNeed(cfg config, getenv func(string) string) time.Duration {
	if len(cfg.ShutdownAfter) == 0 {
		return 0
	}
	need := cfg.ShutdownTimeout
	if getenv("KUBEXIT_GRACE_PERIOD") != "" {
		need += cfg.GracePeriod
	}
	return need
}

// lintDeps checks that the deps name processes (death deps, shutdown
// holds) or containers (birth deps) of the pod, and no native sidecar as
// a death dep.
func lintDeps(cfg config, all []lintContainer, procs map[string]lintContainer, say func(string, ...any)) {
	for _, list := range []struct {
		name string
		deps []string
	}{{"KUBEXIT_DEATH_DEPS", cfg.DeathDeps}, {"KUBEXIT_SHUTDOWN_AFTER", cfg.ShutdownAfter}} {
		for _, dep := range list.deps {
			p, ok := procs[dep]
			switch {
			case dep == cfg.Name:
			case !ok:
				say("%s names %s, which no container of the pod runs under kubexit with KUBEXIT_NAME=%s: it would never be born, and never die; fix the name or wrap that container", list.name, dep, dep)
			case list.name == "KUBEXIT_DEATH_DEPS" && p.init && p.RestartPolicy == "Always":
				say("KUBEXIT_DEATH_DEPS names %s, a native sidecar: the kubelet restarts it whenever it exits and stops it only after the main containers; drop it (the kubelet already ties its life to theirs)", dep)
			}
		}
	}
	for _, dep := range cfg.BirthDeps {
		if !slices.ContainsFunc(all, func(c lintContainer) bool { return c.Name == dep }) {
			say("KUBEXIT_BIRTH_DEPS names %s, which is not a container of the pod: the birth wait would fail; fix the name", dep)
		}
	}
}

// mountedAt tells whether a volume is mounted at dir, or above it.
func mountedAt(c lintContainer, dir string) bool {
	dir = filepath.Clean(dir)
	for _, m := range c.VolumeMounts {
		mp := filepath.Clean(m.MountPath)
		if dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/") {
			return true
		}
	}
	return false
}

// findCycle returns a cycle in the graph of each name's deps
// (KUBEXIT_SHUTDOWN_AFTER holds, birth deps), from a name back to it, or nil.
func findCycle(holds map[string][]string) []string {
	names := make([]string, 0, len(holds))
	for n := range holds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, start := range names {
		var path []string
		var walk func(n string) []string
		seen := map[string]bool{}
		walk = func(n string) []string {
			path = append(path, n)
			for _, next := range holds[n] {
				if next == start {
					return append(slices.Clone(path), start)
				}
				if !seen[next] && next != n {
					seen[next] = true
					if c := walk(next); c != nil {
						return c
					}
				}
			}
			path = path[:len(path)-1]
			return nil
		}
		if c := walk(start); c != nil {
			return c
		}
	}
	return nil
}

// maxManifestSize bounds what --lint reads of one file.
const maxManifestSize = 16 << 20

// readManifest reads a manifest file, or stdin for "-".
func readManifest(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, unwrapPath(err)
		}
		defer f.Close()
		r = f
	}
	var b bytes.Buffer
	if n, err := io.Copy(&b, io.LimitReader(r, maxManifestSize+1)); err != nil {
		return nil, err
	} else if n > maxManifestSize {
		return nil, errors.New("larger than 16 MB")
	}
	return b.Bytes(), nil
}

// podTemplatePaths maps a kind to the path of its pod template (the
// mapping that holds metadata and spec).
var podTemplatePaths = map[string][]any{
	"Pod":         {},
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// template is a pod template in a document.
type template struct {
	path  []any
	kind  string
	name  string
	owner string // kind/name: what inject's RBAC objects are for
}

// findTemplates lists the pod templates of a document's data: its own, or
// its items' if it is a List (a KRM ResourceList too).
func findTemplates(v any) []template {
	kind, _ := dataAt(v, "kind").(string)
	if items, ok := dataAt(v, "items").([]any); ok && strings.HasSuffix(kind, "List") {
		var out []template
		for i, it := range items {
			for _, t := range findTemplates(it) {
				out = append(out, template{path: append([]any{"items", i}, t.path...), kind: t.kind, name: t.name, owner: t.owner})
			}
		}
		return out
	}
	p, ok := podTemplatePaths[kind]
	if !ok || dataAt(v, append(slices.Clone(p), "spec")...) == nil {
		return nil
	}
	name, _ := dataAt(v, "metadata", "name").(string)
	return []template{{path: p, kind: kind, name: name, owner: kind + "/" + name}}
}

// dataAt is the value at path in plain data, or nil.
func dataAt(v any, path ...any) any {
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			k, _ := p.(string)
			v = c[k]
		case []any:
			i, _ := p.(int)
			if i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}
