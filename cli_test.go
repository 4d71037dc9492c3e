package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// The commands' output, exit statuses and effects are in
// testdata/script/cli_*.txtar; here is what a script cannot see.

// --help lists every row of the variables table.
func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	printHelp(&out)
	for _, v := range variables {
		if !strings.Contains(out.String(), "  "+v.Name+" ") {
			t.Errorf("--help does not list %s:\n%s", v.Name, out.String())
		}
	}
}

// --help shows each command's usage line exactly as the command's -h (and
// its usage errors) does: both come from commandUsages.
func TestHelpShowsEachCommandsUsage(t *testing.T) {
	t.Parallel()
	var help strings.Builder
	printHelp(&help)
	for _, c := range commandUsages {
		var stdout, stderr strings.Builder
		if code := runOption([]string{c.name, "-h"}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%s -h: exit %d, %s", c.name, code, stderr.String())
		}
		usage := strings.TrimPrefix(strings.TrimSpace(stdout.String()), "usage: ")
		if !strings.Contains(help.String(), "\n  "+usage+" ") && !strings.Contains(help.String(), "\n  "+usage+"\n") {
			t.Errorf("--help does not show %s's usage %q:\n%s", c.name, usage, help.String())
		}
	}
}

// --version prints the version set at build time with -ldflags -X (the
// version of a plain build: cli_help.txtar).
func TestVersion(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds kubexit")
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

// isControl is a control character other than the newline ending a line.
func isControl(r rune) bool { return r != '\n' && unicode.IsControl(r) }

// FuzzRunOption feeds kubexit's own commands arbitrary arguments (NUL
// separated) against a graveyard with a died, a born and a garbled
// tombstone. They must not panic, must exit 0, 1 or 2, and must not block:
// a --timeout of 10ms is appended, which, being last, wins over any other.
// Usage errors stay short (4 KiB) whatever the arguments' length, and
// repeat no control character raw.
func FuzzRunOption(f *testing.F) {
	for _, seed := range []string{
		"--status", "--status\x00-o\x00json", "--status\x00-o\x00yaml", "--status\x00extra",
		"--wait\x00died\x00dead", "--wait\x00born\x00alive", "--wait\x00died\x00alive", "--wait\x00--timeout\x00-1s\x00died\x00x",
		"--wait\x00died\x00BAD", "--wait\x00died\x00dead\x00--", "--wait\x00--\x00died\x00dead",
		"--check\x00x", "--help", "-h", "--version", "-x", "--nope\x00--status",
		"--status\x00-o", "--wait\x00died", "--status\x00--output=json\x00-o=table",
	} {
		f.Add(seed)
	}
	gy := f.TempDir()
	os.WriteFile(filepath.Join(gy, "dead"), []byte(diedYAML), 0o644)
	os.WriteFile(filepath.Join(gy, "alive"), []byte(bornYAML), 0o644)
	os.WriteFile(filepath.Join(gy, "garbled"), []byte("Born: \"2026-11-25T23:2"), 0o644)
	environ := []string{"KUBEXIT_GRAVEYARD=" + gy, "KUBEXIT_NAME=fuzz", "HOME=" + gy, "KUBEXIT_DEATH_DEP=x"}
	// --lint and --inject read stdin when given no file: let it be empty.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		f.Fatal(err)
	}
	os.Stdin = devNull
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		if !isOption(args) {
			return // a command to run: the supervisor's, not this target's
		}
		if args[0] == "--install" || strings.Contains(joined, "in-place") {
			return // they write files where they are told: the tree under test, say
		}
		if args[0] == "--wait" {
			args = append(args, "--timeout", "10ms")
		}
		var stdout, stderr strings.Builder
		code := runOption(args, environ, &stdout, &stderr)
		if code != 0 && code != exitInternal && code != exitUsage {
			t.Errorf("%q: exit %d", args, code)
		}
		if code == exitUsage && stderr.Len() > 4096 {
			t.Errorf("%q: %d bytes of usage error", args, stderr.Len())
		}
		if i := strings.IndexFunc(stderr.String(), isControl); i >= 0 {
			t.Errorf("%q: raw control character in %q", args, cut(stderr.String()[i:], 40))
		}
	})
}
