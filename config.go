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

// Defaults. The first four are the original kubexit's.
const (
	defaultGraveyard         = "/graveyard"
	defaultGracePeriod       = 30 * time.Second
	defaultBirthTimeout      = 30 * time.Second
	defaultPollInterval      = 100 * time.Millisecond
	defaultReadinessInterval = time.Second
	defaultDeathSettle       = 30 * time.Second
	defaultTerminationLog    = "/dev/termination-log"
)

// variables documents every KUBEXIT_* variable for --help (the README has
// the same table; a test keeps the three in step with parseConfig).
var variables = []struct{ Name, Default, Meaning string }{
	{"KUBEXIT_NAME", "(required)", "this container's name: its tombstone is <graveyard>/<name>"},
	{"KUBEXIT_GRAVEYARD", defaultGraveyard, "the shared directory of tombstones"},
	{"KUBEXIT_DEATH_DEPS", "", "comma list of names: when one dies, TERM the child"},
	{"KUBEXIT_GRACE_PERIOD", defaultGracePeriod.String(), "time between that TERM and KILL"},
	{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS", "false", "exit 0 when the child was terminated because a death dep died"},
	{"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS", "false", "the same, under a fork's name"},
	{"KUBEXIT_POLL_INTERVAL", defaultPollInterval.String(), "how often the graveyard is polled"},
	{"KUBEXIT_DEATH_ON", deathOnAny, "which deaths count: any, success (exit 0) or final (stays dead for KUBEXIT_DEATH_SETTLE)"},
	{"KUBEXIT_DEATH_SETTLE", defaultDeathSettle.String(), "with KUBEXIT_DEATH_ON=final: how long a death must stand"},
	{"KUBEXIT_DEATH_URLS", "", "comma list of URLs to call when a death dep dies (sidecars' shutdown endpoints)"},
	{"KUBEXIT_DEATH_URL_METHOD", "POST", "POST, GET or PUT"},
	{"KUBEXIT_BIRTH_DEPS", "", "comma list of this pod's containers that must be Ready before the child starts"},
	{"KUBEXIT_BIRTH_TIMEOUT", defaultBirthTimeout.String(), "how long to wait for them; 0 waits forever"},
	{"KUBEXIT_READINESS_INTERVAL", defaultReadinessInterval.String(), "how often the pod is read while waiting"},
	{"KUBEXIT_POD_NAME", "", "this pod's name (downward API: metadata.name); required with birth deps"},
	{"KUBEXIT_NAMESPACE", "(service account's)", "this pod's namespace (downward API: metadata.namespace)"},
	{"KUBEXIT_PREFLIGHT", "false", "run the --check preflight at start-up; on failure exit 1 without starting the child"},
	{"KUBEXIT_PROCESS_GROUP", "false", "run the child in its own process group and signal the whole group"},
	{"KUBEXIT_SUBREAPER", "false", "reap orphaned zombies (always done as PID 1)"},
	{"KUBEXIT_TERMINATION_LOG", defaultTerminationLog, "file for a one-line exit reason (the default only if it exists)"},
	{"KUBEXIT_LOG_FORMAT", "text", "text or json, on stderr"},
	{"KUBEXIT_LOG_LEVEL", "info", "debug, info, warn, error or off"},
}

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
	cfg := config{
		Graveyard:         defaultGraveyard,
		GracePeriod:       defaultGracePeriod,
		BirthTimeout:      defaultBirthTimeout,
		PollInterval:      defaultPollInterval,
		ReadinessInterval: defaultReadinessInterval,
		DeathPolicy:       deathPolicy{On: deathOnAny, Settle: defaultDeathSettle},
		DeathURLMethod:    "POST",
		TerminationLog:    defaultTerminationLog,
		LogFormat:         "text",
		LogLevel:          slog.LevelInfo,
	}
	var errs []error
	bad := func(name, value, format string, args ...any) {
		errs = append(errs, &configError{Var: name, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	if v := getenv("KUBEXIT_NAME"); v == "" {
		bad("KUBEXIT_NAME", "", "required: the name of this container, used as its tombstone's file name")
	} else if err := validateName(v); err != nil {
		bad("KUBEXIT_NAME", v, "%v", err)
	} else {
		cfg.Name = v
	}

	if v := getenv("KUBEXIT_GRAVEYARD"); v != "" {
		// The original trims trailing slashes and cleans; "/" alone stays "/".
		cfg.Graveyard = filepath.Clean(v)
	}

	cfg.DeathDeps = parseNameList(getenv, "KUBEXIT_DEATH_DEPS", bad)
	cfg.BirthDeps = parseNameList(getenv, "KUBEXIT_BIRTH_DEPS", bad)
	for _, list := range []struct {
		name string
		deps []string
	}{{"KUBEXIT_DEATH_DEPS", cfg.DeathDeps}, {"KUBEXIT_BIRTH_DEPS", cfg.BirthDeps}} {
		for _, dep := range list.deps {
			if cfg.Name != "" && dep == cfg.Name {
				bad(list.name, getenv(list.name), "%q is this container's own KUBEXIT_NAME; a process cannot depend on itself", dep)
			}
		}
	}

	parseDuration(getenv, "KUBEXIT_GRACE_PERIOD", &cfg.GracePeriod, true, bad)
	parseDuration(getenv, "KUBEXIT_BIRTH_TIMEOUT", &cfg.BirthTimeout, true, bad)
	parseDuration(getenv, "KUBEXIT_POLL_INTERVAL", &cfg.PollInterval, false, bad)
	parseDuration(getenv, "KUBEXIT_READINESS_INTERVAL", &cfg.ReadinessInterval, false, bad)

	ours := parseBool(getenv, "KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS", bad)
	fork := parseBool(getenv, "KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS", bad)
	cfg.ExitZeroOnDeathDeps = ours || fork

	switch v := strings.ToLower(strings.TrimSpace(getenv("KUBEXIT_DEATH_ON"))); v {
	case "", deathOnAny:
	case deathOnSuccess, deathOnFinal:
		cfg.DeathPolicy.On = v
	default:
		bad("KUBEXIT_DEATH_ON", getenv("KUBEXIT_DEATH_ON"), "want any, success or final")
	}
	parseDuration(getenv, "KUBEXIT_DEATH_SETTLE", &cfg.DeathPolicy.Settle, true, bad)
	if v := getenv("KUBEXIT_DEATH_SETTLE"); v != "" && cfg.DeathPolicy.On != deathOnFinal {
		bad("KUBEXIT_DEATH_SETTLE", v, "only applies with KUBEXIT_DEATH_ON=final")
	}

	if v := getenv("KUBEXIT_DEATH_URLS"); v != "" {
		urls, err := parseDeathURLs(v)
		if err != nil {
			bad("KUBEXIT_DEATH_URLS", v, "%v", err)
		}
		cfg.DeathURLs = urls
	}
	if v := getenv("KUBEXIT_DEATH_URL_METHOD"); v != "" {
		m, err := parseDeathURLMethod(v)
		if err != nil {
			bad("KUBEXIT_DEATH_URL_METHOD", v, "%v", err)
		}
		cfg.DeathURLMethod = m
	}
	if len(cfg.DeathURLs) > 0 && len(cfg.DeathDeps) == 0 {
		bad("KUBEXIT_DEATH_URLS", getenv("KUBEXIT_DEATH_URLS"), "needs KUBEXIT_DEATH_DEPS: the URLs are called when a death dep dies")
	}

	cfg.ProcessGroup = parseBool(getenv, "KUBEXIT_PROCESS_GROUP", bad)
	cfg.Subreaper = parseBool(getenv, "KUBEXIT_SUBREAPER", bad)
	cfg.Preflight = parseBool(getenv, "KUBEXIT_PREFLIGHT", bad)

	if v := getenv("KUBEXIT_TERMINATION_LOG"); v != "" {
		cfg.TerminationLog, cfg.TerminationLogExplicit = v, true
	}

	if v := getenv("KUBEXIT_POD_NAME"); v != "" {
		if err := validateSubdomain(v); err != nil {
			bad("KUBEXIT_POD_NAME", v, "%v", err)
		} else {
			cfg.PodName = v
		}
	}
	if v := getenv("KUBEXIT_NAMESPACE"); v != "" {
		if err := validateName(v); err != nil {
			bad("KUBEXIT_NAMESPACE", v, "%v", err)
		} else {
			cfg.Namespace = v
		}
	}
	if len(cfg.BirthDeps) > 0 && getenv("KUBEXIT_POD_NAME") == "" {
		bad("KUBEXIT_POD_NAME", "", "required with KUBEXIT_BIRTH_DEPS: set it from the downward API (fieldRef: metadata.name)")
	}

	switch v := strings.ToLower(getenv("KUBEXIT_LOG_FORMAT")); v {
	case "", "text":
	case "json":
		cfg.LogFormat = "json"
	default:
		bad("KUBEXIT_LOG_FORMAT", getenv("KUBEXIT_LOG_FORMAT"), "want text or json")
	}
	switch v := strings.ToLower(getenv("KUBEXIT_LOG_LEVEL")); v {
	case "":
	case "off", "none", "silent":
		cfg.LogOff = true
	default:
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("KUBEXIT_LOG_LEVEL", getenv("KUBEXIT_LOG_LEVEL"), "want debug, info, warn, error or off")
		}
	}

	return cfg, errors.Join(errs...)
}

// parseNameList splits a comma list, trims spaces around items, drops empty
// items and duplicates, and validates each as a container name.
func parseNameList(getenv func(string) string, name string, bad func(string, string, string, ...any)) []string {
	raw := getenv(name)
	var out []string
	seen := map[string]bool{}
	for _, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" || seen[item] {
			continue
		}
		if err := validateName(item); err != nil {
			bad(name, raw, "item %q: %v", item, err)
			continue
		}
		seen[item] = true
		out = append(out, item)
	}
	return out
}

// parseDuration parses a Go duration into *dst when the variable is set.
func parseDuration(getenv func(string) string, name string, dst *time.Duration, zeroOK bool, bad func(string, string, string, ...any)) {
	v := getenv(name)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		bad(name, v, "not a Go duration (examples: 500ms, 30s, 2m)")
	case d < 0:
		bad(name, v, "must not be negative")
	case d == 0 && !zeroOK:
		bad(name, v, "must be greater than zero")
	default:
		*dst = d
	}
}

func parseBool(getenv func(string) string, name string, bad func(string, string, string, ...any)) bool {
	v := getenv(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		bad(name, v, "want true or false")
	}
	return b
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
