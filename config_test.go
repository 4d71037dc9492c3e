package main

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		Name:                "app",
		Graveyard:           "/graveyard",
		GracePeriod:         30 * time.Second,
		BirthTimeout:        30 * time.Second,
		PollInterval:        defaultPollInterval,
		WatchedPollInterval: 10 * time.Second,
		ReadinessInterval:   time.Second,
		DeathPolicy:         deathPolicy{On: deathOnAny, Settle: 30 * time.Second},
		DeathURLMethod:      "POST",
		DeathQuorum:         1,
		StopSignal:          syscall.SIGTERM,
		ShutdownTimeout:     20 * time.Second,
		TerminationLog:      "/dev/termination-log",
		LogFormat:           "text",
		LogLevel:            slog.LevelInfo,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestParseConfigValues(t *testing.T) {
	cfg, err := parseConfig(envFunc(map[string]string{
		"KUBEXIT_NAME":                      "app",
		"KUBEXIT_GRAVEYARD":                 "/shared/graveyard//",
		"KUBEXIT_DEATH_DEPS":                " main , ,log-shipper,main,",
		"KUBEXIT_BIRTH_DEPS":                "proxy",
		"KUBEXIT_GRACE_PERIOD":              "5s",
		"KUBEXIT_BIRTH_TIMEOUT":             "0",
		"KUBEXIT_POLL_INTERVAL":             "250ms",
		"KUBEXIT_POD_NAME":                  "web-0.x",
		"KUBEXIT_NAMESPACE":                 "prod",
		"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS": "true",
		"KUBEXIT_LOG_FORMAT":                "JSON",
		"KUBEXIT_LOG_LEVEL":                 "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Graveyard != "/shared/graveyard" {
		t.Errorf("Graveyard = %q", cfg.Graveyard)
	}
	if !reflect.DeepEqual(cfg.DeathDeps, []string{"main", "log-shipper"}) {
		t.Errorf("DeathDeps = %q, want [main log-shipper] (trimmed, empty and duplicate items dropped)", cfg.DeathDeps)
	}
	if cfg.GracePeriod != 5*time.Second || cfg.BirthTimeout != 0 || cfg.PollInterval != 250*time.Millisecond {
		t.Errorf("durations: %v %v %v", cfg.GracePeriod, cfg.BirthTimeout, cfg.PollInterval)
	}
	if !cfg.ExitZeroOnDeathDeps || cfg.LogFormat != "json" || cfg.LogLevel != slog.LevelDebug {
		t.Errorf("ExitZero=%v LogFormat=%v LogLevel=%v", cfg.ExitZeroOnDeathDeps, cfg.LogFormat, cfg.LogLevel)
	}
	if cfg.PodName != "web-0.x" || cfg.Namespace != "prod" {
		t.Errorf("PodName=%q Namespace=%q", cfg.PodName, cfg.Namespace)
	}
}

// Every invalid value is refused with a message naming the variable and the
// value.
func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "KUBEXIT_NAME: required"},
		{map[string]string{"KUBEXIT_NAME": "../etc"}, `KUBEXIT_NAME="../etc"`},
		{map[string]string{"KUBEXIT_NAME": "a/b"}, `KUBEXIT_NAME="a/b"`},
		{map[string]string{"KUBEXIT_NAME": ".."}, `KUBEXIT_NAME=".."`},
		{map[string]string{"KUBEXIT_NAME": ".hidden"}, `KUBEXIT_NAME=".hidden"`},
		{map[string]string{"KUBEXIT_NAME": "App"}, `KUBEXIT_NAME="App"`},
		{map[string]string{"KUBEXIT_NAME": "-a"}, `KUBEXIT_NAME="-a"`},
		{map[string]string{"KUBEXIT_NAME": strings.Repeat("a", 64)}, "longer than 63"},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_DEPS": "b,../c"}, `KUBEXIT_DEATH_DEPS="b,../c": item "../c"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_DEPS": "a"}, `KUBEXIT_DEATH_DEPS="a": "a" is this container's own KUBEXIT_NAME`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_BIRTH_DEPS": "b/c", "KUBEXIT_POD_NAME": "p"}, `KUBEXIT_BIRTH_DEPS="b/c"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_BIRTH_DEPS": "b"}, "KUBEXIT_POD_NAME: required with KUBEXIT_BIRTH_DEPS"},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_GRACE_PERIOD": "30"}, `KUBEXIT_GRACE_PERIOD="30": not a Go duration`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_GRACE_PERIOD": "-1s"}, `KUBEXIT_GRACE_PERIOD="-1s": must not be negative`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_BIRTH_TIMEOUT": "soon"}, `KUBEXIT_BIRTH_TIMEOUT="soon"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_POLL_INTERVAL": "0s"}, `KUBEXIT_POLL_INTERVAL="0s": must be greater than zero`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_READINESS_INTERVAL": "x"}, `KUBEXIT_READINESS_INTERVAL="x"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "yes"}, `KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS="yes": want true or false`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS": "on"}, `KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS="on"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_POD_NAME": "Pod_1"}, `KUBEXIT_POD_NAME="Pod_1"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_NAMESPACE": "a.b"}, `KUBEXIT_NAMESPACE="a.b"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_LOG_FORMAT": "xml"}, `KUBEXIT_LOG_FORMAT="xml"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_LOG_LEVEL": "loud"}, `KUBEXIT_LOG_LEVEL="loud"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_ON": "always"}, `KUBEXIT_DEATH_ON="always": want any, success or final`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_SETTLE": "10s"}, `KUBEXIT_DEATH_SETTLE="10s": only applies with KUBEXIT_DEATH_ON=final`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_ON": "final", "KUBEXIT_DEATH_SETTLE": "ten"}, `KUBEXIT_DEATH_SETTLE="ten"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_DEPS": "b", "KUBEXIT_DEATH_URLS": "ftp://x"}, `KUBEXIT_DEATH_URLS="ftp://x"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_URLS": "http://127.0.0.1:1/q"}, `KUBEXIT_DEATH_URLS="http://127.0.0.1:1/q": needs KUBEXIT_DEATH_DEPS`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_DEATH_URL_METHOD": "DELETE"}, `KUBEXIT_DEATH_URL_METHOD="DELETE"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_PROCESS_GROUP": "maybe"}, `KUBEXIT_PROCESS_GROUP="maybe"`},
		{map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_SUBREAPER": "2"}, `KUBEXIT_SUBREAPER="2"`},
	} {
		_, err := parseConfig(envFunc(tc.env))
		if err == nil {
			t.Errorf("%v: no error, want %q", tc.env, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.env, err, tc.want)
		}
	}
}

