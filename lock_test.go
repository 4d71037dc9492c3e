package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// liveDep writes a tombstone for dep that says Born at born, and holds its
// lock in this process; release frees the lock, as the exit of dep's
// kubexit would.
func liveDep(t *testing.T, dir, dep string, born time.Time) (release func()) {
	t.Helper()
	fd, err := holdLifeLock(dir, dep, born)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTombstone(dir, dep, tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		unix.Close(fd)
		// A process that another test forks holds the descriptor until it
		// execs (O_CLOEXEC), and the lock with it: wait until it is free.
		g := newGraveyardReader(dir)
		waitFor(t, "the lock freed", func() bool { s, _ := g.lockState(dep, born); return s == lockFree })
	}
	t.Cleanup(release)
	return release
}

func lockWatcher(t *testing.T, dir string, policy deathPolicy, deps ...string) (*deathWatcher, *syncBuffer) {
	w, logs := testWatcher(dir, deps...)
	w.policy = policy
	if !w.decided {
		w.poll()
	}
	if !w.g.locks {
		t.Fatalf("locks not trusted on %s: %s", dir, logs)
	}
	return w, logs
}

// A held lock is a live dep; a freed one, with the tombstone still saying
// Born, a lost death: status unknown, reported as 137. Another process's
// open of the lock file (the watcher's test) does not take or break it.
func TestLockLostDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release := liveDep(t, dir, "main", time.Now())
	w, _ := lockWatcher(t, dir, deathPolicy{On: deathOnAny}, "main")
	for i := 0; i < 1000; i++ {
		if d, ok := w.poll(); ok {
			t.Fatalf("poll %d: a live dep counted dead: %+v", i, d)
		}
	}
	release()
	ds, ok := w.poll()
	var d death
	if ok {
		d = ds.List[0]
	}
	if !ok || !d.Lost || d.Tombstone.ExitCode == nil || *d.Tombstone.ExitCode != 137 {
		t.Fatalf("after the lock was freed: %+v, %v; want a lost death with 137", d, ok)
	}
	if _, s, err := newGraveyardReader(dir).judge("main"); s != stateLost {
		t.Errorf("judge = %s, %v, want lost", s, err)
	}
}

// A lock file that does not belong to the tombstone's Born never stands for
// a death: none (the original kubexit), an older life's, garbage, a
// directory, a link to a free lock file of the right Born, a FIFO.
func TestLockForeignFilesNeverADeath(t *testing.T) {
	t.Parallel()
	born := time.Date(2026, 11, 25, 23, 21, 14, 604215824, time.UTC)
	older := born.Add(-time.Minute)
	for _, c := range []struct {
		name  string
		plant func(t *testing.T, dir, lock string)
		warns bool
	}{
		{"no lock file", func(*testing.T, string, string) {}, false},
		{"an older life's", func(t *testing.T, dir, lock string) {
			os.WriteFile(lock, tombstone{Born: &older}.marshal(), 0o644)
		}, false},
		{"garbage", func(t *testing.T, dir, lock string) { os.WriteFile(lock, []byte("\x00\x01 not yaml ["), 0o644) }, true},
		{"a Died", func(t *testing.T, dir, lock string) {
			os.WriteFile(lock, tombstone{Born: &born, Died: &born}.marshal(), 0o644)
		}, true},
		{"a directory", func(t *testing.T, dir, lock string) { os.Mkdir(lock, 0o755) }, true},
		{"a link", func(t *testing.T, dir, lock string) {
			target := filepath.Join(t.TempDir(), "free.lock")
			os.WriteFile(target, tombstone{Born: &born}.marshal(), 0o644)
			os.Symlink(target, lock)
		}, true},
		{"a FIFO", func(t *testing.T, dir, lock string) { syscall.Mkfifo(lock, 0o644) }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTombstone(dir, "main", tombstone{Born: &born})
			c.plant(t, dir, filepath.Join(dir, lockFileName("main")))
			w, logs := lockWatcher(t, dir, deathPolicy{On: deathOnAny}, "main")
			for i := 0; i < 50; i++ {
				if d, ok := w.poll(); ok {
					t.Fatalf("poll %d: counted dead: %+v", i, d)
				}
			}
			if n := strings.Count(logs.String(), "cannot use a death dep's lock file"); n != map[bool]int{true: 1, false: 0}[c.warns] {
				t.Errorf("%d warnings, want %v once:\n%s", n, c.warns, logs)
			}
		})
	}
}

