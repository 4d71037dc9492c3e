package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// End-to-end tests of what a PID-1 wrapper and a Job sidecar manager must
// get right: reaping, process groups, inherited signal state, job control,
// restart-aware death deps, shutdown URLs and the termination message.

// sigexecMain is the test command "sigexec IGNORED BLOCKED COMMAND [ARG...]":
// it sets the comma lists of signal numbers IGNORED to SIG_IGN and BLOCKED
// in the signal mask ("-" for none), then execs COMMAND, as a parent such as
// nohup or a shell would before starting kubexit.
func sigexecMain() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: sigexec IGNORED BLOCKED COMMAND [ARG...]")
		os.Exit(2)
	}
	nums := func(list string) []int {
		var out []int
		if list == "-" {
			return nil
		}
		for _, f := range strings.Split(list, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, "sigexec:", err)
				os.Exit(2)
			}
			out = append(out, n)
		}
		return out
	}
	runtime.LockOSThread() // the mask is per thread: exec keeps this thread's
	for _, n := range nums(os.Args[1]) {
		signal.Ignore(syscall.Signal(n)) // sets SIG_IGN in the kernel
	}
	var blocked unix.Sigset_t
	for _, n := range nums(os.Args[2]) {
		blocked.Val[(n-1)/64] |= 1 << (uint(n-1) % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &blocked, nil); err != nil {
		fmt.Fprintln(os.Stderr, "sigexec: sigprocmask:", err)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigexec:", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[3:], os.Environ())
	fmt.Fprintln(os.Stderr, "sigexec: exec:", err)
	os.Exit(126)
}

// procStatusMask reads a hex mask line (SigIgn, SigBlk) from /proc/PID/status text.
func procStatusMask(t *testing.T, status, key string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no %s in %q", key, status)
	return 0
}

func bit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }

// TestInheritedSignalState: the dispositions and mask kubexit's parent set
// reach the child as far as the Go runtime allows. Measured, and documented
// in the README: ignored HUP, INT, CONT, TSTP, TTIN and TTOU stay ignored;
// the runtime installs its own handlers for the other catchable signals at
// start-up, so their SIG_IGN is lost (exec resets handled signals to
// default). A blocked signal stays blocked unless the runtime unblocks it
// (TERM, QUIT, the synchronous faults, SIGURG...).
func TestInheritedSignalState(t *testing.T) {
	gy := t.TempDir()
	out := filepath.Join(t.TempDir(), "status")
	ign := []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}
	blk := []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGWINCH}
	list := func(ss []syscall.Signal) string {
		var parts []string
		for _, s := range ss {
			parts = append(parts, strconv.Itoa(int(s)))
		}
		return strings.Join(parts, ",")
	}
	// sigexec sets the state, then execs kubexit, which runs sh.
	sigexec, _ := exec.LookPath("sigexec")
	kubexit, _ := exec.LookPath("kubexit")
	cmd := exec.Command(sigexec, list(ign), list(blk), kubexit, "sh", "-c", "exec cat /proc/self/status > "+out)
	cmd.Env = append(os.Environ(), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+gy)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sigIgn, sigBlk := procStatusMask(t, string(data), "SigIgn"), procStatusMask(t, string(data), "SigBlk")
	for _, s := range ign {
		if sigIgn&bit(s) == 0 {
			t.Errorf("child's SigIgn %#x lacks %v, which kubexit's parent ignored", sigIgn, s)
		}
	}
	for _, s := range blk {
		if sigBlk&bit(s) == 0 {
			t.Errorf("child's SigBlk %#x lacks %v, which kubexit's parent blocked", sigBlk, s)
		}
	}
}

func TestJobControlSignalsStopKubexitToo(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "READY": ready, "TMP": tmp},
		script(t, tmp, "child.sh", `trap 'touch "$TMP/tstp"' TSTP; trap 'touch "$TMP/cont"' CONT; trap 'exit 0' TERM; `+loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	p.signal(syscall.SIGTSTP)
	waitFor(t, "the child to get TSTP", func() bool { return fileExists(filepath.Join(tmp, "tstp")) })
	waitFor(t, "kubexit to stop itself", func() bool { return procState(p.cmd.Process.Pid) == "T" })
	p.signal(syscall.SIGCONT)
	waitFor(t, "the child to get CONT", func() bool { return fileExists(filepath.Join(tmp, "cont")) })
	waitFor(t, "kubexit to run again", func() bool { return procState(p.cmd.Process.Pid) != "T" })
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, p.stderr)
	}
}

