package main

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fsLockProbes is how many times a live writer's lock is tested through the
// reader's path.
const fsLockProbes = 5000

// TestFSLock is the evidence for where lost deaths are judged by locks
// (lock.go): a real kubexit holds its lock through the writer's path; the
// reader's path tests it fsLockProbes times, then kubexit is SIGKILLed and
// the reader must see the lock free. On a filesystem kubexit trusts for
// locks, every probe of the live writer must say held and the kill must be
// seen; elsewhere the counts are only reported (the lock is not used there).
// hack/fs-test prints the "fs-lock:" line of every bed.
func TestFSLock(t *testing.T) {
	b := needFS(t)
	name := fsName("locker", 0)
	k := startKubexit(t, map[string]string{"KUBEXIT_NAME": name, "KUBEXIT_GRAVEYARD": b.writer}, "sleep", "600")
	ts := waitTombstone(t, b.writer, name, "born", isBorn)
	buf := make([]byte, 0, maxLockFileSize)
	path, want := filepath.Join(b.reader, lockFileName(name)), lockContent(*ts.Born)
	// Give the reader's path time to show the lock file (it never does on
	// an overlay whose lower layer is written underneath).
	for seen := time.Now(); time.Since(seen) < b.bound; time.Sleep(20 * time.Millisecond) {
		if s, _ := probeLock(path, want, buf); s != lockNone {
			break
		}
	}

	var counts [3]int // by lockState
	var errs int
	var lastErr error
	for i := 0; i < fsLockProbes; i++ {
		s, err := probeLock(path, want, buf)
		if err != nil {
			errs++
			lastErr = err
		}
		counts[s]++
	}
	orphans := childPIDs(k.cmd.Process.Pid)
	k.signal(syscall.SIGKILL)
	killed := time.Now()
	for _, pid := range orphans {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	freeAfter := time.Duration(-1)
	for time.Since(killed) < b.bound {
		if s, _ := probeLock(path, want, buf); s == lockFree {
			freeAfter = time.Since(killed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	trusted, fs := lockTrusted(b.reader)
	sound := counts[lockHeld] == fsLockProbes && freeAfter >= 0
	t.Logf("fs-lock: %s (%s): live writer, %d probes: held %d, free %d, no word %d, errors %d; after SIGKILL: free after %v; sound %v; kubexit uses locks here: %v",
		b.name, fs, fsLockProbes, counts[lockHeld], counts[lockFree], counts[lockNone], errs, freeAfter.Round(time.Microsecond), sound, trusted)
	if trusted && !sound {
		t.Errorf("kubexit trusts locks on %s, but they are not sound there: a live sibling would be judged dead (last error: %v)", fs, lastErr)
	}
}