// lostDep is a watcher of main, whose kubexit, born at born, ended without
// a word (its lock freed), on a clock that the test moves with advance.
func lostDep(t *testing.T, born time.Time, policy deathPolicy) (w *deathWatcher, logs *syncBuffer, dir string, advance func(time.Duration)) {
	dir = t.TempDir()
	liveDep(t, dir, "main", born)()
	w, logs = lockWatcher(t, dir, policy, "main")
	now := time.Now()
	w.now = func() time.Time { return now }
	return w, logs, dir, func(d time.Duration) { now = now.Add(d) }
}

// Restarts and KUBEXIT_DEATH_ON: a lost death never counts under success;
// under final it counts once it has stood for the settle time; a new life
// (its lock, then its Born) undoes it.
func TestLockPolicies(t *testing.T) {
	t.Parallel()
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		w, logs, _, _ := lostDep(t, time.Now(), deathPolicy{On: deathOnSuccess})
		for i := 0; i < 20; i++ {
			if d, ok := w.poll(); ok {
				t.Fatalf("a lost death counted under success: %+v", d)
			}
		}
		if !strings.Contains(logs.String(), "status unknown") {
			t.Errorf("not logged:\n%s", logs)
		}
	})
	t.Run("final", func(t *testing.T) {
		t.Parallel()
		w, _, _, advance := lostDep(t, time.Now().Add(-time.Hour), deathPolicy{On: deathOnFinal, Settle: 30 * time.Second})
		if _, ok := w.poll(); ok {
			t.Fatal("counted before the settle time (measured from when it was first seen)")
		}
		advance(29 * time.Second)
		if _, ok := w.poll(); ok {
			t.Fatal("counted at 29s")
		}
		advance(time.Second)
		if d, ok := w.poll(); !ok || !d.List[0].Lost {
			t.Fatalf("not counted at 30s: %+v %v", d, ok)
		}
	})
	t.Run("reborn", func(t *testing.T) {
		t.Parallel()
		w, logs, dir, advance := lostDep(t, time.Now().Add(-time.Minute), deathPolicy{On: deathOnFinal, Settle: 30 * time.Second})
		w.poll()
		// The restarted dep's kubexit takes its lock first, then writes Born.
		newBorn := time.Now()
		fd, err := holdLifeLock(dir, "main", newBorn)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		advance(time.Minute)
		if d, ok := w.poll(); ok {
			t.Fatalf("counted while the new life holds its lock: %+v", d)
		}
		writeTombstone(dir, "main", tombstone{Born: &newBorn})
		if d, ok := w.poll(); ok {
			t.Fatalf("counted after the rebirth: %+v", d)
		}
		if !strings.Contains(logs.String(), "death dep is alive again") {
			t.Errorf("rebirth not logged:\n%s", logs)
		}
	})
}

// A second kubexit with the same name cannot take a lock that is held.
func TestLockHeldElsewhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	liveDep(t, dir, "main", time.Now())
	if fd, err := holdLifeLock(dir, "main", time.Now()); err == nil || !strings.Contains(err.Error(), "held by another process") {
		unix.Close(fd)
		t.Errorf("second lock: %v", err)
	}
}

// Where locks are measured to hold across mounts, and only there.
func TestLockTrusted(t *testing.T) {
	t.Parallel()
	if ok, fs := lockTrusted(t.TempDir()); !ok {
		t.Logf("the temp dir's filesystem is not trusted here: %s", fs)
	}
	if ok, _ := lockTrusted("/proc"); ok {
		t.Error("procfs trusted")
	}
	if ok, _ := lockTrusted(filepath.Join(t.TempDir(), "missing")); ok {
		t.Error("a missing dir trusted")
	}
}