// procState is the state letter of /proc/PID/stat ("S", "T", "Z"...).
func procState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// TestSubreaperReapsOrphans: the child leaves orphans that exit; kubexit, a
// subreaper, reaps them all (no Z state left under it) and still reports
// the child's own status.
func TestSubreaperReapsOrphans(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	count := filepath.Join(tmp, "zombies")
	// Five double-forked orphans exit at once; the child then waits, counts
	// zombies whose parent is kubexit ($PPID), and exits 42.
	child := script(t, tmp, "child.sh", `
for i in 1 2 3 4 5; do (sh -c 'exit 7' &) ; done
sleep 1
n=0
for f in /proc/[0-9]*/stat; do
	set -- $(cat "$f" 2>/dev/null | sed 's/.*) //')
	[ "$1" = Z ] && [ "$2" = "$PPID" ] && n=$((n+1))
done
echo $n > "`+count+`"
exit 42`)
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SUBREAPER": "true", "KUBEXIT_LOG_LEVEL": "debug"}, child)
	if code != 42 {
		t.Fatalf("exit status %d, want the child's 42; stderr:\n%s", code, stderr)
	}
	data, _ := os.ReadFile(count)
	if strings.TrimSpace(string(data)) != "0" {
		t.Errorf("%s zombies under kubexit, want 0; stderr:\n%s", strings.TrimSpace(string(data)), stderr)
	}
	if n := strings.Count(stderr, "reaped an orphan"); n != 5 {
		t.Errorf("reaped %d orphans, want 5; stderr:\n%s", n, stderr)
	}
	ts, _ := readTombstone(gy, "app")
	if ts.ExitCode == nil || *ts.ExitCode != 42 {
		t.Errorf("tombstone %v, want exit code 42", ts)
	}
}

// TestProcessGroup: with KUBEXIT_PROCESS_GROUP, the death-dep TERM reaches
// the child's own children too (sh -c 'proxy & wait'); without it, only the
// child is signalled, as in the original.
func TestProcessGroup(t *testing.T) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			gy, tmp := t.TempDir(), t.TempDir()
			pidFile := filepath.Join(tmp, "grandchild")
			ready := filepath.Join(tmp, "ready")
			// sh ignores TERM here (as a shell waiting on a job may be slow
			// to act on it) so only the group signal can stop the sleep.
			p := startKubexit(t, map[string]string{
				"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
				"KUBEXIT_GRACE_PERIOD": "2s", "KUBEXIT_PROCESS_GROUP": strconv.FormatBool(group),
			}, "sh", "-c", `sleep 600 & echo $! > `+pidFile+`; touch `+ready+`; wait`)
			waitFor(t, "child ready", func() bool { return fileExists(ready) })
			data, _ := os.ReadFile(pidFile)
			grandchild, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(grandchild, syscall.SIGKILL) })
			writeFile(t, gy, "main", diedYAML)
			if code := p.wait(); code != 143 {
				t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
			}
			alive := func() bool { st := procState(grandchild); return st != "" && st != "Z" }
			if group {
				waitFor(t, "the grandchild to be gone", func() bool { return !alive() })
			} else if !alive() {
				t.Errorf("without a process group the grandchild %d was signalled too", grandchild)
			}
		})
	}
}

// TestDeathOn runs each KUBEXIT_DEATH_ON mode against a dep that dies
// (exit 1), is restarted (new Born), and dies again (exit 0).
func TestDeathOn(t *testing.T) {
	const (
		died1 = "Born: \"2026-11-25T23:21:14Z\"\nDied: \"%s\"\nExitCode: 1\n"
		born2 = "Born: \"%s\"\n"
		died2 = "Born: \"2026-11-25T23:21:20Z\"\nDied: \"%s\"\nExitCode: 0\n"
	)
	now := func() string { return time.Now().UTC().Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		mode, settle string
		// killedByFirst: the first death (exit 1) terminates the child.
		killedByFirst bool
		// firstLog is what kubexit logs about the first death when it does not count.
		firstLog string
	}{
		{"any", "", true, ""},
		{"success", "", false, "does not count with KUBEXIT_DEATH_ON=success"},
		{"final", "10s", false, "it counts if it is not born again within KUBEXIT_DEATH_SETTLE"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			gy, tmp := t.TempDir(), t.TempDir()
			ready := filepath.Join(tmp, "ready")
			env := map[string]string{
				"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
				"KUBEXIT_DEATH_ON": tc.mode, "READY": ready,
			}
			if tc.settle != "" {
				env["KUBEXIT_DEATH_SETTLE"] = tc.settle
			}
			p := startKubexit(t, env, script(t, tmp, "child.sh", loopUntilSignalled))
			waitFor(t, "child ready", func() bool { return fileExists(ready) })
			writeFile(t, gy, "main", fmt.Sprintf(died1, now()))
			if tc.killedByFirst {
				if code := p.wait(); code != 143 {
					t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
				}
				return
			}
			waitFor(t, "the first death to be noted", func() bool { return strings.Contains(p.stderr.String(), tc.firstLog) })
			writeFile(t, gy, "main", fmt.Sprintf(born2, now()))
			waitFor(t, "the restart to be noted", func() bool { return strings.Contains(p.stderr.String(), "death dep is alive again") })
			if p.exited() {
				t.Fatalf("kubexit exited on a death that does not count:\n%s", p.stderr)
			}
			writeFile(t, gy, "main", fmt.Sprintf(died2, now()))
			if code := p.wait(); code != 143 {
				t.Fatalf("exit status %d, want 143 after the final death; stderr:\n%s", code, p.stderr)
			}
		})
	}
}