// All problems are reported at once, and a valid name survives a bad value
// elsewhere so that a tombstone can still be written.
func TestParseConfigReportsAllErrorsAndKeepsName(t *testing.T) {
	cfg, err := parseConfig(envFunc(map[string]string{
		"KUBEXIT_NAME":          "app",
		"KUBEXIT_GRACE_PERIOD":  "x",
		"KUBEXIT_POLL_INTERVAL": "y",
	}))
	if n := len(unjoin(err)); n != 2 {
		t.Errorf("got %d errors (%v), want 2", n, err)
	}
	if cfg.Name != "app" {
		t.Errorf("Name = %q, want app", cfg.Name)
	}
}

func TestParseConfigLogOff(t *testing.T) {
	for _, v := range []string{"off", "OFF", "none", "silent"} {
		cfg, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "a", "KUBEXIT_LOG_LEVEL": v}))
		if err != nil || !cfg.LogOff {
			t.Errorf("KUBEXIT_LOG_LEVEL=%s: LogOff=%v err=%v", v, cfg.LogOff, err)
		}
	}
}

// The variables table is the one source of each variable: parseConfig reads
// exactly its rows, and the README's configuration table has a row for each,
// with the same default.
func TestVariablesDocumented(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	parseConfig(func(k string) string { read[k] = true; return "" })
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // name: the README's default cell
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 3 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`KUBEXIT_") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
		}
	}
	listed := map[string]bool{}
	for _, v := range variables {
		listed[v.Name] = true
		if !read[v.Name] {
			t.Errorf("%s is in variables but parseConfig never reads it", v.Name)
		}
		cell, ok := rows[v.Name]
		switch {
		case !ok:
			t.Errorf("%s has no row in README.md's configuration table", v.Name)
		case v.Default != "" && cell != "`"+v.Default+"`":
			t.Errorf("%s: README.md's default is %s, want `%s`", v.Name, cell, v.Default)
		case v.Default == "" && strings.Contains(cell, "`"):
			t.Errorf("%s: README.md's default is %s, but it has none", v.Name, cell)
		}
	}
	for name := range read {
		if !listed[name] {
			t.Errorf("%s is read but not in variables", name)
		}
	}
	for name := range rows {
		if !listed[name] {
			t.Errorf("README.md's configuration table has %s, which is not a variable", name)
		}
	}
}

