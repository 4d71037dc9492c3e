package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
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
	// WatchedPollInterval is the safety poll where an inotify watch on the
	// graveyard wakes the poller at each change (watch.go's pace).
	WatchedPollInterval time.Duration
	DeathPolicy         deathPolicy
	// DeathURLs are called (DeathURLMethod) when a death dep dies, for
	// sidecars that cannot be wrapped but have a shutdown endpoint.
	DeathURLs      []string
	DeathURLMethod string
	// DeathQuorum is how many death deps must have died (as DeathPolicy
	// counts deaths) before the child is stopped; 0 means all of them.
	DeathQuorum int

	// ShutdownAfter names siblings that must be gone before a stop signal
	// from outside is forwarded to the child; ShutdownTimeout bounds that hold.
	ShutdownAfter   []string
	ShutdownTimeout time.Duration

	// ProcessGroup starts the child in its own process group and signals
	// the whole group. Subreaper makes kubexit reap orphans (it does when it
	// is PID 1 anyway).
	ProcessGroup bool
	Subreaper    bool
	// Preflight runs the --check preflight at start-up; PreflightStrict
	// (KUBEXIT_PREFLIGHT=strict) fails it on an unknown KUBEXIT_* variable.
	Preflight, PreflightStrict bool

	// TerminationLog receives a one-line reason for kubexit's exit.
	// TerminationLogExplicit is false for the default path, which is only
	// written when it exists (Kubernetes mounts it in every container).
	TerminationLog         string
	TerminationLogExplicit bool

	BirthDeps         []string
	BirthProbes       []probe       // KUBEXIT_BIRTH_PROBES (probes.go)
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

// maxUnknownWarnings bounds unknownVariables' answer.
const maxUnknownWarnings = 20