// SIGKILL of a dep's real kubexit, on the local disk and on a tmpfs: the
// sibling's child is terminated, its termination message says why, and
// --status and --wait see the dep as lost.
func TestLockSIGKILLedDep(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{"local disk": t.TempDir()}
	if os.Geteuid() == 0 {
		dirs["tmpfs"] = mountSizedTmpfs(t, "size=1m")
	}
	for fs, gy := range dirs {
		t.Run(fs, func(t *testing.T) {
			if ok, why := lockTrusted(gy); !ok {
				t.Skipf("locks not trusted on this machine's %s (%s)", fs, why)
			}
			tmp := t.TempDir()
			ready, term := filepath.Join(tmp, "ready"), filepath.Join(tmp, "termination-log")
			romeo := startKubexit(t, map[string]string{"KUBEXIT_NAME": "romeo", "KUBEXIT_GRAVEYARD": gy}, "sleep", "600")
			waitTombstone(t, gy, "romeo", "born", isBorn)
			juliet := startKubexit(t, map[string]string{"KUBEXIT_NAME": "juliet", "KUBEXIT_GRAVEYARD": gy,
				"KUBEXIT_DEATH_DEPS": "romeo", "KUBEXIT_TERMINATION_LOG": term, "READY": ready},
				script(t, tmp, "juliet.sh", `trap 'exit 0' TERM; `+loopUntilSignalled))
			waitFor(t, "juliet ready", func() bool { return fileExists(ready) })
			orphan := childPIDs(romeo.cmd.Process.Pid)
			romeo.signal(syscall.SIGKILL)
			for _, pid := range orphan { // romeo's child, orphaned
				syscall.Kill(pid, syscall.SIGKILL)
			}
			romeo.wait()
			if code := juliet.wait(); code != 0 {
				t.Fatalf("juliet exit %d; stderr:\n%s", code, juliet.stderr)
			}
			msg, _ := os.ReadFile(term)
			if !strings.Contains(string(msg), "death dep romeo died without a word") {
				t.Errorf("termination message %q", msg)
			}
			code, stderr := runKubexit(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--wait", "died", "romeo", "--timeout", "60s")
			if code != 0 {
				t.Errorf("--wait died romeo: exit %d: %s", code, stderr)
			}
			k := startKubexit(t, map[string]string{"KUBEXIT_GRAVEYARD": gy}, "--status")
			k.wait()
			if !strings.Contains(k.stdout.String(), "romeo   lost") {
				t.Errorf("--status:\n%s", k.stdout)
			}
		})
	}
}

// BenchmarkPollLocked is BenchmarkPoll with the dep's lock file there and
// held, as it is for a live dep of this kubexit: what the lost-death check
// adds to each poll.
func BenchmarkPollLocked(b *testing.B) {
	dir := b.TempDir()
	for _, n := range []string{"proxy", "logger"} {
		writeFile(b, dir, n, bornYAML)
	}
	born := time.Now()
	fd, err := holdLifeLock(dir, "main", born)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	writeTombstone(dir, "main", tombstone{Born: &born})
	w, _ := testWatcher(dir, "main")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := w.poll(); ok {
			b.Fatal("death")
		}
	}
	if !w.g.locks {
		b.Fatal("locks not trusted here: the benchmark measures nothing")
	}
}

// childPIDs lists the children of pid; none where the kernel does not tell
// (/proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN).
func childPIDs(pid int) []int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	return pids
}

// The lock file is 0644 whatever the umask, as tombstones are: a sibling
// running as another user must be able to probe it, or it never learns that
// a SIGKILLed dep is gone. Not parallel: the umask is the process's. As
// root, a kubexit running as nobody (65534) with the SIGKILLed dep as its
// death dep sees the death and does not start its child.
func TestLockFileModeIgnoresUmask(t *testing.T) {
	dir, err := os.MkdirTemp("", "kubexit-lock-mode-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // like an emptyDir shared by two users
		t.Fatal(err)
	}
	old := setUmask(0o077)
	born := time.Now()
	fd, err := holdLifeLock(dir, "app", born)
	setUmask(old)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // as the kernel does for a SIGKILLed kubexit
	if err := writeTombstone(dir, "app", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, lockFileName("app")))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("lock file mode %v under umask 077, want 0644", fi.Mode().Perm())
	}
	if ok, why := lockTrusted(dir); os.Geteuid() != 0 || !ok {
		t.Skipf("the probe as another user needs root and trusted locks (%s)", why)
	}
	out, code := runAsNobody(t, dir, "KUBEXIT_NAME=watcher", "KUBEXIT_GRAVEYARD="+dir, "KUBEXIT_DEATH_DEPS=app")
	if code != 143 || !strings.Contains(out, "death dep app already dead") {
		t.Errorf("kubexit as nobody: exit %d, want 143 (app lost, child not started); output:\n%s", code, out)
	}
}

