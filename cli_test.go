package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// runKubexitOut runs kubexit and returns its status, stdout and stderr.
func runKubexitOut(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	p := startKubexit(t, env, args...)
	code := p.wait()
	return code, p.stdout.String(), p.stderr.String()
}

func TestHelp(t *testing.T) {
	for _, opt := range []string{"-h", "--help"} {
		code, out, _ := runKubexitOut(t, nil, opt)
		if code != 0 {
			t.Fatalf("%s: exit %d", opt, code)
		}
		for _, v := range variables {
			if !strings.Contains(out, v.Name) {
				t.Errorf("%s does not list %s", opt, v.Name)
			}
		}
		for _, want := range []string{"Usage:", "--status", "--wait born|died NAME", "--check", "Exit status:", "128+N"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", opt, want)
			}
		}
	}
}

// --version prints the version set at build time with -ldflags -X, and the
// Go version.
func TestVersion(t *testing.T) {
	code, out, _ := runKubexitOut(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "kubexit ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	if testing.Short() {
		return
	}
	bin := filepath.Join(t.TempDir(), "kubexit")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v9.8.7", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out2, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out2), "kubexit v9.8.7 (go") {
		t.Errorf("built with -X main.version=v9.8.7: %q, %v", out2, err)
	}
}

func TestUnknownOption(t *testing.T) {
	code, _, stderr := runKubexitOut(t, nil, "--frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown option "--frobnicate"`) || !strings.Contains(stderr, "usage: kubexit") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// --status on a real graveyard: tombstones written by real kubexits (one
// finished, one running, one never started) and a garbled one.
func TestStatus(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	runKubexit(t, map[string]string{"KUBEXIT_NAME": "romeo", "KUBEXIT_GRAVEYARD": gy}, "sh", "-c", "exit 3")
	juliet := startKubexit(t, map[string]string{"KUBEXIT_NAME": "juliet", "KUBEXIT_GRAVEYARD": gy, "READY": ready},
		script(t, tmp, "juliet.sh", loopUntilSignalled))
	waitFor(t, "juliet ready", func() bool { return fileExists(ready) })
	runKubexit(t, map[string]string{"KUBEXIT_NAME": "ghost", "KUBEXIT_GRAVEYARD": gy}, "no-such-command-kubexit")
	writeFile(t, gy, "broken", "Born: \"2026-11-25T23:2")
	writeFile(t, gy, ".juliet.tmp-123", "") // a temporary file: not shown

	code, out, stderr := runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 rows:\n%s", out)
	}
	for i, re := range []string{
		`^NAME\s+STATE\s+BORN\s+DIED\s+EXIT\s+AGE$`,
		`^romeo\s+died\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+3\s+\d+(\.\d+)?(ms|s)$`,
		`^juliet\s+born\s+\S+Z\s+-\s+-\s+\S+$`,
		`^ghost\s+not started\s+-\s+\S+Z\s+127\s+\S+$`,
		`^broken\s+unreadable\s+-\s+-\s+-\s+-\s+\(.+\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s\n%s", i, lines[i], re, out)
		}
	}

	code, out, _ = runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status", "-o", "json")
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(rows) != 4 || rows[0].Name != "romeo" || *rows[0].ExitCode != 3 || rows[0].State != "died" ||
		rows[1].Name != "juliet" || rows[1].State != "born" || rows[3].State != "unreadable" || rows[3].Error == "" {
		t.Errorf("json rows: %+v", rows)
	}
	juliet.signal(15)
	juliet.wait()
}

func TestStatusEmptyAndMissingGraveyard(t *testing.T) {
	gy := t.TempDir()
	code, out, _ := runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status")
	if code != 0 || !strings.Contains(out, "no tombstones") {
		t.Errorf("empty: exit %d, %q", code, out)
	}
	code, out, _ = runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("empty json: exit %d, %q", code, out)
	}
	code, _, stderr := runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": filepath.Join(gy, "nope")}, "--status")
	if code != 1 || !strings.Contains(stderr, "cannot read the graveyard") {
		t.Errorf("missing: exit %d, %q", code, stderr)
	}
	code, _, _ = runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status", "-o", "yaml")
	if code != 2 {
		t.Errorf("-o yaml: exit %d, want 2", code)
	}
}

// --wait blocks until a sibling is born, or has died; it times out with a
// reason.
func TestWait(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	env := map[string]string{"KUBEXIT_GRAVEYARD": gy, "KUBEXIT_POLL_INTERVAL": "20ms"}
	born := startKubexit(t, env, "--wait", "born", "main", "--timeout", "60s")
	died := startKubexit(t, env, "--wait", "died", "main")
	ready := filepath.Join(tmp, "ready")
	main := startKubexit(t, map[string]string{"KUBEXIT_NAME": "main", "KUBEXIT_GRAVEYARD": gy, "READY": ready},
		script(t, tmp, "main.sh", `touch "$READY"; sleep 0.5; exit 0`))
	if code := born.wait(); code != 0 {
		t.Fatalf("--wait born: exit %d: %s", code, born.stderr)
	}
	if code := main.wait(); code != 0 {
		t.Fatalf("main: exit %d", code)
	}
	if code := died.wait(); code != 0 {
		t.Fatalf("--wait died: exit %d: %s", code, died.stderr)
	}

	code, _, stderr := runKubexitOut(t, env, "--wait", "born", "nobody", "--timeout=300ms")
	if code != 1 || !strings.Contains(stderr, "nobody not born after 300ms (no tombstone yet") {
		t.Errorf("timeout: exit %d, %q", code, stderr)
	}
	writeFile(t, gy, "alive", bornYAML)
	code, _, stderr = runKubexitOut(t, env, "--wait", "died", "alive", "--timeout", "300ms")
	if code != 1 || !strings.Contains(stderr, "alive not died after 300ms (tombstone: born 2026-11-25T23:21:14.604215824Z") {
		t.Errorf("timeout: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{{"--wait"}, {"--wait", "gone", "x"}, {"--wait", "born", "../x"}, {"--wait", "born", "x", "--timeout", "soon"}} {
		if code, _, _ := runKubexitOut(t, env, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestCheckGraveyard(t *testing.T) {
	gy := t.TempDir()
	code, out, _ := runKubexitOut(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, "--check")
	if code != 0 || !strings.Contains(out, "ok: graveyard "+gy+" is writable") {
		t.Errorf("exit %d: %q", code, out)
	}
	if entries, _ := os.ReadDir(gy); len(entries) != 0 {
		t.Errorf("--check left %d files in the graveyard", len(entries))
	}
	notDir := writeFile(t, gy, "file", "")
	code, out, _ = runKubexitOut(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": notDir}, "--check")
	if code != 1 || !strings.Contains(out, "FAIL: graveyard "+notDir+" is not writable") {
		t.Errorf("exit %d: %q", code, out)
	}
	code, out, _ = runKubexitOut(t, map[string]string{"KUBEXIT_GRAVEYARD": gy, "KUBEXIT_GRACE_PERIOD": "x"}, "--check")
	if code != 1 || !strings.Contains(out, "FAIL: KUBEXIT_NAME: required") || !strings.Contains(out, `FAIL: KUBEXIT_GRACE_PERIOD="x"`) {
		t.Errorf("exit %d: %q", code, out)
	}
}

// KUBEXIT_PREFLIGHT=true runs the checks at start-up: a failure means no child.
func TestPreflightAtStartup(t *testing.T) {
	tmp := t.TempDir()
	notDir := writeFile(t, tmp, "file", "")
	marker := filepath.Join(tmp, "started")
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": notDir, "KUBEXIT_PREFLIGHT": "true"}, "touch", marker)
	if code != 1 || fileExists(marker) || !strings.Contains(stderr, "preflight: graveyard") {
		t.Errorf("exit %d, child ran %v; stderr:\n%s", code, fileExists(marker), stderr)
	}
	gy := filepath.Join(tmp, "gy")
	code, stderr = runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_PREFLIGHT": "true"}, "touch", marker)
	if code != 0 || !fileExists(marker) {
		t.Errorf("exit %d, child ran %v; stderr:\n%s", code, fileExists(marker), stderr)
	}
}
