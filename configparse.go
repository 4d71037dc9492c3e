package main

// The parsers of KUBEXIT_* values that the table of variables (config.go)
// names: each stores a trimmed, non-empty value into the config, or says
// what is wrong with it; configError adds the variable and the value.

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

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

// nameList parses a comma list into *field(c): spaces around items are
// trimmed, empty items and duplicates dropped, and each item must be a
// container name.
func nameList(field func(*config) *[]string) func(*config, string) error {
	return func(c *config, raw string) error {
		out, problems := splitList(raw, validateName)
		*field(c) = out
		return listError(problems)
	}
}

// listError is splitList's problems as one error, nil when there are none.
func listError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
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

// parseBool reads true or false, as strconv.ParseBool spells them.
func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

// boolean parses true or false into *field(c).
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

// parseDeathOn reads any, success or final, in any case.
func parseDeathOn(c *config, v string) error {
	switch v := strings.ToLower(strings.TrimSpace(v)); v {
	case deathOnAny, deathOnSuccess, deathOnFinal:
		c.DeathPolicy.On = v
		return nil
	}
	return errors.New("want any, success or final")
}

// parseDeathURLsVar is parseDeathURLs (deathurls.go) into the config.
func parseDeathURLsVar(c *config, v string) error {
	urls, err := parseDeathURLs(v)
	c.DeathURLs = urls
	return err
}

// parseDeathURLMethodVar is parseDeathURLMethod (deathurls.go) into the config.
func parseDeathURLMethodVar(c *config, v string) error {
	m, err := parseDeathURLMethod(v)
	c.DeathURLMethod = m
	return err
}

// parseBirthProbes is KUBEXIT_BIRTH_PROBES' parser: parseProbe (probes.go)
// for each item of the list.
func parseBirthProbes(c *config, raw string) error {
	var probes []probe
	_, problems := splitList(raw, func(item string) error {
		p, err := parseProbe(item)
		if err == nil {
			probes = append(probes, p)
		}
		return err
	})
	c.BirthProbes = probes
	return listError(problems)
}

// parseLogFormat reads text or json, in any case.
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

// parseStopSignal reads KUBEXIT_STOP_SIGNAL: a signal's name, with or
// without SIG (TERM, SIGQUIT, INT). Signals whose default action does not
// end a process are refused: a child that does not trap one would keep
// running until the grace period's KILL.
func parseStopSignal(c *config, v string) error {
	name := "SIG" + strings.TrimPrefix(strings.ToUpper(v), "SIG")
	sig := unix.SignalNum(name)
	switch sig {
	case 0:
		return errors.New("not a signal's name; want TERM, QUIT, INT, HUP or USR1, for example")
	case unix.SIGSTOP, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return fmt.Errorf("%s does not end a process by default; want TERM, QUIT, INT, HUP or USR1, for example", name)
	}
	c.StopSignal = sig
	return nil
}

// maxRestartCodes bounds KUBEXIT_RESTART_CODES' entries, as the API bounds
// a rule's values (255).
const maxRestartCodes = 255

// parseRestartCodes reads KUBEXIT_RESTART_CODES: "main:42,43;db:1", the
// exit codes on which each named container is restarted in place (a
// restart rule, for a kubexit without API access).
func parseRestartCodes(c *config, v string) error {
	plans := map[string]restartPlan{}
	var problems []string
	for _, entry := range strings.Split(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, codes, ok := strings.Cut(entry, ":")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: want NAME:CODE,CODE...", quoteCut(entry, 40)))
			continue
		case validateName(name) != nil || name == "":
			problems = append(problems, fmt.Sprintf("%s: not a container name", quoteCut(name, 40)))
			continue
		case plans[name].Policy != "":
			problems = append(problems, fmt.Sprintf("%s is named twice; give all its codes in one entry", name))
			continue
		}
		var rule restartRule
		rule.Action = actionRestart
		rule.ExitCodes = &struct {
			Operator string  `json:"operator"`
			Values   []int32 `json:"values"`
		}{Operator: "In"}
		for _, f := range strings.Split(codes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 || n > 255 {
				problems = append(problems, fmt.Sprintf("%s: exit code %s: want 0 to 255", name, quoteCut(strings.TrimSpace(f), 20)))
				continue
			}
			rule.ExitCodes.Values = append(rule.ExitCodes.Values, int32(n))
		}
		if len(rule.ExitCodes.Values) > maxRestartCodes {
			problems = append(problems, fmt.Sprintf("%s: more than %d exit codes", name, maxRestartCodes))
		}
		plans[name] = restartPlan{Policy: "Never", Rules: []restartRule{rule}, Source: "KUBEXIT_RESTART_CODES"}
	}
	if len(problems) > 0 {
		return listError(problems)
	}
	if len(plans) == 0 {
		return errors.New("no entry; want NAME:CODE,CODE... entries separated by ';'")
	}
	c.RestartCodes = plans
	return nil
}
