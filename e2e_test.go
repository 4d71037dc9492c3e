package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// End-to-end tests: the real kubexit binary (see TestMain), real child
// processes (sh scripts), real signals, real graveyards in temp dirs.

// script writes an sh script into dir and returns its path. Scripts that must
// react to signals loop on short sleeps: sh runs a trap only after the
// foreground command ends.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// loopUntilSignalled is an sh fragment: tell the test we are ready, then idle.
const loopUntilSignalled = `touch "$READY"; while :; do sleep 0.05; done`

func TestRomeoAndJuliet(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "juliet-ready")
	juliet := startKubexit(t, map[string]string{
		"KUBEXIT_NAME":         "juliet",
		"KUBEXIT_GRAVEYARD":    gy,
		"KUBEXIT_DEATH_DEPS":   "romeo",
		"KUBEXIT_GRACE_PERIOD": "30s",
		"READY":                ready,
	}, script(t, tmp, "juliet.sh", `trap 'echo "juliet: TERM received"; exit 42' TERM; `+loopUntilSignalled))
	waitFor(t, "juliet's child to be ready", func() bool { return fileExists(ready) })
	waitTombstone(t, gy, "juliet", "born", isBorn)

	code, romeoLog := runKubexit(t, map[string]string{"KUBEXIT_NAME": "romeo", "KUBEXIT_GRAVEYARD": gy}, "sh", "-c", "exit 3")
	if code != 3 {
		t.Fatalf("romeo exit status %d, want 3; stderr:\n%s", code, romeoLog)
	}
	romeo, _ := readTombstone(gy, "romeo")
	if romeo.Born == nil || romeo.Died == nil || romeo.ExitCode == nil || *romeo.ExitCode != 3 {
		t.Errorf("romeo's tombstone %v, want born, died, exit code 3", romeo)
	}

	if code := juliet.wait(); code != 42 {
		t.Fatalf("juliet exit status %d, want 42 (her child's trap); stderr:\n%s", code, juliet.stderr)
	}
	if !strings.Contains(juliet.stdout.String(), "juliet: TERM received") {
		t.Errorf("juliet's child did not get TERM; stdout: %q", juliet.stdout)
	}
	if !strings.Contains(juliet.stderr.String(), "death dep died; terminating the child") || !strings.Contains(juliet.stderr.String(), "dep=romeo") {
		t.Errorf("juliet's log does not say romeo died:\n%s", juliet.stderr)
	}
	ts, _ := readTombstone(gy, "juliet")
	if ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 42 || ts.Born == nil {
		t.Errorf("juliet's tombstone %v, want born, died, exit code 42", ts)
	}
}

func TestDeathDepAlreadyDeadChildNeverStarts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		wantCode int
	}{
		{"default", nil, 143},
		{"exit zero", map[string]string{"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "true"}, 0},
		{"fork's variable", map[string]string{"KUBEXIT_IGNORE_CODE_ON_DEATH_DEPS": "true"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gy, tmp := t.TempDir(), t.TempDir()
			writeFile(t, gy, "main", diedYAML)
			marker := filepath.Join(tmp, "started")
			env := map[string]string{"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main"}
			for k, v := range tc.env {
				env[k] = v
			}
			code, stderr := runKubexit(t, env, "touch", marker)
			if code != tc.wantCode {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if fileExists(marker) {
				t.Error("the child ran although its death dep was already dead")
			}
			if !strings.Contains(stderr, "death dep main already dead") {
				t.Errorf("stderr does not say why:\n%s", stderr)
			}
			ts, _ := readTombstone(gy, "sidecar")
			if ts.Born != nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 143 {
				t.Errorf("tombstone %v, want Died with exit code 143 and no Born", ts)
			}
		})
	}
}

func TestChildIgnoringTermIsKilledAfterGracePeriod(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME":         "stubborn",
		"KUBEXIT_GRAVEYARD":    gy,
		"KUBEXIT_DEATH_DEPS":   "main",
		"KUBEXIT_GRACE_PERIOD": "1s",
		"READY":                ready,
	}, script(t, tmp, "stubborn.sh", `trap '' TERM; `+loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 137 {
		t.Fatalf("exit status %d, want 137 (SIGKILL); stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "child still running after the grace period; killing it") {
		t.Errorf("no kill logged:\n%s", p.stderr)
	}
	ts, _ := readTombstone(gy, "stubborn")
	if ts.ExitCode == nil || *ts.ExitCode != 137 {
		t.Errorf("tombstone %v, want exit code 137", ts)
	}
}

func TestExitZeroOnDeathDepsWhileRunning(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME":                    "sidecar",
		"KUBEXIT_GRAVEYARD":               gy,
		"KUBEXIT_DEATH_DEPS":              "main",
		"KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "true",
		"READY":                           ready,
	}, script(t, tmp, "sidecar.sh", loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.stderr)
	}
	ts, _ := readTombstone(gy, "sidecar")
	if ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %v, want the child's real status 143", ts)
	}
}

