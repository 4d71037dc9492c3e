package main

// The KUBEXIT_* variables: the table of them (name, default, help, parser),
// the single source for parsing, --help and the README check; parseConfig,
// and the checks of values that are each valid alone but not together.

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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

// Floors of the two polling intervals: a shorter value is refused.
const (
	// minPollInterval: every poll wakes the process, and the wake-ups are
	// the cost: ~1 % of a core at 20ms (docs/performance.md#poll-interval),
	// ~90 % at 1ns. At 10ms a poll costs ~2 % and reacts in ~5 ms (median);
	// below it, the wake-ups cost more than the reaction gains.
	minPollInterval = 10 * time.Millisecond
	// minReadinessInterval: every interval is a GET of the pod from the API
	// server. client-go's default rate limiter, which the client keeps,
	// sustains 5 requests a second, so a shorter interval would not be
	// kept, only slowed down to it silently, while loading the API server
	// at that pace from every waiting container. (The kubelet updates
	// readiness at most once per probe period, 1 s or more, anyway.)
	minReadinessInterval = 200 * time.Millisecond
)

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

// shown is the default as --help shows it.
func (v variable) shown() string {
	if v.Shown != "" {
		return v.Shown
	}
	return v.Default
}

// variables lists every KUBEXIT_* variable, in --help's order.
var variables = []variable{
	{"KUBEXIT_NAME", "", "(required)", "this container's name: its tombstone is <graveyard>/<name>", validated(validateName, func(c *config) *string { return &c.Name })},
	{"KUBEXIT_GRAVEYARD", defaultGraveyard, "", "the shared directory of tombstones", parseGraveyard},
	{"KUBEXIT_DEATH_DEPS", "", "", "comma list of names: when one dies (or KUBEXIT_DEATH_QUORUM of them), TERM the child", nameList(func(c *config) *[]string { return &c.DeathDeps })},
	{"KUBEXIT_GRACE_PERIOD", "30s", "", "time between that TERM and KILL", duration(0, "", func(c *config) *time.Duration { return &c.GracePeriod })},
	{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS", "false", "", "exit 0 when the child was terminated because a death dep died", parseExitZero},
	{"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS", "false", "", "the same, under a fork's name", parseExitZero},
	{"KUBEXIT_POLL_INTERVAL", defaultPollInterval.String(), "", "how often the graveyard is polled (at least 10ms)", duration(minPollInterval, "each poll wakes kubexit, and 1ns costs most of a core", func(c *config) *time.Duration { return &c.PollInterval })},
	{"KUBEXIT_WATCHED_POLL_INTERVAL", "10s", "", "where the kernel sees every write to the graveyard (tmpfs, a local disk), polls follow each change at once and this is how often the graveyard is polled besides", duration(minPollInterval, "each poll wakes kubexit", func(c *config) *time.Duration { return &c.WatchedPollInterval })},
	{"KUBEXIT_DEATH_ON", deathOnAny, "", "which deaths count: any, success (exit 0) or final (stays dead for KUBEXIT_DEATH_SETTLE)", parseDeathOn},
	{"KUBEXIT_DEATH_SETTLE", "30s", "", "with KUBEXIT_DEATH_ON=final: how long a death must stand", duration(0, "", func(c *config) *time.Duration { return &c.DeathPolicy.Settle })},
	{"KUBEXIT_DEATH_URLS", "", "", "comma list of URLs to call when a death dep dies (sidecars' shutdown endpoints)", parseDeathURLsVar},
	{"KUBEXIT_DEATH_URL_METHOD", "POST", "", "POST, GET or PUT", parseDeathURLMethodVar},
	{"KUBEXIT_DEATH_QUORUM", "1", "", "how many death deps must have died before the child is stopped: a number, or all", parseDeathQuorum},
	{"KUBEXIT_RESTART_CODES", "", "", "without API access: the exit codes on which a dep's container is restarted in place (its restart rules), whose deaths do not count: main:42,43;db:1", parseRestartCodes},
	{"KUBEXIT_STOP_SIGNAL", "TERM", "", "the signal a death dep's death sends the child (where kubexit reads its pod, the container's lifecycle.stopSignal unless set)", parseStopSignal},
	{"KUBEXIT_SHUTDOWN_AFTER", "", "", "comma list of siblings that must be gone before a stop signal (TERM, INT, QUIT) is forwarded to the child", nameList(func(c *config) *[]string { return &c.ShutdownAfter })},
	{"KUBEXIT_SHUTDOWN_TIMEOUT", "20s", "", "the longest a stop signal is held for KUBEXIT_SHUTDOWN_AFTER; then it is forwarded anyway", duration(0, "", func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{"KUBEXIT_BIRTH_DEPS", "", "", "comma list of this pod's containers that must be Ready before the child starts", nameList(func(c *config) *[]string { return &c.BirthDeps })},
	{"KUBEXIT_BIRTH_PROBES", "", "", "comma list of probes that must all pass before the child starts: tcp://HOST:PORT, http(s)://HOST:PORT/PATH (200-399, no certificate check), file:///PATH (not empty)", parseBirthProbes},
	{"KUBEXIT_BIRTH_TIMEOUT", "30s", "", "how long to wait for birth deps and probes; 0 waits forever", duration(0, "", func(c *config) *time.Duration { return &c.BirthTimeout })},
	{"KUBEXIT_READINESS_INTERVAL", "1s", "", "how often the pod is read, and the probes tried, while waiting (at least 200ms)", duration(minReadinessInterval, "each is a GET of the pod from the API server, which client-go paces at 5 a second", func(c *config) *time.Duration { return &c.ReadinessInterval })},
	{"KUBEXIT_POD_NAME", "", "", "this pod's name (downward API: metadata.name); required with birth deps", validated(validateSubdomain, func(c *config) *string { return &c.PodName })},
	{"KUBEXIT_NAMESPACE", "", "(service account's)", "this pod's namespace (downward API: metadata.namespace)", validated(validateName, func(c *config) *string { return &c.Namespace })},
	{"KUBEXIT_PREFLIGHT", "false", "", "run the --check preflight at start-up; on failure exit 1 without starting the child; strict: an unknown KUBEXIT_* variable fails it too", parsePreflight},
	{"KUBEXIT_PROCESS_GROUP", "false", "", "run the child in its own process group and signal the whole group", boolean(func(c *config) *bool { return &c.ProcessGroup })},
	{"KUBEXIT_SUBREAPER", "false", "", "reap orphaned zombies (always done as PID 1)", boolean(func(c *config) *bool { return &c.Subreaper })},
	{"KUBEXIT_TERMINATION_LOG", defaultTerminationLog, "", "file for a one-line exit reason (the default only if it exists)", parseTerminationLog},
	{"KUBEXIT_LOG_FORMAT", "text", "", "text or json, on stderr", parseLogFormat},
	{"KUBEXIT_LOG_LEVEL", "info", "", "debug, info, warn, error or off", parseLogLevel},
}

// Bounds of a configError's message, whatever the value (a variable can
// hold 128 KB): the value is quoted up to configValueBytes, the reason cut at
// configReasonBytes (list problems are bounded before that: splitList).
const (
	configValueBytes  = 100
	configReasonBytes = 3000
)

// configError is an invalid KUBEXIT_* value: kubexit exits 2 (usage). Its
// message names the variable and quotes the value once, cut when long:
// KUBEXIT_X="abc"… (70000 bytes): why.
type configError struct {
	Var, Value string
	Reason     string
}

func (e *configError) Error() string {
	reason := redactUserinfo(cut(e.Reason, configReasonBytes))
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Var, reason)
	}
	return fmt.Sprintf("%s=%s: %s", e.Var, quoteCut(redactUserinfo(e.Value), configValueBytes), reason)
}

// userinfoInURL is the user information of a URL: "user:password@" after
// "scheme://", up to the host.
var userinfoInURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"]*@`)

// redactUserinfo hides URLs' user information in s: a password in a
// refused URL must not end up in the pod log or the termination message.
func redactUserinfo(s string) string {
	return userinfoInURL.ReplaceAllString(s, "${1}REDACTED@")
}

// parseConfig reads the configuration through getenv (os.Getenv in
// production). An empty value counts as unset, as in the original. It returns
// every problem it finds, joined, so a pod log shows them all at once; cfg is
// still filled as far as possible (Name and Graveyard when valid) so that a
// tombstone can be written even for a bad configuration.
func parseConfig(getenv func(string) string) (config, error) {
	cfg, err := parseVariables(getenv, variables)
	cfg.TerminationLogExplicit = getenv("KUBEXIT_TERMINATION_LOG") != ""
	cfg.StopSignalSet = getenv("KUBEXIT_STOP_SIGNAL") != ""
	return cfg, errors.Join(append(unjoin(err), unjoin(checkConfig(cfg, getenv))...)...)
}

// parseVariables applies the defaults of vars, then their values from getenv,
// to a zero config. The CLI uses it for the few variables a command reads.
//
// Every value is trimmed of white space before it is parsed, the same for
// every variable. A value of only white space is refused, not taken as
// unset: it is what a template that produced nothing leaves, and taking the
// default (or none) in its place would be a silent misconfiguration.
func parseVariables(getenv func(string) string, vars []variable) (config, error) {
	var cfg config
	var errs []error
	for _, v := range vars {
		raw := getenv(v.Name)
		value := strings.TrimSpace(raw)
		if raw != "" && value == "" {
			errs = append(errs, &configError{Var: v.Name, Value: raw, Reason: "only white space; set a value, or leave it empty (unset)"})
			continue
		}
		if value == "" {
			value = v.Default
		}
		if value == "" {
			continue
		}
		if err := v.parse(&cfg, value); err != nil {
			errs = append(errs, &configError{Var: v.Name, Value: raw, Reason: err.Error()})
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
	if getenv("KUBEXIT_DEATH_QUORUM") != "" && len(cfg.DeathDeps) == 0 {
		bad("KUBEXIT_DEATH_QUORUM", "needs KUBEXIT_DEATH_DEPS: it counts their deaths")
	}
	if cfg.DeathQuorum > len(cfg.DeathDeps) && len(cfg.DeathDeps) > 0 {
		bad("KUBEXIT_DEATH_QUORUM", fmt.Sprintf("more than the %d death deps in KUBEXIT_DEATH_DEPS; use all", len(cfg.DeathDeps)))
	}
	if getenv("KUBEXIT_SHUTDOWN_TIMEOUT") != "" && len(cfg.ShutdownAfter) == 0 {
		bad("KUBEXIT_SHUTDOWN_TIMEOUT", "only applies with KUBEXIT_SHUTDOWN_AFTER")
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.RestartCodes)) {
		if len(cfg.DeathDeps) > 0 && !slices.Contains(cfg.DeathDeps, name) {
			bad("KUBEXIT_RESTART_CODES", fmt.Sprintf("%q is not in KUBEXIT_DEATH_DEPS; the codes say which deaths of a death dep do not count", name))
		}
	}
	if len(cfg.RestartCodes) > 0 && len(cfg.DeathDeps) == 0 {
		bad("KUBEXIT_RESTART_CODES", "needs KUBEXIT_DEATH_DEPS: the codes say which of their deaths do not count")
	}
	if len(cfg.DeathURLs) > 0 && len(cfg.DeathDeps) == 0 {
		bad("KUBEXIT_DEATH_URLS", "needs KUBEXIT_DEATH_DEPS: the URLs are called when a death dep dies")
	}
	if len(cfg.BirthDeps) > 0 && getenv("KUBEXIT_POD_NAME") == "" {
		bad("KUBEXIT_POD_NAME", "required with KUBEXIT_BIRTH_DEPS: set it from the downward API (fieldRef: metadata.name)")
	}
	return errors.Join(errs...)
}
