package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
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
// as a separate process with real children, signals and files. After the
// tests, it says which integration sets skipped (skipReport); the copies run
// as commands never run the tests, so never say it.
func TestMain(m *testing.M) {
	// A kubexit built with -race sleeps a second before it exits (GORACE's
	// atexit_sleep_ms), so that late races can still be reported; the tests
	// run hundreds of kubexits. 10ms, unless the caller chose: the processes
	// the tests start inherit it, and testscript passes it on to scripts.
	if gorace := os.Getenv("GORACE"); !strings.Contains(gorace, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(gorace+" atexit_sleep_ms=10"))
	}
	testscript.Main(skipReport{m}, map[string]func(){
		"kubexit":    main,
		"exitstatus": exitstatusMain,
		"termstamp":  termstampMain,
		"sigexec":    sigexecMain,
	})
}

// skipReport runs the tests, then prints to stderr, once, one line per
// integration set whose tests skipped in this run (testBed.need).
type skipReport struct{ m *testing.M }

// skipReportPrefix starts each line of the report.
const skipReportPrefix = "kubexit tests: integration set skipped: "

func (r skipReport) Run() int {
	code := r.m.Run()
	for _, line := range skippedSets.lines() {
		fmt.Fprintln(os.Stderr, skipReportPrefix+line)
	}
	return code
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
	t.Parallel()
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
			// For --version, which names the Go release it was built with.
			env.Setenv("GOVERSION", runtime.Version())
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

// TestTerminationMessage: the epilogue writes the termination message
// (KUBEXIT_TERMINATION_LOG) on every path: the exit status and why.
func TestTerminationMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		// args is a child that exits on its own (after main died, with
		// mainDead); without args the child runs body (see startReady)
		// until its death dep main dies.
		args     []string
		mainDead bool
		body     string
		want     string // the whole message, or its start if it ends in "..."
	}{
		{name: "exit code", args: []string{"sh", "-c", "exit 3"},
			want: "kubexit: exit 3: child exited 3\n"},
		{name: "signal", args: []string{"sh", "-c", "kill -KILL $$"},
			want: "kubexit: exit 137: child exited 137 (SIGKILL)\n"},
		{name: "bad configuration", env: map[string]string{"KUBEXIT_GRACE_PERIOD": "x"}, args: []string{"true"},
			want: `kubexit: exit 2: invalid configuration: KUBEXIT_GRACE_PERIOD="x"...`},
		{name: "death dep already dead", env: map[string]string{"KUBEXIT_DEATH_DEPS": "main"}, args: []string{"true"}, mainDead: true,
			want: "kubexit: exit 143: not started: death dep main already dead\n"},
		{name: "killed after the grace period", env: map[string]string{"KUBEXIT_DEATH_DEPS": "main", "KUBEXIT_GRACE_PERIOD": "500ms"},
			body: `trap '' TERM; ` + loopUntilSignalled,
			want: "kubexit: exit 137: child killed after the grace period (500ms) because death dep main died\n"},
		{name: "terminated by a death dep", env: map[string]string{"KUBEXIT_DEATH_DEPS": "main"}, body: loopUntilSignalled,
			want: "kubexit: exit 143: child terminated because death dep main died; it exited 143 (SIGTERM)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gy := t.TempDir()
			msgFile := filepath.Join(t.TempDir(), "termination-log")
			env := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_TERMINATION_LOG": msgFile}
			maps.Copy(env, tc.env)
			if tc.args != nil {
				if tc.mainDead {
					writeFile(t, gy, "main", diedYAML)
				}
				runKubexit(t, env, tc.args...)
			} else {
				p, _ := startReady(t, env, tc.body)
				writeFile(t, gy, "main", diedYAML)
				p.wait()
			}
			data, _ := os.ReadFile(msgFile)
			got := string(data)
			if want, prefix := strings.CutSuffix(tc.want, "..."); prefix && !strings.HasPrefix(got, want) || !prefix && got != want {
				t.Errorf("termination message %q, want %q", got, tc.want)
			}
		})
	}
}

// A termination log that is a FIFO never blocks kubexit's exit: with no
// reader, open(2) would wait forever; with a reader, it gets the message.
func TestTerminationLogFIFO(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "termination-log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir(), "KUBEXIT_TERMINATION_LOG": fifo}
	code, stderr := runKubexit(t, env, "true")
	if code != 0 || !strings.Contains(stderr, "a FIFO with no reader") {
		t.Errorf("no reader: exit %d, want 0 and a warning; stderr:\n%s", code, stderr)
	}

	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if code, stderr := runKubexit(t, env, "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("with a reader: exit %d, want 3; stderr:\n%s", code, stderr)
	}
	buf := make([]byte, 256)
	n, _ := r.Read(buf)
	if got := string(buf[:n]); got != "kubexit: exit 3: child exited 3\n" {
		t.Errorf("the reader got %q", got)
	}
}

