package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as kubexit (stringer's and
// testscript's trick): testscript puts a copy named "kubexit" on PATH, and
// running it runs the real main(). Every end-to-end test below runs kubexit
// as a separate process with real children, signals and files.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kubexit":    main,
		"exitstatus": exitstatusMain,
		"termstamp":  termstampMain,
		"sigexec":    sigexecMain,
	})
}

// exitstatusMain is the test command "exitstatus N COMMAND [ARG...]": it runs
// COMMAND with inherited stdio and succeeds only if COMMAND's exit status
// (128+N for signal N) is N. Scripts use it to assert kubexit's status.
func exitstatusMain() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: exitstatus N COMMAND [ARG...]")
		os.Exit(2)
	}
	want, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "exitstatus: bad N:", err)
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "exitstatus: %s did not run\n", os.Args[2])
		os.Exit(1)
	}
	if got := exitStatus(cmd.ProcessState); got != want {
		fmt.Fprintf(os.Stderr, "exitstatus: %s exited %d, want %d\n", os.Args[2], got, want)
		os.Exit(1)
	}
}

// TestScripts runs the scenarios in testdata/script: kubexit's behaviour as
// a user sees it, one txtar file each.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Start from a clean slate whatever the test process has.
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "KUBEXIT_") {
					env.Setenv(k, "")
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfile": cmdWaitfile,
		},
	})
}

// cmdWaitfile is the script command "waitfile PATH [PATTERN]": it polls until
// PATH exists (and its content matches the regular expression PATTERN).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfile PATH [PATTERN]")
	}
	var re *regexp.Regexp
	if len(args) == 2 {
		re = regexp.MustCompile(args[1])
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(testTimeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil && (re == nil || re.Match(data)) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile %s: not there after %v (last content %q)", args[0], testTimeout, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testTimeout bounds waits in tests. It is generous on purpose: these tests
// assert on what happens, never on how fast (see the benchmarks for that).
const testTimeout = 60 * time.Second

// kubexitProc is a kubexit process started by a test.
type kubexitProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	code   int
}

// startKubexit starts kubexit with args and the KUBEXIT_* variables in env
// (other KUBEXIT_* variables of the test process are removed). The process
// is killed when the test ends, if it still runs.
func startKubexit(t testing.TB, env map[string]string, args ...string) *kubexitProc {
	t.Helper()
	path, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatalf("kubexit not on PATH (TestMain sets it up): %v", err)
	}
	cmd := exec.Command(path, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBEXIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &kubexitProc{t: t, cmd: cmd, stderr: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	// A grandchild that outlives kubexit may hold the output pipes open;
	// kubexit's own exit is what the tests wait for.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kubexit: %v", err)
	}
	go func() {
		cmd.Wait()
		p.code = -1
		if cmd.ProcessState != nil {
			p.code = exitStatus(cmd.ProcessState)
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
			t.Logf("kubexit %v was still running at the end of the test; killed. stderr:\n%s", args, p.stderr)
		}
	})
	return p
}

// wait waits for kubexit to exit and returns its exit status.
func (p *kubexitProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(testTimeout):
		p.t.Fatalf("kubexit did not exit within %v; stderr:\n%s", testTimeout, p.stderr)
		return -1
	}
}

// exited reports whether kubexit has exited.
func (p *kubexitProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *kubexitProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal kubexit: %v", err)
	}
}

// runKubexit runs kubexit to the end and returns its status and stderr.
func runKubexit(t testing.TB, env map[string]string, args ...string) (int, string) {
	t.Helper()
	p := startKubexit(t, env, args...)
	code := p.wait()
	return code, p.stderr.String()
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readTombstone reads and parses <dir>/<name>; ok is false while it does not
// exist or does not parse.
func readTombstone(dir, name string) (tombstone, bool) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return tombstone{}, false
	}
	t, err := parseTombstone(data)
	return t, err == nil
}

// waitTombstone waits until <dir>/<name> satisfies cond.
func waitTombstone(t testing.TB, dir, name string, what string, cond func(tombstone) bool) tombstone {
	t.Helper()
	var ts tombstone
	waitFor(t, "tombstone "+name+" "+what, func() bool {
		var ok bool
		ts, ok = readTombstone(dir, name)
		return ok && cond(ts)
	})
	return ts
}

func isBorn(t tombstone) bool { return t.Born != nil }

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