// Every default in the table parses: it is what kubexit runs with.
func TestVariableDefaultsParse(t *testing.T) {
	t.Parallel()
	if _, err := parseVariables(envFunc(nil), variables); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// validSamples holds a valid value of each variable, to check what every
// row does with white space. TestValuesTrimmed fails for a row without one.
var validSamples = map[string]string{
	"KUBEXIT_NAME":                      "app",
	"KUBEXIT_GRAVEYARD":                 "/shared/graveyard",
	"KUBEXIT_DEATH_DEPS":                "main,proxy",
	"KUBEXIT_GRACE_PERIOD":              "5s",
	"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS":   "true",
	"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS": "true",
	"KUBEXIT_POLL_INTERVAL":             "250ms",
	"KUBEXIT_DEATH_ON":                  "final",
	"KUBEXIT_DEATH_SETTLE":              "1m",
	"KUBEXIT_DEATH_URLS":                "http://127.0.0.1:15020/quitquitquit",
	"KUBEXIT_DEATH_URL_METHOD":          "PUT",
	"KUBEXIT_DEATH_QUORUM":              "all",
	"KUBEXIT_SHUTDOWN_AFTER":            "app, db",
	"KUBEXIT_RESTART_CODES":             "main:42, 43; db:1",
	"KUBEXIT_STOP_SIGNAL":               "quit",
	"KUBEXIT_WATCHED_POLL_INTERVAL":     "5s",
	"KUBEXIT_SHUTDOWN_TIMEOUT":          "20s",
	"KUBEXIT_BIRTH_DEPS":                "proxy",
	"KUBEXIT_BIRTH_PROBES":              "tcp://127.0.0.1:5432, http://localhost:15021/healthz/ready,file:///graveyard/ready",
	"KUBEXIT_BIRTH_TIMEOUT":             "1m",
	"KUBEXIT_READINESS_INTERVAL":        "2s",
	"KUBEXIT_POD_NAME":                  "web-0",
	"KUBEXIT_NAMESPACE":                 "prod",
	"KUBEXIT_PREFLIGHT":                 "true",
	"KUBEXIT_PROCESS_GROUP":             "true",
	"KUBEXIT_SUBREAPER":                 "true",
	"KUBEXIT_TERMINATION_LOG":           "/tmp/termination-log",
	"KUBEXIT_LOG_FORMAT":                "json",
	"KUBEXIT_LOG_LEVEL":                 "debug",
}

// Every variable's value is trimmed the same way: white space around a
// valid value changes nothing. A value of only white space is refused, for
// every variable, naming it (it used to be a graveyard " ", a termination
// log " ", the method POST, or an empty list, depending on the row).
func TestValuesTrimmed(t *testing.T) {
	t.Parallel()
	for _, v := range variables {
		sample, ok := validSamples[v.Name]
		if !ok {
			t.Errorf("%s: no valid sample in validSamples", v.Name)
			continue
		}
		row := []variable{v}
		want, err := parseVariables(envFunc(map[string]string{v.Name: sample}), row)
		if err != nil {
			t.Errorf("%s=%q: %v", v.Name, sample, err)
			continue
		}
		padded := " \t" + sample + " \n"
		got, err := parseVariables(envFunc(map[string]string{v.Name: padded}), row)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s=%q: got %+v, %v; want %+v as for %q", v.Name, padded, got, err, want, sample)
		}
		for _, blank := range []string{" ", "\t", " \n "} {
			_, err := parseVariables(envFunc(map[string]string{v.Name: blank}), row)
			if err == nil || !strings.Contains(err.Error(), v.Name+"="+strconv.Quote(blank)+": only white space") {
				t.Errorf("%s=%q: error %v, want it refused as only white space", v.Name, blank, err)
			}
		}
	}
}