// unknownVariables warns about each variable of environ (os.Environ's
// NAME=VALUE entries) whose name starts with KUBEXIT_, in any case, but is
// not a row of variables: a typo there is otherwise silently ignored
// (KUBEXIT_DEATH_DEP=main makes a sidecar that never stops). A warning names
// the variable, never its value, and the nearest known name when one is
// close. The answer is sorted and has one warning per name, at most
// maxUnknownWarnings of them, then one saying how many more there are.
// Only the table is known: the test harness's own KUBEXIT_* variables
// (KUBEXIT_K8S_TESTS...) are warned about too.
func unknownVariables(environ []string) []string {
	known := map[string]bool{}
	for _, v := range variables {
		known[v.Name] = true
	}
	var names []string
	seen := map[string]bool{}
	for _, kv := range environ {
		// An empty value counts as unset, for unknown names too.
		name, value, _ := strings.Cut(kv, "=")
		if value == "" || len(name) < len("KUBEXIT_") || !strings.EqualFold(name[:len("KUBEXIT_")], "KUBEXIT_") || known[name] || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	slices.Sort(names)
	var out []string
	for i, name := range names {
		if i == maxUnknownWarnings {
			out = append(out, fmt.Sprintf("and %d more unknown KUBEXIT_* variables, ignored", len(names)-i))
			break
		}
		shown := name
		if len(name) > 64 || strings.ContainsFunc(name, notNameChar) {
			shown = quoteCut(name, 64) // visible and short in a log line
		}
		if near := nearestVariable(name); near != "" {
			out = append(out, fmt.Sprintf("%s is not a kubexit variable (did you mean %s?); it is ignored", shown, near))
		} else {
			out = append(out, fmt.Sprintf("%s is not a kubexit variable; it is ignored", shown))
		}
	}
	return out
}

// notNameChar: r is not a letter, digit or '_', what a variable name
// usually is made of.
func notNameChar(r rune) bool {
	return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
}

// nearestVariable is the row of variables closest to name, when one is
// close: compared in upper case, by edit distance (at most 3, and at most
// half the length of the known name's part after KUBEXIT_, so that short
// names do not match everything), or with the same words in another order
// (KUBEXIT_DEPS_DEATH). Ties go to the first row.
func nearestVariable(name string) string {
	upper := strings.ToUpper(name)
	best, bestDist := "", 4
	for _, v := range variables {
		limit := min(3, (len(v.Name)-len("KUBEXIT_"))/2)
		d := limit + 1
		switch {
		case upper == v.Name:
			d = 0
		case sameWords(upper, v.Name):
			d = 1
		case len(upper)-len(v.Name) <= limit && len(v.Name)-len(upper) <= limit:
			d = editDistance(upper, v.Name)
		}
		if d <= limit && d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	return best
}

// sameWords: a and b have the same '_'-separated words, in any order.
func sameWords(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	wa, wb := strings.Split(a, "_"), strings.Split(b, "_")
	slices.Sort(wa)
	slices.Sort(wb)
	return slices.Equal(wa, wb)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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

// parseGraveyard cleans the path as the original does: trailing slashes
// dropped, "/" alone stays "/". A relative path is accepted, as the original
// accepts it: it is relative to kubexit's working directory (the child's
// too), so it works only where every container sharing the graveyard has the
// same one. Control and invisible characters (a newline from a YAML block
// scalar) are refused: no volume mount has them, and such a path would
// create a stray directory rather than use the shared one.
func parseGraveyard(c *config, v string) error {
	if err := validatePath(v); err != nil {
		return err
	}
	c.Graveyard = filepath.Clean(v)
	return nil
}

// parseTerminationLog takes the path as given (only trimmed, as every
// value), with the graveyard's check for control characters.
func parseTerminationLog(c *config, v string) error {
	if err := validatePath(v); err != nil {
		return err
	}
	c.TerminationLog = v
	return nil
}

// validatePath refuses control characters (NUL, newline, tab, DEL, C1) and
// invisible ones (zero-width and direction marks, spaces other than ' ') in
// a path: pasted into a manifest, they make a path that looks like the
// sibling containers' but is not. Bytes that are not UTF-8 are left alone: a
// Linux path need not be UTF-8.
func validatePath(v string) error {
	for i, r := range v {
		if !strconv.IsPrint(r) {
			return fmt.Errorf("a path must not contain control or invisible characters (%q at byte %d)", r, i)
		}
	}
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

// duration parses a Go duration into *field(c): not negative, and at least
// floor when floor is not zero (a zero floor lets 0 through); why says why
// the floor is there.
func duration(floor time.Duration, why string, field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := parseDuration(v)
		switch {
		case err != nil:
			return err
		case d < 0:
			return errors.New("must not be negative")
		case d == 0 && floor > 0:
			return fmt.Errorf("must be greater than zero: at least %v (%s)", floor, why)
		case d < floor:
			return fmt.Errorf("below the floor of %v (%s)", floor, why)
		}
		*field(c) = d
		return nil
	}
}

// maxDuration is the longest time.Duration, about 292 years.
const maxDuration = time.Duration(1<<63 - 1)

// parseDuration is time.ParseDuration with errors that say what is wrong:
// time.ParseDuration gives the same "invalid duration" for a typo and for a
// value too large to hold, so the syntax is checked here and a value that
// is well-formed but refused is out of range.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil {
		return d, nil
	}
	if why := durationSyntax(v); why != "" {
		return 0, fmt.Errorf("not a Go duration: %s (examples: 500ms, 30s, 2m)", why)
	}
	return 0, fmt.Errorf("out of range: the longest duration is %v (about 292 years)", maxDuration)
}

// durationUnits are time.ParseDuration's units.
var durationUnits = map[string]bool{"ns": true, "us": true, "µs": true, "μs": true, "ms": true, "s": true, "m": true, "h": true}

// durationSyntax checks v against time.ParseDuration's grammar, ignoring
// magnitude: [-+] then "0", or numbers (digits, an optional fraction), each
// with a unit. It says what is wrong, or "" when v is well-formed.
func durationSyntax(v string) string {
	s := strings.TrimLeft(v, "+-")
	switch {
	case len(v)-len(s) > 1:
		return "more than one sign"
	case s == "0":
		return ""
	case s == "":
		return "no number"
	}
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		number := s[:i]
		switch {
		case number == "" || number == ".":
			return fmt.Sprintf("a number is missing at %s", quoteCut(s, 20))
		case strings.Count(number, ".") > 1:
			return fmt.Sprintf("%s is not a number", quoteCut(number, 20))
		}
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		switch unit := s[:j]; {
		case unit == "":
			return fmt.Sprintf("%s has no unit", quoteCut(number, 20))
		case !durationUnits[unit]:
			return fmt.Sprintf("unknown unit %s", quoteCut(unit, 20))
		}
		s = s[j:]
	}
	return ""
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

// parsePreflight reads true, false or strict: the preflight, and with strict
// an unknown KUBEXIT_* variable fails it (as --check --strict).
func parsePreflight(c *config, v string) error {
	if strings.EqualFold(v, "strict") {
		c.Preflight, c.PreflightStrict = true, true
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true, false or strict")
	}
	c.Preflight = b
	return nil
}

// parseExitZero serves both names of the switch: either one set to true turns it on.
func parseExitZero(c *config, v string) error {
	b, err := parseBool(v)
	c.ExitZeroOnDeathDeps = c.ExitZeroOnDeathDeps || b
	return err
}

// parseDeathQuorum reads a positive number, or "all" (stored as 0).
func parseDeathQuorum(c *config, v string) error {
	if strings.EqualFold(v, "all") {
		c.DeathQuorum = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("want a number of death deps (1 or more) or all")
	}
	c.DeathQuorum = n
	return nil
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

// parseLogLevel accepts the four named levels and off (none, silent), in
// any case. Not slog's offsets ("info+100" would silence every record) nor
// numbers: only levels that kubexit logs at.
func parseLogLevel(c *config, v string) error {
	switch strings.ToLower(v) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	case "off", "none", "silent":
		c.LogOff = true
	default:
		return errors.New("want debug, info, warn, error or off")
	}
	return nil
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
