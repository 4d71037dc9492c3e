package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults that code elsewhere needs by value. The first four are the
// original kubexit's.
const (
	defaultGraveyard      = "/graveyard"
	defaultPollInterval   = 100 * time.Millisecond
	defaultTerminationLog = "/dev/termination-log"
)

// config is everything kubexit reads from its KUBEXIT_* environment.
type config struct {
	Name      string
	Graveyard string

	DeathDeps   []string
	GracePeriod time.Duration
	// ExitZeroOnDeathDeps makes kubexit exit 0 when its child was
	// terminated because a death dep died (a Job's sidecar must not fail the Job).
	ExitZeroOnDeathDeps bool
	PollInterval        time.Duration
	DeathPolicy         deathPolicy
	// DeathURLs are called (DeathURLMethod) when a death dep dies, for
	// sidecars that cannot be wrapped but have a shutdown endpoint.
	DeathURLs      []string
	DeathURLMethod string

	// ProcessGroup starts the child in its own process group and signals
	// the whole group. Subreaper makes kubexit reap orphans (it does when it
	// is PID 1 anyway).
	ProcessGroup bool
	Subreaper    bool
	// Preflight runs the --check preflight at start-up.
	Preflight bool

	// TerminationLog receives a one-line reason for kubexit's exit.
	// TerminationLogExplicit is false for the default path, which is only
	// written when it exists (Kubernetes mounts it in every container).
	TerminationLog         string
	TerminationLogExplicit bool

	BirthDeps         []string
	BirthTimeout      time.Duration // 0 waits forever
	ReadinessInterval time.Duration
	PodName           string
	Namespace         string

	LogFormat string // "text" or "json"
	LogLevel  slog.Level
	LogOff    bool
}

// variable is one KUBEXIT_* variable: the single source of its name, default,
// help (--help, and a test holds the README's table to it) and parser.
type variable struct {
	Name string
	// Default is the value used when the variable is unset or empty ("" for
	// none); Shown, if set, is what --help says instead.
	Default, Shown string
	Help           string
	// parse stores a non-empty value into c, or says what is wrong with it.
	parse func(c *config, value string) error
}

// variables lists every KUBEXIT_* variable, in --help's order.
var variables = []variable{
	{"KUBEXIT_NAME", "", "(required)", "this container's name: its tombstone is <graveyard>/<name>", validated(validateName, func(c *config) *string { return &c.Name })},
	{"KUBEXIT_GRAVEYARD", defaultGraveyard, "", "the shared directory of tombstones", parseGraveyard},
	{"KUBEXIT_DEATH_DEPS", "", "", "comma list of names: when one dies, TERM the child", nameList(func(c *config) *[]string { return &c.DeathDeps })},
	{"KUBEXIT_GRACE_PERIOD", "30s", "", "time between that TERM and KILL", duration(zeroOK, func(c *config) *time.Duration { return &c.GracePeriod })},
	{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS", "false", "", "exit 0 when the child was terminated because a death dep died", parseExitZero},
	{"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS", "false", "", "the same, under a fork's name", parseExitZero},
	{"KUBEXIT_POLL_INTERVAL", defaultPollInterval.String(), "", "how often the graveyard is polled", duration(positive, func(c *config) *time.Duration { return &c.PollInterval })},
	{"KUBEXIT_DEATH_ON", deathOnAny, "", "which deaths count: any, success (exit 0) or final (stays dead for KUBEXIT_DEATH_SETTLE)", parseDeathOn},
	{"KUBEXIT_DEATH_SETTLE", "30s", "", "with KUBEXIT_DEATH_ON=final: how long a death must stand", duration(zeroOK, func(c *config) *time.Duration { return &c.DeathPolicy.Settle })},
	{"KUBEXIT_DEATH_URLS", "", "", "comma list of URLs to call when a death dep dies (sidecars' shutdown endpoints)", parseDeathURLsVar},
	{"KUBEXIT_DEATH_URL_METHOD", "POST", "", "POST, GET or PUT", parseDeathURLMethodVar},
	{"KUBEXIT_BIRTH_DEPS", "", "", "comma list of this pod's containers that must be Ready before the child starts", nameList(func(c *config) *[]string { return &c.BirthDeps })},
	{"KUBEXIT_BIRTH_TIMEOUT", "30s", "", "how long to wait for them; 0 waits forever", duration(zeroOK, func(c *config) *time.Duration { return &c.BirthTimeout })},
	{"KUBEXIT_READINESS_INTERVAL", "1s", "", "how often the pod is read while waiting", duration(positive, func(c *config) *time.Duration { return &c.ReadinessInterval })},
	{"KUBEXIT_POD_NAME", "", "", "this pod's name (downward API: metadata.name); required with birth deps", validated(validateSubdomain, func(c *config) *string { return &c.PodName })},
	{"KUBEXIT_NAMESPACE", "", "(service account's)", "this pod's namespace (downward API: metadata.namespace)", validated(validateName, func(c *config) *string { return &c.Namespace })},
	{"KUBEXIT_PREFLIGHT", "false", "", "run the --check preflight at start-up; on failure exit 1 without starting the child", boolean(func(c *config) *bool { return &c.Preflight })},
	{"KUBEXIT_PROCESS_GROUP", "false", "", "run the child in its own process group and signal the whole group", boolean(func(c *config) *bool { return &c.ProcessGroup })},
	{"KUBEXIT_SUBREAPER", "false", "", "reap orphaned zombies (always done as PID 1)", boolean(func(c *config) *bool { return &c.Subreaper })},
	{"KUBEXIT_TERMINATION_LOG", defaultTerminationLog, "", "file for a one-line exit reason (the default only if it exists)", func(c *config, v string) error { c.TerminationLog = v; return nil }},
	{"KUBEXIT_LOG_FORMAT", "text", "", "text or json, on stderr", parseLogFormat},
	{"KUBEXIT_LOG_LEVEL", "info", "", "debug, info, warn, error or off", parseLogLevel},
}

// configError is an invalid KUBEXIT_* value: kubexit exits 2 (usage).
type configError struct {
	Var, Value string
	Reason     string
}

func (e *configError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Var, e.Reason)
	}
	return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Reason)
}