// runAsNobody runs a copy of kubexit in dir as user and group 65534 with
// env, its child true, and returns its output and exit status.
func runAsNobody(t *testing.T, dir string, env ...string) (string, int) {
	t.Helper()
	src, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src) // testscript's copy is in a directory only root may enter
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "kubexit")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "true")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBEXIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.WaitDelay = testTimeout
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("kubexit as nobody did not run: %s", out)
	}
	return string(out), exitStatus(cmd.ProcessState)
}

// graveyardSnapshot is every file in dir with its content, to show that a
// refused kubexit wrote, replaced and removed nothing.
func graveyardSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string]string{}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		snap[e.Name()] = string(data)
	}
	return snap
}

// A second kubexit with the name of a live one is refused: exit 2, one
// ERROR line naming KUBEXIT_NAME, the graveyard and the lock's holder, no
// child, nothing written (the first's tombstone still says Born only), and
// a sibling that has that name among its death deps runs on. Once the first
// has ended (a container restarted in place), the name is free again.
func TestSameNameRefused(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	first, _ := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, loopUntilSignalled)
	waitTombstone(t, gy, "app", "born", isBorn)
	sibling, stmp := startReady(t, map[string]string{"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy,
		"KUBEXIT_DEATH_DEPS": "app", "KUBEXIT_POLL_INTERVAL": "20ms"},
		`trap 'touch "$TMP/term"; exit 0' TERM; `+loopUntilSignalled)
	before := graveyardSnapshot(t, gy)

	tmp := t.TempDir()
	msg := filepath.Join(tmp, "termination-log")
	code, stderr := runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_TERMINATION_LOG": msg},
		"touch", filepath.Join(tmp, "started"))
	if code != exitUsage {
		t.Errorf("second kubexit: exit %d, want %d", code, exitUsage)
	}
	if fileExists(filepath.Join(tmp, "started")) {
		t.Error("the second kubexit started its child")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "KUBEXIT_NAME") ||
		!strings.Contains(lines[0], "graveyard="+gy) || !strings.Contains(lines[0], "holds its lock") || !strings.Contains(lines[0], "holder_born=") {
		t.Errorf("want one ERROR line naming KUBEXIT_NAME, the graveyard and the holder; stderr:\n%s", stderr)
	}
	if got := terminationMessage(t, msg); !strings.HasPrefix(got, "kubexit: exit 2: not started: KUBEXIT_NAME app is in use") {
		t.Errorf("termination message %q", got)
	}
	if after := graveyardSnapshot(t, gy); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("graveyard changed:\nbefore %q\nafter  %q", before, after)
	}
	if ts, _ := readTombstone(gy, "app"); ts.Born == nil || ts.Died != nil {
		t.Errorf("first kubexit's tombstone: %+v, want Born only", ts)
	}
	notYet(t, sibling, stmp) // the sibling was not stopped
	if first.exited() {
		t.Fatalf("the first kubexit exited; stderr:\n%s", first.stderr)
	}

	// The first ends; the same name starts again, as after a restart in place.
	first.signal(syscall.SIGTERM)
	first.wait()
	sibling.wait()
	code, stderr = runKubexit(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy}, "touch", filepath.Join(tmp, "started"))
	if code != 0 || !fileExists(filepath.Join(tmp, "started")) || strings.Contains(stderr, "level=ERROR") || strings.Contains(stderr, "level=WARN") {
		t.Errorf("restart with the same name: exit %d; stderr:\n%s", code, stderr)
	}
	if ts, _ := readTombstone(gy, "app"); ts.Born == nil || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("restarted tombstone: %+v, want Born, Died, ExitCode 0", ts)
	}
}
