package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every signal a wrapper can forward reaches a child that traps it, and
// kubexit lives on: the faults a Go program would crash on (SIGILL, SIGSEGV,
// SIGABRT...) when another process sends them, and the real-time signals.
func TestEverySignalForwarded(t *testing.T) {
	t.Parallel()
	sigs := []syscall.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE,
		syscall.SIGSEGV, syscall.SIGSYS, syscall.SIGSTKFLT, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
		syscall.SIGIO, syscall.SIGPWR, 35, 36, 50, 63, 64}
	var traps strings.Builder
	for _, s := range sigs {
		fmt.Fprintf(&traps, `trap 'echo %d >> "$TMP/got"' %d; `, int(s), int(s))
	}
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		traps.String()+`trap 'exit 0' TERM; `+loopUntilSignalled)
	got := filepath.Join(tmp, "got")
	for i, s := range sigs {
		p.signal(s)
		want := i + 1
		waitFor(t, fmt.Sprintf("%s at the child", signalName(s)), func() bool {
			data, _ := os.ReadFile(got)
			return strings.Count(string(data), "\n") >= want || p.exited()
		})
		if p.exited() {
			t.Fatalf("kubexit exited %d on %s; stderr:\n%s", p.code, signalName(s), p.stderr)
		}
	}
	data, _ := os.ReadFile(got)
	var want strings.Builder
	for _, s := range sigs {
		fmt.Fprintf(&want, "%d\n", int(s))
	}
	if string(data) != want.String() {
		t.Errorf("the child got\n%s\nwant\n%s", data, want.String())
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d after TERM; stderr:\n%s", code, p.stderr)
	}
}

// A parent may make kubexit a subreaper before it execs it (exec keeps the
// bit): orphans then come to kubexit, which reaps them, as with
// KUBEXIT_SUBREAPER=true.
func TestInheritedSubreaperReaps(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed to set PR_SET_CHILD_SUBREAPER before exec")
	}
	kubexit, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatal(err)
	}
	child, count := orphansChild(t, 4, 42, false)
	cmd := exec.Command(py, "-c", `import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl failed")
os.execv(sys.argv[1], sys.argv[1:])`, kubexit, child)
	cmd.Env = append(os.Environ(), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+t.TempDir(), "KUBEXIT_LOG_LEVEL=debug")
	out, _ := cmd.CombinedOutput()
	if code := exitStatus(cmd.ProcessState); code != 42 {
		t.Fatalf("exit %d, want the child's 42:\n%s", code, out)
	}
	expectReaped(t, count, string(out), 4)
}