// Durations: a typo and a value too large are told apart (time.ParseDuration
// says "invalid duration" for both), and the two polling intervals have a
// floor.
func TestParseConfigDurations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"KUBEXIT_GRACE_PERIOD", "9999999h", `KUBEXIT_GRACE_PERIOD="9999999h": out of range: the longest duration is 2562047h47m16.854775807s`},
		{"KUBEXIT_BIRTH_TIMEOUT", "-9999999h", "out of range"},
		{"KUBEXIT_DEATH_SETTLE", "99999999999999999999ns", "out of range"},
		{"KUBEXIT_GRACE_PERIOD", "30", `not a Go duration: "30" has no unit`},
		{"KUBEXIT_GRACE_PERIOD", "5sec", `not a Go duration: unknown unit "sec"`},
		{"KUBEXIT_GRACE_PERIOD", "soon", `not a Go duration: a number is missing at "soon"`},
		{"KUBEXIT_GRACE_PERIOD", "1.2.3s", `not a Go duration: "1.2.3" is not a number`},
		{"KUBEXIT_GRACE_PERIOD", "--1s", "not a Go duration: more than one sign"},
		{"KUBEXIT_GRACE_PERIOD", "1s2", `not a Go duration: "2" has no unit`},
		{"KUBEXIT_POLL_INTERVAL", "1ns", `KUBEXIT_POLL_INTERVAL="1ns": below the floor of 10ms (each poll wakes kubexit`},
		{"KUBEXIT_POLL_INTERVAL", "9.999ms", "below the floor of 10ms"},
		{"KUBEXIT_POLL_INTERVAL", "0", "must be greater than zero: at least 10ms"},
		{"KUBEXIT_READINESS_INTERVAL", "1ns", `KUBEXIT_READINESS_INTERVAL="1ns": below the floor of 200ms`},
		{"KUBEXIT_READINESS_INTERVAL", "199ms", "below the floor of 200ms"},
	} {
		_, err := parseVariables(envFunc(map[string]string{tc.name: tc.value}), lookupVariables(tc.name))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want it to contain %q", tc.name, tc.value, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name, value string
		want        time.Duration
	}{
		{"KUBEXIT_POLL_INTERVAL", "10ms", minPollInterval},
		{"KUBEXIT_READINESS_INTERVAL", "200ms", minReadinessInterval},
		{"KUBEXIT_GRACE_PERIOD", "0", 0},
		{"KUBEXIT_GRACE_PERIOD", "2562047h47m16.854775807s", maxDuration},
		{"KUBEXIT_GRACE_PERIOD", "+1.5h", 90 * time.Minute},
		{"KUBEXIT_GRACE_PERIOD", ".5s", 500 * time.Millisecond},
		{"KUBEXIT_GRACE_PERIOD", "1µs1us1μs", 3 * time.Microsecond},
	} {
		cfg, err := parseVariables(envFunc(map[string]string{tc.name: tc.value}), lookupVariables(tc.name))
		got := cfg.PollInterval + cfg.ReadinessInterval + cfg.GracePeriod
		if err != nil || got != tc.want {
			t.Errorf("%s=%q: %v, %v; want %v", tc.name, tc.value, got, err, tc.want)
		}
	}
}

// The graveyard is trimmed and cleaned, a relative path kept (as the
// original does), and control characters refused: "a\nb" used to create
// directories under the working directory. The termination log gets the
// same check.
func TestParseConfigPaths(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]string{
		" /shared/graveyard/ ": "/shared/graveyard",
		"/":                    "/",
		"graveyard/./x/":       "graveyard/x",
		"/with space/ü":        "/with space/ü",
		"/not-utf8-\xff":       "/not-utf8-\xff",
	} {
		cfg, err := parseVariables(envFunc(map[string]string{"KUBEXIT_GRAVEYARD": value}), lookupVariables("KUBEXIT_GRAVEYARD"))
		if err != nil || cfg.Graveyard != want {
			t.Errorf("KUBEXIT_GRAVEYARD=%q: %q, %v; want %q", value, cfg.Graveyard, err, want)
		}
	}
	for _, name := range []string{"KUBEXIT_GRAVEYARD", "KUBEXIT_TERMINATION_LOG"} {
		for _, value := range []string{"a\nb", "/g\x00", "/g\tx", "/g\x7f", "/g\u0085x", "/g\u200e", "/g\u00a0x", "/g\ufeff"} {
			cfg, err := parseVariables(envFunc(map[string]string{name: value}), lookupVariables(name))
			want := name + "=" + strconv.Quote(value) + ": a path must not contain control or invisible characters"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s=%q: error %v, want %q", name, value, err, want)
			}
			if cfg.Graveyard != "" || cfg.TerminationLog != "" {
				t.Errorf("%s=%q: kept as %q%q", name, value, cfg.Graveyard, cfg.TerminationLog)
			}
		}
	}
}