// Without the opt-in, a child that exits on its own is not affected by it,
// and one that fails is reported as failed even with it.
func TestExitZeroOnlyAppliesToDeathDepTermination(t *testing.T) {
	gy := t.TempDir()
	code, stderr := runKubexit(t, map[string]string{
		"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy,
		"KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS": "true",
	}, "sh", "-c", "exit 4")
	if code != 4 {
		t.Fatalf("exit status %d, want 4; stderr:\n%s", code, stderr)
	}
}

func TestSignalsAreForwarded(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM} {
		t.Run(sig.String(), func(t *testing.T) {
			gy, tmp := t.TempDir(), t.TempDir()
			ready := filepath.Join(tmp, "ready")
			name := signame(sig)
			// The child exits with the signal number so the test can tell which one arrived.
			p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "READY": ready},
				script(t, tmp, "child.sh", `trap 'exit `+strconv.Itoa(int(sig))+`' `+name+`; `+loopUntilSignalled))
			waitFor(t, "child ready", func() bool { return fileExists(ready) })
			p.signal(sig)
			if code := p.wait(); code != int(sig) {
				t.Fatalf("exit status %d, want %d (the child's trap for %v); stderr:\n%s", code, int(sig), sig, p.stderr)
			}
		})
	}
}

// A child that does not handle the forwarded TERM dies of it: 128+15.
func TestForwardedTermKillsChild(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "READY": ready},
		script(t, tmp, "child.sh", `touch "$READY"; exec sleep 600`))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	waitTombstone(t, gy, "app", "born", isBorn)
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
	}
	ts, _ := readTombstone(gy, "app")
	if ts.ExitCode == nil || *ts.ExitCode != 143 {
		t.Errorf("tombstone %v, want exit code 143", ts)
	}
}

func TestExitStatus(t *testing.T) {
	tmp := t.TempDir()
	notExec := writeFile(t, tmp, "not-executable", "#!/bin/sh\nexit 0\n")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"one", []string{"false"}, 1},
		{"two", []string{"sh", "-c", "exit 2"}, 2},
		{"255", []string{"sh", "-c", "exit 255"}, 255},
		{"not found", []string{"no-such-command-kubexit"}, 127},
		{"missing path", []string{filepath.Join(tmp, "missing")}, 127},
		{"not executable", []string{notExec}, 126},
		{"directory", []string{tmp}, 126},
		{"killed", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"terminated", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
		{"segfault", []string{"sh", "-c", "kill -SEGV $$"}, 128 + 11},
		{"42", []string{"sh", "-c", "exit 42"}, 42},
		{"126 from the child", []string{"sh", "-c", "exit 126"}, 126},
		{"128", []string{"sh", "-c", "exit 128"}, 128},
		{"254", []string{"sh", "-c", "exit 254"}, 254},
		{"hangup", []string{"sh", "-c", "kill -HUP $$"}, 128 + 1},
		{"interrupt", []string{"sh", "-c", "kill -INT $$"}, 128 + 2},
		{"quit", []string{"sh", "-c", "kill -QUIT $$"}, 128 + 3},
		{"abort", []string{"sh", "-c", "kill -ABRT $$"}, 128 + 6},
		{"usr1", []string{"sh", "-c", "kill -USR1 $$"}, 128 + 10},
		{"pipe", []string{"sh", "-c", "kill -PIPE $$"}, 128 + 13},
		{"double dash", []string{"--", "sh", "-c", "exit 7"}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gy := t.TempDir()
			code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, tc.args...)
			if code != tc.want {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, tc.want, stderr)
			}
			ts, ok := readTombstone(gy, "app")
			if !ok || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != tc.want {
				t.Errorf("tombstone %v, want Died with exit code %d", ts, tc.want)
			}
			if startFailure := !strings.HasPrefix(tc.name, "126 from"); tc.want >= 126 && tc.want <= 127 && startFailure {
				if ts.Born != nil {
					t.Errorf("tombstone has Born for a child that never started: %v", ts)
				}
				if !strings.Contains(stderr, "cannot start the child") {
					t.Errorf("no clear message:\n%s", stderr)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	gy := t.TempDir()
	env := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}
	for _, args := range [][]string{nil, {"--"}, {"-x", "true"}} {
		code, stderr := runKubexit(t, env, args...)
		if code != 2 {
			t.Errorf("kubexit %q: exit status %d, want 2; stderr:\n%s", args, code, stderr)
		}
		if !strings.Contains(stderr, "usage: kubexit") {
			t.Errorf("kubexit %q: no usage hint:\n%s", args, stderr)
		}
	}
}

