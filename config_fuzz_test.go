package main

import (
	"log/slog"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParseConfig sets three variables, chosen by index into the table, to
// random values, over a valid base (KUBEXIT_NAME=app). parseConfig must not
// panic; every error names a variable and is bounded; white space around the
// values changes nothing; and a configuration it accepts is one kubexit can
// run with (the invariants in checkValidConfig).
// Seeds: testdata/fuzz/FuzzParseConfig. Run: go test -run '^$' -fuzz FuzzParseConfig -fuzztime 60s .
func FuzzParseConfig(f *testing.F) {
	index := func(name string) uint8 {
		return uint8(slices.IndexFunc(variables, func(v variable) bool { return v.Name == name }))
	}
	f.Add(index("KUBEXIT_DEATH_DEPS"), "main, proxy", index("KUBEXIT_POLL_INTERVAL"), "10ms", index("KUBEXIT_LOG_LEVEL"), "DEBUG")
	f.Add(index("KUBEXIT_BIRTH_DEPS"), "proxy", index("KUBEXIT_POD_NAME"), "web-0", index("KUBEXIT_READINESS_INTERVAL"), "200ms")
	f.Add(index("KUBEXIT_DEATH_DEPS"), "app", index("KUBEXIT_DEATH_URLS"), "http://[::1]:0/x,ftp://y", index("KUBEXIT_DEATH_ON"), "final")
	f.Add(index("KUBEXIT_BIRTH_PROBES"), "tcp://127.0.0.1:1,http://u@h:2/#x,file:rel", index("KUBEXIT_BIRTH_TIMEOUT"), "0", index("KUBEXIT_READINESS_INTERVAL"), "1s")
	f.Add(index("KUBEXIT_GRAVEYARD"), "a\nb", index("KUBEXIT_GRACE_PERIOD"), "9999999h", index("KUBEXIT_NAME"), " ")
	f.Add(index("KUBEXIT_DEATH_DEPS"), "main,db", index("KUBEXIT_RESTART_CODES"), "main:42, 300;;db:1,x:", index("KUBEXIT_STOP_SIGNAL"), "sigquit")
	f.Fuzz(func(t *testing.T, i1 uint8, v1 string, i2 uint8, v2 string, i3 uint8, v3 string) {
		env := map[string]string{"KUBEXIT_NAME": "app"}
		for _, kv := range []struct {
			i uint8
			v string
		}{{i1, v1}, {i2, v2}, {i3, v3}} {
			env[variables[int(kv.i)%len(variables)].Name] = kv.v
		}
		cfg, err := parseConfig(envFunc(env))
		errs := unjoin(err)
		for _, e := range errs {
			msg := e.Error()
			if len(msg) > configSizeLimit {
				t.Errorf("%d bytes of error: %.300q…", len(msg), msg)
			}
			if !strings.HasPrefix(msg, "KUBEXIT_") {
				t.Errorf("error %q does not start with the variable's name", msg)
			}
		}
		if err == nil {
			checkValidConfig(t, cfg)
		}

		padded := map[string]string{}
		for k, v := range env {
			padded[k] = v
			if strings.TrimSpace(v) != "" {
				padded[k] = " \t" + v + "\n "
			}
		}
		cfg2, err2 := parseConfig(envFunc(padded))
		if len(unjoin(err2)) != len(errs) || !configEqual(cfg, cfg2) {
			t.Errorf("white space around the values changed the outcome:\n%+v, %v\n%+v, %v", cfg, err, cfg2, err2)
		}
	})
}

// checkValidConfig fails t unless cfg is one kubexit can run with.
func checkValidConfig(t *testing.T, cfg config) {
	t.Helper()
	if cfg.Name == "" || validateName(cfg.Name) != nil {
		t.Errorf("Name %q", cfg.Name)
	}
	if cfg.Graveyard == "" || cfg.Graveyard != filepath.Clean(cfg.Graveyard) || validatePath(cfg.Graveyard) != nil {
		t.Errorf("Graveyard %q", cfg.Graveyard)
	}
	for _, deps := range [][]string{cfg.DeathDeps, cfg.BirthDeps} {
		seen := map[string]bool{}
		for _, d := range deps {
			if d == "" || validateName(d) != nil || d == cfg.Name || seen[d] {
				t.Errorf("dep %q in %q", d, deps)
			}
			seen[d] = true
		}
	}
	if cfg.PollInterval < minPollInterval || cfg.ReadinessInterval < minReadinessInterval {
		t.Errorf("PollInterval %v, ReadinessInterval %v", cfg.PollInterval, cfg.ReadinessInterval)
	}
	if cfg.GracePeriod < 0 || cfg.BirthTimeout < 0 || cfg.DeathPolicy.Settle < 0 {
		t.Errorf("GracePeriod %v, BirthTimeout %v, Settle %v", cfg.GracePeriod, cfg.BirthTimeout, cfg.DeathPolicy.Settle)
	}
	if !slices.Contains([]string{deathOnAny, deathOnSuccess, deathOnFinal}, cfg.DeathPolicy.On) {
		t.Errorf("DeathPolicy.On %q", cfg.DeathPolicy.On)
	}
	if !slices.Contains([]string{"POST", "GET", "PUT"}, cfg.DeathURLMethod) {
		t.Errorf("DeathURLMethod %q", cfg.DeathURLMethod)
	}
	for _, u := range cfg.DeathURLs {
		if validateDeathURL(u) != nil {
			t.Errorf("DeathURL %q", u)
		}
	}
	if len(cfg.DeathURLs) > 0 && len(cfg.DeathDeps) == 0 {
		t.Errorf("DeathURLs without DeathDeps")
	}
	if len(cfg.BirthDeps) > 0 && (cfg.PodName == "" || validateSubdomain(cfg.PodName) != nil) {
		t.Errorf("BirthDeps with PodName %q", cfg.PodName)
	}
	if cfg.Namespace != "" && validateName(cfg.Namespace) != nil {
		t.Errorf("Namespace %q", cfg.Namespace)
	}
	if cfg.TerminationLog == "" || validatePath(cfg.TerminationLog) != nil {
		t.Errorf("TerminationLog %q", cfg.TerminationLog)
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		t.Errorf("LogFormat %q", cfg.LogFormat)
	}
	if !slices.Contains([]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}, cfg.LogLevel) {
		t.Errorf("LogLevel %v", cfg.LogLevel)
	}
}