// parseConfig reads the configuration through getenv (os.Getenv in
// production). An empty value counts as unset, as in the original. It returns
// every problem it finds, joined, so a pod log shows them all at once; cfg is
// still filled as far as possible (Name and Graveyard when valid) so that a
// tombstone can be written even for a bad configuration.
func parseConfig(getenv func(string) string) (config, error) {
	cfg, err := parseVariables(getenv, variables)
	cfg.TerminationLogExplicit = getenv("KUBEXIT_TERMINATION_LOG") != ""
	return cfg, errors.Join(append(unjoin(err), unjoin(checkConfig(cfg, getenv))...)...)
}

// parseVariables applies the defaults of vars, then their values from getenv,
// to a zero config. The CLI uses it for the few variables a command reads.
func parseVariables(getenv func(string) string, vars []variable) (config, error) {
	var cfg config
	var errs []error
	for _, v := range vars {
		value := getenv(v.Name)
		if value == "" {
			value = v.Default
		}
		if value == "" {
			continue
		}
		if err := v.parse(&cfg, value); err != nil {
			errs = append(errs, &configError{Var: v.Name, Value: getenv(v.Name), Reason: err.Error()})
		}
	}
	return cfg, errors.Join(errs...)
}

// lookupVariables returns the rows of the named variables.
func lookupVariables(names ...string) []variable {
	var out []variable
	for _, v := range variables {
		for _, n := range names {
			if v.Name == n {
				out = append(out, v)
			}
		}
	}
	return out
}

// checkConfig finds what is wrong with values that are each valid alone.
func checkConfig(cfg config, getenv func(string) string) error {
	var errs []error
	bad := func(name, reason string) {
		errs = append(errs, &configError{Var: name, Value: getenv(name), Reason: reason})
	}
	if getenv("KUBEXIT_NAME") == "" {
		bad("KUBEXIT_NAME", "required: the name of this container, used as its tombstone's file name")
	}
	for _, list := range []struct {
		name string
		deps []string
	}{{"KUBEXIT_DEATH_DEPS", cfg.DeathDeps}, {"KUBEXIT_BIRTH_DEPS", cfg.BirthDeps}} {
		for _, dep := range list.deps {
			if cfg.Name != "" && dep == cfg.Name {
				bad(list.name, fmt.Sprintf("%q is this container's own KUBEXIT_NAME; a process cannot depend on itself", dep))
			}
		}
	}
	if getenv("KUBEXIT_DEATH_SETTLE") != "" && cfg.DeathPolicy.On != deathOnFinal {
		bad("KUBEXIT_DEATH_SETTLE", "only applies with KUBEXIT_DEATH_ON=final")
	}
	if len(cfg.DeathURLs) > 0 && len(cfg.DeathDeps) == 0 {
		bad("KUBEXIT_DEATH_URLS", "needs KUBEXIT_DEATH_DEPS: the URLs are called when a death dep dies")
	}
	if len(cfg.BirthDeps) > 0 && getenv("KUBEXIT_POD_NAME") == "" {
		bad("KUBEXIT_POD_NAME", "required with KUBEXIT_BIRTH_DEPS: set it from the downward API (fieldRef: metadata.name)")
	}
	return errors.Join(errs...)
}