// Only kubexit's levels: slog's offsets and numbers are refused
// ("info+100" silenced every record).
func TestParseConfigLogLevel(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, " Warn ": slog.LevelWarn, "error": slog.LevelError,
	} {
		cfg, err := parseVariables(envFunc(map[string]string{"KUBEXIT_LOG_LEVEL": value}), lookupVariables("KUBEXIT_LOG_LEVEL"))
		if err != nil || cfg.LogLevel != want || cfg.LogOff {
			t.Errorf("KUBEXIT_LOG_LEVEL=%q: %v off=%v %v; want %v", value, cfg.LogLevel, cfg.LogOff, err, want)
		}
	}
	for _, value := range []string{"info+100", "ERROR+1", "debug-4", "8", "-4", "warning", "information"} {
		_, err := parseVariables(envFunc(map[string]string{"KUBEXIT_LOG_LEVEL": value}), lookupVariables("KUBEXIT_LOG_LEVEL"))
		if err == nil || !strings.Contains(err.Error(), "want debug, info, warn, error or off") {
			t.Errorf("KUBEXIT_LOG_LEVEL=%q: error %v, want it refused", value, err)
		}
	}
}

// configSizeLimit is what one variable's error may take, whatever its value.
const configSizeLimit = 4 << 10

// A list of 128 KB (the most one variable can hold) is refused in a few
// KB: the value quoted once and cut, items refused for one reason merged and
// counted, a handful of reasons listed. A 32 KB list of bad items used to
// print megabytes.
func TestConfigErrorsBounded(t *testing.T) {
	t.Parallel()
	const size = 128 << 10
	distinct := func(format string) string {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, format, i)
		}
		return b.String()[:size]
	}
	for _, tc := range []struct{ name, value, want string }{
		{"KUBEXIT_DEATH_DEPS", strings.Repeat("BAD,", size/4), `item "BAD" (32768 times): must be a container name`},
		{"KUBEXIT_DEATH_DEPS", distinct("B%d"), `items "B0", "B1", "B2" and `},
		{"KUBEXIT_BIRTH_DEPS", strings.Repeat("BAD,x/y,", size/8), `items "BAD" (16384 times), "x/y" (16384 times): must be a container name`},
		{"KUBEXIT_BIRTH_PROBES", distinct("ftp%d://x:1"), `item "ftp0://x:1": unknown scheme "ftp0": want tcp, http, https or file; `},
		{"KUBEXIT_BIRTH_PROBES", strings.Repeat("tcp://x,", size/8), `item "tcp://x" (16384 times): a missing port`},
		{"KUBEXIT_DEATH_URLS", distinct("ftp%d://x"), `item "ftp0://x": scheme "ftp0" is not http or https; `},
		{"KUBEXIT_DEATH_URLS", strings.Repeat("x", size), `item "xxxxxxxx`},
		{"KUBEXIT_DEATH_DEPS", strings.Repeat("A", size), `item "AAAA`},
	} {
		_, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_DEATH_DEPS": "main", tc.name: tc.value}))
		if err == nil {
			t.Errorf("%s: %d bytes accepted", tc.name, len(tc.value))
			continue
		}
		msg := err.Error()
		prefix := fmt.Sprintf("%s=%s… (%d bytes): ", tc.name, strconv.Quote(tc.value[:configValueBytes]), len(tc.value))
		if len(msg) > configSizeLimit || !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d bytes of error, want at most %d, starting %q and containing %q:\n%.2000s",
				tc.name, len(msg), configSizeLimit, prefix, tc.want, msg)
		}
	}
	// Every variable, with a long bad value.
	for _, v := range variables {
		value := strings.Repeat("Ä,", size/3)
		_, err := parseConfig(envFunc(map[string]string{"KUBEXIT_NAME": "app", v.Name: value}))
		for _, e := range unjoin(err) {
			if len(e.Error()) > configSizeLimit {
				t.Errorf("%s: %d bytes of error: %.300s…", v.Name, len(e.Error()), e)
			}
		}
	}
}

