//go:build inject

package main

// What --inject is told to wire, in one vocabulary for its flags, a pod
// template's annotations (kubexit.io/FLAG) and a KRM function's config
// (data: FLAG): per container, NAME=VALUE for each KUBEXIT_* variable
// (--death-deps sidecar=main for KUBEXIT_DEATH_DEPS), --wrap and
// --entrypoint; for the pod, --image and --rbac. And the record inject leaves in the
// template, which says what it wired and what it added whole.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// injectVar is a KUBEXIT_* variable as inject's vocabulary names it.
type injectVar struct{ flag, variable string }

// injectVars are the variables a user sets through inject: every one but
// those inject sets itself (the name, and the pod's from the downward API).
var injectVars = func() []injectVar {
	var out []injectVar
	for _, v := range variables {
		if v.Name == "KUBEXIT_NAME" || downwardFields[v.Name] != "" {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(v.Name, "KUBEXIT_"), "_", "-"))
		out = append(out, injectVar{flag, v.Name})
	}
	return out
}()

// setting is one NAME=VALUE said of a container (or, for image and rbac,
// of the pod: container "").
type setting struct {
	flag, container, value string
}

// String is the setting as a flag: --death-deps=sidecar=main.
func (s setting) String() string {
	switch {
	case s.flag == "rbac":
		return "--rbac"
	case s.flag == "wrap":
		return "--wrap=" + s.container
	case s.container == "":
		return "--" + s.flag + "=" + s.value
	}
	return "--" + s.flag + "=" + s.container + "=" + s.value
}

// podFlags are the settings said of the pod, not of a container.
var podFlags = []string{"image", "rbac"}

// parseSetting reads a value of flag: CONTAINER=VALUE, or CONTAINER for
// --wrap, or for the pod's the value alone.
func parseSetting(flag, arg string) (setting, error) {
	name, value, ok := strings.Cut(arg, "=")
	switch {
	case slices.Contains(podFlags, flag):
		return setting{flag: flag, value: arg}, nil
	case flag == "wrap" && arg != "" && !ok:
		return setting{flag: flag, container: arg}, nil
	case flag == "wrap":
		return setting{}, fmt.Errorf("--wrap %s: want CONTAINER", quoteArg(arg))
	}
	if !ok || name == "" {
		return setting{}, fmt.Errorf("--%s %s: want CONTAINER=VALUE", flag, quoteArg(arg))
	}
	return setting{flag: flag, container: name, value: strings.TrimSpace(value)}, nil
}

// listFlags are the settings whose values are comma lists of names: given
// twice for one container, the lists add up (--death-deps side=main
// --death-deps side=db is side=main,db), where a later value of any other
// setting replaces the earlier.
var listFlags = []string{"death-deps", "birth-deps", "shutdown-after"}

// addSetting adds s to settings of one source (flags, or an annotation's
// lines).
func addSetting(settings []setting, s setting) []setting {
	if slices.Contains(listFlags, s.flag) {
		for i, old := range settings {
			if old.flag == s.flag && old.container == s.container {
				settings[i].value += "," + s.value
				return settings
			}
		}
	}
	return append(settings, s)
}

