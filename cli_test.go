package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
