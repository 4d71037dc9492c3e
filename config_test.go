package main

import (
	"log/slog"
	"os"
	"reflect"
	"strings"
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
		Name:              "app",
		Graveyard:         "/graveyard",
		GracePeriod:       30 * time.Second,
		BirthTimeout:      30 * time.Second,
		PollInterval:      defaultPollInterval,
		ReadinessInterval: time.Second,
		DeathPolicy:       deathPolicy{On: deathOnAny, Settle: 30 * time.Second},
		DeathURLMethod:    "POST",
		TerminationLog:    "/dev/termination-log",
		LogFormat:         "text",
		LogLevel:          slog.LevelInfo,
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