// validated stores a value that check accepts into *field(c).
func validated(check func(string) error, field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error {
		if err := check(v); err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
}

func parseGraveyard(c *config, v string) error {
	// The original trims trailing slashes and cleans; "/" alone stays "/".
	c.Graveyard = filepath.Clean(v)
	return nil
}

// nameList parses a comma list into *field(c): spaces around items are
// trimmed, empty items and duplicates dropped, and each item must be a
// container name.
func nameList(field func(*config) *[]string) func(*config, string) error {
	return func(c *config, raw string) error {
		out, problems := splitList(raw, validateName)
		*field(c) = out
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	}
}

// Whether a duration variable may be zero.
const (
	zeroOK   = true
	positive = false
)

// duration parses a Go duration into *field(c).
func duration(zero bool, field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case err != nil:
			return errors.New("not a Go duration (examples: 500ms, 30s, 2m)")
		case d < 0:
			return errors.New("must not be negative")
		case d == 0 && !zero:
			return errors.New("must be greater than zero")
		}
		*field(c) = d
		return nil
	}
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

func boolean(field func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := parseBool(v)
		*field(c) = b
		return err
	}
}

// parseExitZero serves both names of the switch: either one set to true turns it on.
func parseExitZero(c *config, v string) error {
	b, err := parseBool(v)
	c.ExitZeroOnDeathDeps = c.ExitZeroOnDeathDeps || b
	return err
}

func parseDeathOn(c *config, v string) error {
	switch v := strings.ToLower(strings.TrimSpace(v)); v {
	case deathOnAny, deathOnSuccess, deathOnFinal:
		c.DeathPolicy.On = v
		return nil
	}
	return errors.New("want any, success or final")
}

func parseDeathURLsVar(c *config, v string) error {
	urls, err := parseDeathURLs(v)
	c.DeathURLs = urls
	return err
}

func parseDeathURLMethodVar(c *config, v string) error {
	m, err := parseDeathURLMethod(v)
	c.DeathURLMethod = m
	return err
}

func parseLogFormat(c *config, v string) error {
	switch v := strings.ToLower(v); v {
	case "text", "json":
		c.LogFormat = v
		return nil
	}
	return errors.New("want text or json")
}

func parseLogLevel(c *config, v string) error {
	switch v := strings.ToLower(v); v {
	case "off", "none", "silent":
		c.LogOff = true
		return nil
	default:
		if c.LogLevel.UnmarshalText([]byte(v)) != nil {
			return errors.New("want debug, info, warn, error or off")
		}
		return nil
	}
}

// validateName accepts a DNS-1123 label, which is what a container name is:
// 1 to 63 characters, lowercase alphanumerics and '-', starting and ending
// with an alphanumeric. Nothing else may become a file name in the graveyard:
// no '/', no '.', so no "..", no hidden or temporary files.
func validateName(s string) error {
	if len(s) > 63 {
		return fmt.Errorf("longer than 63 characters; must be a container name (DNS-1123 label)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return fmt.Errorf("must be a container name (DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit)")
		}
	}
	return nil
}

// validateSubdomain accepts a DNS-1123 subdomain, which is what a pod name is.
func validateSubdomain(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("longer than 253 characters; must be a pod name (DNS-1123 subdomain)")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || validateName(label) != nil {
			return fmt.Errorf("must be a pod name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')")
		}
	}
	return nil
}

// shown is the default as --help shows it.
func (v variable) shown() string {
	if v.Shown != "" {
		return v.Shown
	}
	return v.Default
}