// Bad values: exit 2, a message naming the variable and value, the child not
// started, and (when the name itself is valid) a Died tombstone so that
// siblings waiting on this process do not wait forever.
func TestBadEnvironment(t *testing.T) {
	tmp := t.TempDir()
	gy := filepath.Join(tmp, "graveyard")
	marker := filepath.Join(tmp, "started")
	code, stderr := runKubexit(t, map[string]string{
		"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy,
		"KUBEXIT_GRACE_PERIOD": "thirty", "KUBEXIT_DEATH_DEPS": "Main",
	}, "touch", marker)
	if code != 2 {
		t.Fatalf("exit status %d, want 2", code)
	}
	for _, want := range []string{`KUBEXIT_GRACE_PERIOD=\"thirty\"`, `KUBEXIT_DEATH_DEPS=\"Main\"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %s:\n%s", want, stderr)
		}
	}
	if fileExists(marker) {
		t.Error("child started despite a bad configuration")
	}
	ts, _ := readTombstone(gy, "app")
	if ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 2 {
		t.Errorf("tombstone %v, want Died with exit code 2", ts)
	}
}

// Names that could escape the graveyard are refused before anything is
// written anywhere.
func TestNameTraversalRefused(t *testing.T) {
	for _, name := range []string{"../escape", "..", "a/../../escape", "/etc/passwd", ".", "escape/", "Escape"} {
		for _, v := range []string{"KUBEXIT_NAME", "KUBEXIT_DEATH_DEPS"} {
			root := t.TempDir()
			gy := filepath.Join(root, "graveyard")
			env := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}
			env[v] = name
			code, stderr := runKubexit(t, env, "true")
			if code != 2 {
				t.Errorf("%s=%q: exit status %d, want 2; stderr:\n%s", v, name, code, stderr)
			}
			if !strings.Contains(stderr, v) {
				t.Errorf("%s=%q: message does not name the variable:\n%s", v, name, stderr)
			}
			entries, _ := os.ReadDir(root)
			for _, e := range entries {
				if e.Name() != "graveyard" {
					t.Errorf("%s=%q: %s written outside the graveyard", v, name, e.Name())
				}
			}
		}
	}
}

// A garbled dep tombstone is logged, not fatal; the dep's later death is
// still acted on.
func TestGarbledDepTombstoneThenDeath(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	writeFile(t, gy, "main", "Born: \"2026-11-25T23:21:14.60")
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main", "READY": ready,
	}, script(t, tmp, "child.sh", loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	waitFor(t, "garbled tombstone logged", func() bool { return strings.Contains(p.stderr.String(), "not readable yet") })
	if p.exited() {
		t.Fatalf("kubexit exited on a garbled tombstone:\n%s", p.stderr)
	}
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
	}
}

// stdout belongs to the child: kubexit writes nothing there, and its own
// lines on stderr are marked.
func TestStdoutIsTheChilds(t *testing.T) {
	gy := t.TempDir()
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, "sh", "-c", "echo out; echo err >&2")
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if got := p.stdout.String(); got != "out\n" {
		t.Errorf("stdout = %q, want only the child's %q", got, "out\n")
	}
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		if line != "err" && !strings.HasPrefix(line, "kubexit: ") {
			t.Errorf("stderr line neither the child's nor marked as kubexit's: %q", line)
		}
	}
}

func TestJSONLogs(t *testing.T) {
	gy := t.TempDir()
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_LOG_FORMAT": "json"}, "true")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["logger"] != "kubexit" || rec["name"] != "app" || rec["time"] == nil || rec["level"] == nil {
			t.Errorf("record lacks logger/name/time/level: %q", line)
		}
	}
}

func TestLogLevels(t *testing.T) {
	gy := t.TempDir()
	_, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_LOG_LEVEL": "off"}, "sh", "-c", "echo child-err >&2")
	if stderr != "child-err\n" {
		t.Errorf("KUBEXIT_LOG_LEVEL=off: stderr = %q, want only the child's line", stderr)
	}
	_, stderr = runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_LOG_LEVEL": "error"}, "no-such-command-kubexit")
	if !strings.Contains(stderr, "cannot start the child") || strings.Contains(stderr, "level=INFO") {
		t.Errorf("KUBEXIT_LOG_LEVEL=error: stderr = %q, want errors only", stderr)
	}
}

// A signal that kubexit's parent ignores stays ignored in the child (nohup's
// SIGHUP), because kubexit does not subscribe to it.
func TestIgnoredHangupInherited(t *testing.T) {
	gy := t.TempDir()
	kubexit, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", `trap '' HUP; KUBEXIT_NAME=app KUBEXIT_GRAVEYARD=`+gy+` exec `+kubexit+` sh -c 'grep ^SigIgn: /proc/self/status'`).Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "SigIgn:")), 16, 64)
	if err != nil {
		t.Fatalf("cannot parse %q: %v", out, err)
	}
	if mask&(1<<(syscall.SIGHUP-1)) == 0 {
		t.Errorf("child's SigIgn %#x lacks SIGHUP", mask)
	}
}

func signame(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGQUIT:
		return "QUIT"
	case syscall.SIGUSR1:
		return "USR1"
	case syscall.SIGUSR2:
		return "USR2"
	case syscall.SIGWINCH:
		return "WINCH"
	case syscall.SIGALRM:
		return "ALRM"
	}
	panic("signame: " + sig.String())
}