// Distinct reasons beyond the first few are counted, not listed.
func TestSplitListBounded(t *testing.T) {
	t.Parallel()
	check := func(s string) error {
		if s == "ok" {
			return nil
		}
		return fmt.Errorf("bad %s", s)
	}
	items, problems := splitList("ok,a,b, ok ,c,d,e,f,g,a,a", check)
	if !reflect.DeepEqual(items, []string{"ok"}) {
		t.Errorf("items %q", items)
	}
	want := []string{`item "a" (3 times): bad a`, `item "b": bad b`, `item "c": bad c`, `item "d": bad d`, `item "e": bad e`,
		"and 2 more items, refused for 2 other reasons"}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("problems\n%q\nwant\n%q", problems, want)
	}
}

// An unknown KUBEXIT_* variable is named, with the nearest known one when
// one is close; KUBEXIT_DEATH_DEP=main used to be silently ignored.
func TestUnknownVariables(t *testing.T) {
	t.Parallel()
	got := unknownVariables([]string{
		"PATH=/bin",
		"KUBEXIT_NAME=app",
		"KUBEXIT_DEATH_DEP=main",
		"KUBEXIT_DEATH_DEP=again", // one warning per name
		"KUBEXIT_GRAVYARD=/g",
		"kubexit_death_deps=main", // names are case-sensitive
		"KUBEXIT_DEPS_DEATH=main",
		"KUBEXIT_DEATHDEPS=main",
		"KUBEXIT_BIRTH_DEP=proxy",
		"KUBEXIT_TIMEOUT=secret-value",
		"KUBEXIT_NAM=x",
		"KUBEXIT_AB=x", // too short to be close to KUBEXIT_NAME
		"KUBEXIT_=x",
		"KUBEXIT_NO_VALUE", // an empty value counts as unset, as for known names
		"KUBEXIT_EMPTY=",
		"XKUBEXIT_NAME=x",
		"KUBEXIT\n=x",
	})
	want := []string{ // sorted by name, bytewise
		"KUBEXIT_ is not a kubexit variable; it is ignored",
		"KUBEXIT_AB is not a kubexit variable; it is ignored",
		"KUBEXIT_BIRTH_DEP is not a kubexit variable (did you mean KUBEXIT_BIRTH_DEPS?); it is ignored",
		"KUBEXIT_DEATHDEPS is not a kubexit variable (did you mean KUBEXIT_DEATH_DEPS?); it is ignored",
		"KUBEXIT_DEATH_DEP is not a kubexit variable (did you mean KUBEXIT_DEATH_DEPS?); it is ignored",
		"KUBEXIT_DEPS_DEATH is not a kubexit variable (did you mean KUBEXIT_DEATH_DEPS?); it is ignored",
		"KUBEXIT_GRAVYARD is not a kubexit variable (did you mean KUBEXIT_GRAVEYARD?); it is ignored",
		"KUBEXIT_NAM is not a kubexit variable (did you mean KUBEXIT_NAME?); it is ignored",
		"KUBEXIT_TIMEOUT is not a kubexit variable; it is ignored",
		"kubexit_death_deps is not a kubexit variable (did you mean KUBEXIT_DEATH_DEPS?); it is ignored",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.Join(got, "\n"), "secret-value") {
		t.Errorf("a warning shows a value: %q", got)
	}
	if got := unknownVariables(nil); got != nil {
		t.Errorf("no environment: %q", got)
	}
	var known []string
	for _, v := range variables {
		known = append(known, v.Name+"=x")
	}
	if got := unknownVariables(known); got != nil {
		t.Errorf("every known variable: %q", got)
	}
}

// Many unknown variables, or a huge name, give a bounded answer.
func TestUnknownVariablesBounded(t *testing.T) {
	t.Parallel()
	var env []string
	for i := range 1000 {
		env = append(env, fmt.Sprintf("KUBEXIT_X%04d=v", i))
	}
	env = append(env, "KUBEXIT_"+strings.Repeat("Z", 100000)+"=v", "KUBEXIT_\x1b[2J=v")
	got := unknownVariables(env)
	if len(got) != maxUnknownWarnings+1 || got[1] != "KUBEXIT_X0000 is not a kubexit variable; it is ignored" ||
		got[maxUnknownWarnings] != "and 982 more unknown KUBEXIT_* variables, ignored" {
		t.Errorf("%d warnings: %.300q", len(got), got)
	}
	got = unknownVariables(env[1000:])
	want := []string{
		`"KUBEXIT_\x1b[2J" is not a kubexit variable; it is ignored`,
		`"KUBEXIT_` + strings.Repeat("Z", 56) + `"… (100008 bytes) is not a kubexit variable; it is ignored`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