// TestDeathOnFinalCountsOldDeathAtStart: a death that happened longer than
// the settle time ago has settled: the child never starts.
func TestDeathOnFinalCountsOldDeathAtStart(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	writeFile(t, gy, "main", diedYAML) // died in 2026-11-25, long settled
	code, stderr := runKubexit(t, map[string]string{
		"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_ON": "final", "KUBEXIT_DEATH_SETTLE": "10s",
	}, "touch", filepath.Join(tmp, "started"))
	if code != 143 || fileExists(filepath.Join(tmp, "started")) {
		t.Fatalf("exit status %d (want 143), child started: %v; stderr:\n%s", code, fileExists(filepath.Join(tmp, "started")), stderr)
	}
}

// countingServer is a real HTTP server on loopback that counts requests.
type countingServer struct {
	*httptest.Server
	calls   atomic.Int64
	methods chan string
}

func newCountingServer(t *testing.T, status int) *countingServer {
	s := &countingServer{methods: make(chan string, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.methods <- r.Method
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestDeathURLsCalledWithChild(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	a, b := newCountingServer(t, 200), newCountingServer(t, 200)
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main", "READY": ready,
		"KUBEXIT_DEATH_URLS": a.URL + "/quitquitquit, " + b.URL + "/shutdown",
	}, script(t, tmp, "child.sh", loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 143 {
		t.Fatalf("exit status %d; stderr:\n%s", code, p.stderr)
	}
	for _, s := range []*countingServer{a, b} {
		if n := s.calls.Load(); n != 1 {
			t.Errorf("%s called %d times, want once", s.URL, n)
		} else if m := <-s.methods; m != "POST" {
			t.Errorf("method %s, want POST", m)
		}
	}
}

// TestDeathURLsWithoutChild: kubexit as a tiny watcher container whose only
// job is to call the shutdown endpoint of a sidecar it cannot wrap.
func TestDeathURLsWithoutChild(t *testing.T) {
	gy := t.TempDir()
	srv := newCountingServer(t, 200)
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME": "watcher", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": srv.URL + "/quitquitquit", "KUBEXIT_DEATH_URL_METHOD": "get",
	})
	waitTombstone(t, gy, "watcher", "born", isBorn)
	if srv.calls.Load() != 0 {
		t.Fatal("URL called before the dep died")
	}
	writeFile(t, gy, "main", diedYAML)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.stderr)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Errorf("called %d times, want once", n)
	} else if m := <-srv.methods; m != "GET" {
		t.Errorf("method %s, want GET", m)
	}
	if ts, _ := readTombstone(gy, "watcher"); ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("tombstone %v, want Died with 0", ts)
	}
}

// A death URL that keeps failing makes a watcher without child exit 1.
func TestDeathURLFailingWithoutChild(t *testing.T) {
	gy := t.TempDir()
	srv := newCountingServer(t, 404)
	writeFile(t, gy, "main", diedYAML)
	code, stderr := runKubexit(t, map[string]string{
		"KUBEXIT_NAME": "watcher", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_DEATH_URLS": srv.URL + "/nope",
	})
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	if srv.calls.Load() != 1 {
		t.Errorf("a 404 was retried: %d calls", srv.calls.Load())
	}
}