// configEqual compares configs, nil and empty lists alike.
func configEqual(a, b config) bool {
	for _, c := range []*config{&a, &b} {
		for _, l := range []*[]string{&c.DeathDeps, &c.BirthDeps, &c.DeathURLs} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	return reflect.DeepEqual(a, b)
}

// FuzzParseDuration holds parseDuration to time.ParseDuration: the same
// value when that accepts it; when it refuses it, "out of range" only for a
// well-formed value whose magnitude is near or past the largest duration,
// else a syntax error.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "1ns", "-1.5h", "9999999h", "30", "1.2.3s", "5sec", ".s", "+-1s", "2562047h47m16.854775808s", "1µs", "99999999999999999999ns", "0.0000000000000000000000001h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := time.ParseDuration(s)
		got, err := parseDuration(s)
		switch {
		case wantErr == nil:
			if err != nil || got != want {
				t.Errorf("%q: %v, %v; want %v", s, got, err, want)
			}
		case err == nil:
			t.Errorf("%q: accepted as %v; time.ParseDuration: %v", s, got, wantErr)
		case len(err.Error()) > 200:
			t.Errorf("%q: %d bytes of error", s, len(err.Error()))
		case strings.HasPrefix(err.Error(), "out of range"):
			if n, ok := durationNanos(s); !ok || n.Cmp(big.NewRat(1<<62, 1)) < 0 {
				t.Errorf("%q: %v, but it is %v ns", s, err, n)
			}
		case !strings.HasPrefix(err.Error(), "not a Go duration: "):
			t.Errorf("%q: %v", s, err)
		}
	})
}

// durationNanos evaluates a well-formed duration exactly, its magnitude in
// nanoseconds; false if s is not one.
func durationNanos(s string) (*big.Rat, bool) {
	units := map[string]int64{"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
	s = strings.TrimLeft(s, "+-")
	sum := new(big.Rat)
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return nil, false
		}
		number := s[:i]
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if j < 0 {
			j = len(s)
		}
		unit, ok := units[s[:j]]
		s = s[j:]
		n, ok2 := new(big.Rat).SetString(strings.TrimSuffix(number, "."))
		if !ok || !ok2 {
			return nil, false
		}
		sum.Add(sum, n.Mul(n, big.NewRat(unit, 1)))
	}
	return sum, true
}