// The default termination log, /dev/termination-log, is written only where
// it exists (Kubernetes mounts it); kubexit never creates it.
func TestTerminationLogDefaultNotCreated(t *testing.T) {
	t.Parallel()
	if fileExists(defaultTerminationLog) {
		t.Skip(defaultTerminationLog + " exists on this machine")
	}
	code, _ := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()}, "true")
	if code != 0 || fileExists(defaultTerminationLog) {
		t.Errorf("exit %d; %s created: %v", code, defaultTerminationLog, fileExists(defaultTerminationLog))
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

// waitFor polls cond every 10ms until it holds, and fails the test if it
// does not within testTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, testTimeout, 10*time.Millisecond, what, cond)
}

// waitWithin polls cond every interval until it holds, and fails the test if
// it does not within timeout.
func waitWithin(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
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

// startReady starts kubexit with env and an sh child running body, which
// must touch "$READY" (loopUntilSignalled does), and returns once it has.
// The child's environment has READY and TMP, a temporary directory of the
// test's for the child's own marker files, which startReady returns.
func startReady(t *testing.T, env map[string]string, body string) (*kubexitProc, string) {
	t.Helper()
	tmp := t.TempDir()
	ready := filepath.Join(tmp, "ready")
	env = maps.Clone(env)
	env["READY"], env["TMP"] = ready, tmp
	p := startKubexit(t, env, script(t, tmp, "child.sh", body))
	waitFor(t, "the child to be ready", func() bool { return fileExists(ready) || p.exited() })
	if !fileExists(ready) {
		t.Fatalf("kubexit exited %d before its child was ready; stderr:\n%s", p.code, p.stderr)
	}
	return p, tmp
}

// testBed is an integration test bed (k8s_test.go, node_test.go,
// fs_test.go), connected to once per test binary.
type testBed[T any] struct {
	env     string // the switch, KUBEXIT_*_TESTS
	tests   string // what the tests are, for the skip message
	name    string // what the bed is, for the failure message
	script  string // the script that runs the tests
	fix     string // how to get the bed up, for the failure message
	connect func() (T, error)

	once sync.Once
	bed  T
	err  error
}

// need skips the test unless the bed's switch is 1, and records the skip
// for TestMain's report; then it returns the bed, or fails the test if the
// bed is not usable. With the switch set, a missing or broken bed never
// skips.
func (b *testBed[T]) need(t *testing.T) T {
	t.Helper()
	if os.Getenv(b.env) != "1" {
		skippedSets.add(b.set(), fmt.Sprintf("%s (%s): %s is not 1; run %s", b.set(), b.tests, b.env, b.script))
		t.Skipf("integration set %s: %s is not 1", b.set(), b.env)
	}
	b.once.Do(func() { b.bed, b.err = b.connect() })
	if b.err != nil {
		t.Fatalf("%s=1 but the %s is not usable: %v (%s)", b.env, b.name, b.err, b.fix)
	}
	return b.bed
}

// TestIntegrationSkipReport runs this test binary again, with no switch
// set: integration tests of two sets selected (two of k8s, one of fs), each
// skipped set is reported once, after the tests, on stderr, and a set none
// of whose tests ran (node) is not; with no integration test selected,
// nothing is reported.
func TestIntegrationSkipReport(t *testing.T) {
	t.Parallel()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		run  string
		want []string
	}{
		{"^(TestK8sPodNotFound|TestFSInotify|TestK8sBirthTimeout)$", []string{
			skipReportPrefix + "fs (filesystem integration tests (bind, bindfs, sshfs, NFS)): KUBEXIT_FS_TESTS is not 1; run hack/fs-test",
			skipReportPrefix + "k8s (integration test against a real kube-apiserver): KUBEXIT_K8S_TESTS is not 1; run hack/k8s-test",
		}},
		{"^TestFormatBytes$", nil},
	} {
		cmd := exec.Command(bin, "-test.run="+tc.run)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "KUBEXIT_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = testTimeout
		if err := cmd.Run(); err != nil {
			t.Fatalf("-test.run=%s: %v; stdout:\n%s\nstderr:\n%s", tc.run, err, &stdout, &stderr)
		}
		var got []string // the report's lines; not others' (a coverage warning)
		for line := range strings.Lines(stderr.String()) {
			if strings.HasPrefix(line, skipReportPrefix) {
				got = append(got, strings.TrimSuffix(line, "\n"))
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("-test.run=%s: stderr %q, want %q", tc.run, got, tc.want)
		}
	}
}

// set is the integration set's short name, from its switch:
// KUBEXIT_K8S_TESTS is k8s.
func (b *testBed[T]) set() string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(b.env, "KUBEXIT_"), "_TESTS"))
}

// skippedSets are the integration sets whose tests skipped in this run.
var skippedSets skipSet

// skipSet records skipped sets, each once, from parallel tests.
type skipSet struct {
	mu   sync.Mutex
	line map[string]string // set name → what skipped and how to run it
}

func (s *skipSet) add(set, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == nil {
		s.line = map[string]string{}
	}
	s.line[set] = line
}

// lines are the recorded lines, by set name.
func (s *skipSet) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, set := range slices.Sorted(maps.Keys(s.line)) {
		out = append(out, s.line[set])
	}
	return out
}

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