func TestTerminationMessage(t *testing.T) {
	tmp := t.TempDir()
	msgFile := filepath.Join(tmp, "termination-log")
	read := func() string { b, _ := os.ReadFile(msgFile); return string(b) }
	env := func(kv ...string) map[string]string {
		m := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": filepath.Join(tmp, "gy"), "KUBEXIT_TERMINATION_LOG": msgFile}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	runKubexit(t, env(), "sh", "-c", "exit 3")
	if got, want := read(), "kubexit: exit 3: child exited 3\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	runKubexit(t, env(), "sh", "-c", "kill -KILL $$")
	if got, want := read(), "kubexit: exit 137: child exited 137 (SIGKILL)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	runKubexit(t, env("KUBEXIT_GRACE_PERIOD", "x"), "true")
	if got := read(); !strings.HasPrefix(got, `kubexit: exit 2: invalid configuration: KUBEXIT_GRACE_PERIOD="x"`) {
		t.Errorf("got %q", got)
	}
	writeFile(t, filepath.Join(tmp, "gy"), "main", diedYAML)
	runKubexit(t, env("KUBEXIT_DEATH_DEPS", "main"), "true")
	if got, want := read(), "kubexit: exit 143: not started: death dep main already dead\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	os.Remove(filepath.Join(tmp, "gy", "main"))

	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, env("KUBEXIT_DEATH_DEPS", "main", "KUBEXIT_GRACE_PERIOD", "500ms", "READY", ready),
		script(t, tmp, "stubborn.sh", `trap '' TERM; `+loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, filepath.Join(tmp, "gy"), "main", diedYAML)
	p.wait()
	if got, want := read(), "kubexit: exit 137: child killed after the grace period (500ms) because death dep main died\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	os.Remove(filepath.Join(tmp, "gy", "main"))
	os.Remove(ready)
	p = startKubexit(t, env("KUBEXIT_DEATH_DEPS", "main", "READY", ready), script(t, tmp, "child.sh", loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	writeFile(t, filepath.Join(tmp, "gy"), "main", diedYAML)
	p.wait()
	if got, want := read(), "kubexit: exit 143: child terminated because death dep main died; it exited 143 (SIGTERM)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The default termination log, /dev/termination-log, is written only where
// it exists (Kubernetes mounts it); kubexit never creates it.
func TestTerminationLogDefaultNotCreated(t *testing.T) {
	if fileExists(defaultTerminationLog) {
		t.Skip(defaultTerminationLog + " exists on this machine")
	}
	code, _ := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()}, "true")
	if code != 0 || fileExists(defaultTerminationLog) {
		t.Errorf("exit %d; %s created: %v", code, defaultTerminationLog, fileExists(defaultTerminationLog))
	}
}

// TestPID1ReapsOrphans runs kubexit as PID 1 of a new PID namespace, as in a
// container: orphans are re-parented to it and must be reaped, without
// KUBEXIT_SUBREAPER, and the child's status still comes out.
func TestPID1ReapsOrphans(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to make a PID namespace")
	}
	kubexit, _ := exec.LookPath("kubexit")
	gy, tmp := t.TempDir(), t.TempDir()
	count := filepath.Join(tmp, "zombies")
	child := script(t, tmp, "child.sh", `
[ "$PPID" = 1 ] || { echo "kubexit is not PID 1 (PPID $PPID)"; exit 99; }
for i in 1 2 3; do (sh -c 'exit 7' &) ; done
sleep 1
n=0
for f in /proc/[0-9]*/stat; do
	set -- $(cat "$f" 2>/dev/null | sed 's/.*) //')
	[ "$1" = Z ] && n=$((n+1))
done
echo $n > "`+count+`"
exit 5`)
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", kubexit, child)
	cmd.Env = append(os.Environ(), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+gy, "KUBEXIT_LOG_LEVEL=debug")
	out, _ := cmd.CombinedOutput()
	if code := exitStatus(cmd.ProcessState); code != 5 {
		t.Fatalf("exit status %d, want the child's 5; output:\n%s", code, out)
	}
	data, _ := os.ReadFile(count)
	if strings.TrimSpace(string(data)) != "0" {
		t.Errorf("%s zombies in the namespace, want 0; output:\n%s", strings.TrimSpace(string(data)), out)
	}
	if n := strings.Count(string(out), "reaped an orphan"); n != 3 {
		t.Errorf("reaped %d orphans, want 3; output:\n%s", n, out)
	}
}

// The Go runtime's own signals are never forwarded: SIGURG (goroutine
// preemption) sent to kubexit does not reach the child.
func TestRuntimeSignalsNotForwarded(t *testing.T) {
	gy, tmp := t.TempDir(), t.TempDir()
	ready := filepath.Join(tmp, "ready")
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "READY": ready, "TMP": tmp},
		script(t, tmp, "child.sh", `trap 'touch "$TMP/urg"' URG; trap 'touch "$TMP/usr1"' USR1; trap 'exit 0' TERM; `+loopUntilSignalled))
	waitFor(t, "child ready", func() bool { return fileExists(ready) })
	p.signal(syscall.SIGURG)
	p.signal(syscall.SIGUSR1) // forwarded: once the child has it, URG had its chance
	waitFor(t, "USR1 forwarded", func() bool { return fileExists(filepath.Join(tmp, "usr1")) })
	time.Sleep(200 * time.Millisecond) // let a wrongly forwarded URG show up, if it would
	if fileExists(filepath.Join(tmp, "urg")) {
		t.Error("SIGURG was forwarded to the child")
	}
	p.signal(syscall.SIGTERM)
	p.wait()
}
