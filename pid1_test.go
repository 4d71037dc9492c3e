package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// End-to-end tests of what a PID-1 wrapper must get right: reaping, process
// groups, inherited signal state, job control.

// sigexecMain is the test command "sigexec IGNORED BLOCKED COMMAND [ARG...]":
// it sets the comma lists of signal numbers IGNORED to SIG_IGN and BLOCKED
// in the signal mask ("-" for none), then execs COMMAND, as a parent such as
// nohup or a shell would before starting kubexit.
func sigexecMain() {
	needArgs(4, "sigexec IGNORED BLOCKED COMMAND [ARG...]")
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
	execArgs("sigexec", os.Args[3:])
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
	t.Parallel()
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
	sigIgn, err := statusSignalMask(string(data), "SigIgn")
	if err != nil {
		t.Fatal(err)
	}
	sigBlk, err := statusSignalMask(string(data), "SigBlk")
	if err != nil {
		t.Fatal(err)
	}
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
	t.Parallel()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		`trap 'touch "$TMP/tstp"' TSTP; trap 'touch "$TMP/cont"' CONT; trap 'exit 0' TERM; `+loopUntilSignalled)
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

// orphansChild writes an sh child that leaves n double-forked orphans, which
// exit at once, waits a second for kubexit to reap them, writes into the
// file count how many zombies are left, and exits code. The zombies counted
// are those whose parent is kubexit ($PPID); as PID 1 of a namespace (pid1)
// every zombie of the namespace, once the child checked that kubexit is PID 1.
func orphansChild(t *testing.T, n, code int, pid1 bool) (child, count string) {
	t.Helper()
	tmp := t.TempDir()
	count = filepath.Join(tmp, "zombies")
	check, parent := "", ` && [ "$2" = "$PPID" ]`
	if pid1 {
		check, parent = `[ "$PPID" = 1 ] || { echo "kubexit is not PID 1 (PPID $PPID)"; exit 99; }`, ""
	}
	child = script(t, tmp, "child.sh", check+`
for i in `+strings.TrimSpace(strings.Repeat("o ", n))+`; do (sh -c 'exit 7' &) ; done
sleep 1
n=0
for f in /proc/[0-9]*/stat; do
	set -- $(cat "$f" 2>/dev/null | sed 's/.*) //')
	[ "$1" = Z ]`+parent+` && n=$((n+1))
done
echo $n > "`+count+`"
exit `+strconv.Itoa(code))
	return child, count
}

// runReaping runs cmd, a kubexit named app in graveyard gy whose child is
// orphansChild's, and checks that it exits with the child's code and
// reaped n orphans (expectReaped).
func runReaping(t *testing.T, cmd *exec.Cmd, gy string, code int, count string, n int) {
	t.Helper()
	cmd.Env = append(os.Environ(), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+gy, "KUBEXIT_LOG_LEVEL=debug")
	out, _ := cmd.CombinedOutput()
	if got := exitStatus(cmd.ProcessState); got != code {
		t.Fatalf("exit status %d, want the child's %d; output:\n%s", got, code, out)
	}
	expectReaped(t, count, string(out), n)
}

// expectReaped checks that orphansChild's count of zombies is 0, and that
// kubexit's log, out, says it reaped n orphans.
func expectReaped(t *testing.T, count, out string, n int) {
	t.Helper()
	data, _ := os.ReadFile(count)
	if strings.TrimSpace(string(data)) != "0" {
		t.Errorf("%q zombies left, want 0; kubexit's log:\n%s", strings.TrimSpace(string(data)), out)
	}
	if got := strings.Count(out, "reaped an orphan"); got != n {
		t.Errorf("reaped %d orphans, want %d; kubexit's log:\n%s", got, n, out)
	}
}

// TestSubreaperReapsOrphans: the child leaves orphans that exit; kubexit, a
// subreaper, reaps them all (no Z state left under it) and still reports
// the child's own status.
func TestSubreaperReapsOrphans(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	child, count := orphansChild(t, 5, 42, false)
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_SUBREAPER": "true", "KUBEXIT_LOG_LEVEL": "debug"}, child)
	if code != 42 {
		t.Fatalf("exit status %d, want the child's 42; stderr:\n%s", code, stderr)
	}
	expectReaped(t, count, stderr, 5)
	ts, _ := readTombstone(gy, "app")
	if ts.ExitCode == nil || *ts.ExitCode != 42 {
		t.Errorf("tombstone %v, want exit code 42", ts)
	}
}

// TestProcessGroup: with KUBEXIT_PROCESS_GROUP, the death-dep TERM reaches
// the child's own children too (sh -c 'proxy & wait'); without it, only the
// child is signalled, as in the original.
func TestProcessGroup(t *testing.T) {
	t.Parallel()
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			t.Parallel()
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

// TestPID1ReapsOrphans runs kubexit as PID 1 of a new PID namespace, as in a
// container: orphans are re-parented to it and must be reaped, without
// KUBEXIT_SUBREAPER, and the child's status still comes out.
func TestPID1ReapsOrphans(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to make a PID namespace")
	}
	kubexit, _ := exec.LookPath("kubexit")
	gy := t.TempDir()
	child, count := orphansChild(t, 3, 5, true)
	runReaping(t, exec.Command(unshare, "--pid", "--fork", "--mount-proc", kubexit, child), gy, 5, count, 3)
}

// The Go runtime's own signals are never forwarded: SIGURG (goroutine
// preemption) sent to kubexit does not reach the child.
func TestRuntimeSignalsNotForwarded(t *testing.T) {
	t.Parallel()
	p, tmp := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": t.TempDir()},
		`trap 'touch "$TMP/urg"' URG; trap 'touch "$TMP/usr1"' USR1; trap 'exit 0' TERM; `+loopUntilSignalled)
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