// parseKeyedSettings reads the settings of a map of PREFIX+FLAG keys: a
// template's annotations (kubexit.io/death-deps), a KRM function's config
// data (death-deps). A value holds one CONTAINER=VALUE a line (for image
// and rbac, the value).
func parseKeyedSettings(m map[string]string, prefix string) ([]setting, error) {
	var out []setting
	var errs []string
	for _, flag := range injectFlagNames() {
		text, ok := m[prefix+flag]
		if !ok {
			continue
		}
		if flag == "rbac" {
			if strings.TrimSpace(text) == "true" {
				out = append(out, setting{flag: flag, value: "true"})
			}
			continue
		}
		for line := range strings.Lines(text) {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			s, err := parseSetting(flag, line)
			if err != nil {
				errs = append(errs, prefix+strings.TrimPrefix(err.Error(), "--"))
				continue
			}
			out = addSetting(out, s)
		}
	}
	if errs != nil {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// injectFlagNames is the vocabulary: --wrap, --entrypoint, the variables', and the
// pod's.
func injectFlagNames() []string {
	out := []string{"wrap", "entrypoint"}
	for _, v := range injectVars {
		out = append(out, v.flag)
	}
	return append(out, podFlags...)
}

// podSettings is what to wire into one pod template.
type podSettings struct {
	image       string
	rbac        bool
	env         map[string]omap // wrapped container -> its KUBEXIT_* variables, in --help's order
	entrypoints map[string][]string
	flags       []string // the settings as flags, sorted: the record's
}

// defaultInjectImage is the image the install container runs: this
// version's.
func defaultInjectImage() string {
	if v := versionString(); v != "dev" {
		return "kubexit:" + v
	}
	return "kubexit:latest"
}

// finalSettings are the settings with later ones winning, one per flag
// and container, as flags sorted: what the record keeps. (The default
// image is not among them: it is the version's, and follows an upgrade.)
func finalSettings(settings []setting) (map[[2]string]setting, []string) {
	final := map[[2]string]setting{}
	for _, st := range settings {
		final[[2]string{st.flag, st.container}] = st
	}
	var flags []string
	for _, st := range final {
		flags = append(flags, st.String())
	}
	slices.Sort(flags)
	return final, flags
}

// resolveSettings turns settings (later ones win) into what to wire, for a
// template with the containers cs; problems name the container and value.
func resolveSettings(settings []setting, cs []podContainer) (*podSettings, []string) {
	s := &podSettings{image: defaultInjectImage(), env: map[string]omap{}, entrypoints: map[string][]string{}}
	final, flags := finalSettings(settings)
	s.flags = flags
	var problems []string
	values := map[string]map[string]string{} // container -> variable -> value
	has := func(name string) bool {
		return slices.ContainsFunc(cs, func(c podContainer) bool { return c.name == name })
	}
	for _, st := range final {
		switch {
		case st.flag == "image":
			s.image = st.value
		case st.flag == "rbac":
			s.rbac = true
		case !has(st.container):
			problems = append(problems, fmt.Sprintf("%s: %s is not a container of this pod", st, st.container))
		case st.flag == "wrap":
			if values[st.container] == nil {
				values[st.container] = map[string]string{}
			}
		case st.flag == "entrypoint":
			cmd, err := parseEntrypoint(st.value)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", st, err))
			}
			s.entrypoints[st.container] = cmd
		default:
			if values[st.container] == nil {
				values[st.container] = map[string]string{}
			}
			values[st.container][injectVarName(st.flag)] = st.value
		}
	}
	problems = append(problems, s.wireContainers(values, cs)...)
	slices.Sort(problems)
	return s, problems
}

// wireContainers fills s.env: the containers with settings and those that others'
// death deps and shutdown holds name (their tombstones are watched).
func (s *podSettings) wireContainers(values map[string]map[string]string, cs []podContainer) []string {
	var problems []string
	for c, vars := range values {
		for _, v := range []string{"KUBEXIT_DEATH_DEPS", "KUBEXIT_SHUTDOWN_AFTER"} {
			for dep := range strings.SplitSeq(vars[v], ",") {
				if dep = strings.TrimSpace(dep); dep == "" || values[dep] != nil {
					continue
				}
				if !slices.ContainsFunc(cs, func(pc podContainer) bool { return pc.name == dep }) {
					problems = append(problems, fmt.Sprintf("--%s=%s=%s: %s is not a container of this pod", injectFlagOf(v), c, vars[v], dep))
					continue
				}
				values[dep] = map[string]string{}
			}
		}
	}
	for _, c := range cs {
		vars, ok := values[c.name]
		if !ok {
			continue
		}
		env := omap{{"KUBEXIT_NAME", c.name}}
		for _, v := range variables {
			if val, ok := vars[v.Name]; ok {
				env = append(env, kv{v.Name, val})
			}
		}
		// The pod's name lets kubexit read its pod: birth deps need it;
		// with --rbac, death deps use it too (restart rules, stop signals).
		if vars["KUBEXIT_BIRTH_DEPS"] != "" || (s.rbac && vars["KUBEXIT_DEATH_DEPS"] != "") {
			env = append(env, kv{"KUBEXIT_POD_NAME", ""}, kv{"KUBEXIT_NAMESPACE", ""})
		}
		s.env[c.name] = env
		switch _, ok := s.entrypoints[c.name]; {
		case ok && c.command:
			problems = append(problems, fmt.Sprintf("--entrypoint=%s: the container has a command; --entrypoint is for one that runs its image's", c.name))
		case !ok && !c.command:
			problems = append(problems, fmt.Sprintf("container %s has no command (it runs its image's entrypoint), so kubexit cannot be put in front of it: say it with --entrypoint %s='ENTRYPOINT [CMD...]' (the image's ENTRYPOINT, then its CMD unless the container sets args)", c.name, c.name))
		}
	}
	return problems
}

func injectVarName(flag string) string {
	for _, v := range injectVars {
		if v.flag == flag {
			return v.variable
		}
	}
	return ""
}

func injectFlagOf(variable string) string {
	for _, v := range injectVars {
		if v.variable == variable {
			return v.flag
		}
	}
	return ""
}

// parseEntrypoint reads --entrypoint's command: a JSON list, or words
// split at white space.
func parseEntrypoint(s string) ([]string, error) {
	var cmd []string
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		if err := json.Unmarshal([]byte(s), &cmd); err != nil {
			return nil, fmt.Errorf("not a JSON list of strings: %w", err)
		}
	} else {
		cmd = strings.Fields(s)
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("an empty command")
	}
	return cmd, nil
}

// injectRecord is the annotation kubexit.io/injected: the version and
// settings inject wired, and the lists and mappings it added whole (which
// --uninject removes whole).
type injectRecord struct {
	Version string   `json:"version"`
	Flags   []string `json:"flags"`
	Added   []string `json:"added,omitempty"`
}

func (r *injectRecord) text() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// sameWiring tells whether the record says what settings would wire, by
// this version: injecting again would change nothing.
func (r *injectRecord) sameWiring(settings []setting) bool {
	_, flags := finalSettings(settings)
	return r.Version == versionString() && slices.Equal(r.Flags, flags)
}

// recordSettings reads the settings back from a record's flags.
func recordSettings(r *injectRecord) ([]setting, error) {
	var out []setting
	for _, f := range r.Flags {
		name, value, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if name == "rbac" {
			value = "true"
		}
		if !slices.Contains(injectFlagNames(), name) {
			return nil, fmt.Errorf("the record names an unknown setting %s", quoteArg(f))
		}
		s, err := parseSetting(name, value)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// podContainer is a container of the template and where it is.
type podContainer struct {
	name    string
	list    string // containers or initContainers
	path    []any
	command bool // has a non-empty command
}

// downwardFields are the variables inject sets from the downward API.
var downwardFields = map[string]string{"KUBEXIT_POD_NAME": "metadata.name", "KUBEXIT_NAMESPACE": "metadata.namespace"}
