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
	"golang.org/x/sys/unix"
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
		"logto":      logtoMain,
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
	needArgs(3, "exitstatus N COMMAND [ARG...]")
	want, err := strconv.Atoi(os.Args[1])
	if err != nil {
		die(2, "exitstatus: bad N:", err)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// COMMAND dies with this process: a failed script kills its background
	// processes, and a COMMAND left running would hold their output open.
	// The parent-death signal is the starting thread's: keep it.
	runtime.LockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
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

// logtoMain is the test command "logto FILE COMMAND [ARG...]": it sends its
// stderr to FILE, writes its PID to FILE.pid, and execs COMMAND. Scripts run
// kubexit in the background through it to wait for a line of its log
// (waitfile FILE PATTERN) and to signal it (signal FILE.pid SIGNAL):
// COMMAND keeps the PID, so signals reach it, and its exit status is
// COMMAND's.
func logtoMain() {
	needArgs(3, "logto FILE COMMAND [ARG...]")
	f, err := os.OpenFile(os.Args[1], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = os.WriteFile(os.Args[1]+".pid", []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	if err == nil {
		err = unix.Dup2(int(f.Fd()), 2)
	}
	if err != nil {
		die(1, "logto:", err)
	}
	execArgs("logto", os.Args[2:])
}

// needArgs ends a test command with a usage line, exit 2, unless it has at
// least n-1 arguments.
func needArgs(n int, usage string) {
	if len(os.Args) < n {
		die(2, "usage: "+usage)
	}
}

// die ends a test command: it prints a on stderr and exits with code.
func die(code int, a ...any) {
	fmt.Fprintln(os.Stderr, a...)
	os.Exit(code)
}

// execArgs replaces the test command cmd by the command in args, found on
// PATH (exit 127 if it is not there, 126 if it cannot be run).
func execArgs(cmd string, args []string) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		die(127, cmd+":", err)
	}
	err = syscall.Exec(path, args, os.Environ())
	die(126, cmd+": exec:", err)
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
			"signal":   cmdSignal,
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

// cmdSignal is the script command "signal PIDFILE SIGNAL": it sends SIGNAL
// (TERM, SIGTERM, USR1, ...) to the process whose PID is in PIDFILE (as
// logto writes it). testscript's kill knows only INT and KILL.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal PIDFILE SIGNAL")
	}
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(args[1], "SIG"))
	if sig == 0 {
		ts.Fatalf("signal: unknown signal %s", args[1])
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("signal: %s: %v", args[0], err)
	}
	ts.Check(syscall.Kill(pid, sig))
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
