package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fsLockProbes is how many times a live writer's lock is tested through the
// reader's path.
const fsLockProbes = 5000

// TestFSLock is the evidence for where lost deaths are judged by locks
// (graveyard.go): a real kubexit holds its lock through the writer's path
// (and, where the bed has one, a peer's: an NFS mount);
// the reader's path tests it fsLockProbes times (the raw lock, whatever
// kubexit makes of it), then kubexit is SIGKILLed and the reader must see
// the lock free. Where kubexit judges the live writer by its lock (the
// filesystem is trusted and the holder's view is the reader's), every probe
// must say held and the kill must be seen; elsewhere the counts are only
// reported. hack/fs-test prints the "fs-lock:" line of every bed.
func TestFSLock(t *testing.T) {
	b := needFS(t)
	fsLockEvidence(t, b, b.writer, "live writer", fsLockProbes)
	if b.peer != "" {
		fsLockEvidence(t, b, b.peer, "live peer", fsLockProbes/5)
	}
}

// fsLockEvidence runs TestFSLock's evidence with the lock's holder in
// holderDir: the writer's path, or a peer's (the reader's own mount, as the
// containers of a pod share it, or another mount of the same kind).
func fsLockEvidence(t *testing.T, b *fsBed, holderDir, holder string, probes int) {
	name := fsName("locker", len(holder))
	k := startKubexit(t, map[string]string{"KUBEXIT_NAME": name, "KUBEXIT_GRAVEYARD": holderDir}, "sleep", "600")
	ts := waitTombstone(t, holderDir, name, "born", isBorn)
	path, born := filepath.Join(b.reader, lockFileName(name)), tombstone{Born: ts.Born}.marshal()
	buf := make([]byte, 0, maxLockFileSize)
	raw := func() (lockState, error) {
		fd, content, _, err := openLockFile(path, buf)
		if err != nil || !bytes.HasPrefix(content, born) {
			if err == nil {
				syscall.Close(fd)
			}
			return lockNone, err
		}
		if held, err := testLock(fd, path, true); err != nil || held {
			return lockHeld, err
		}
		return lockFree, nil
	}
	// Give the reader's path time to show the lock file (it never does on
	// an overlay whose lower layer is written underneath).
	for seen := time.Now(); time.Since(seen) < b.bound; time.Sleep(20 * time.Millisecond) {
		if s, _ := raw(); s != lockNone {
			break
		}
	}
	var counts [3]int // by lockState
	var errs int
	var lastErr error
	for i := 0; i < probes; i++ {
		s, err := raw()
		if err != nil {
			errs++
			lastErr = err
		}
		counts[s]++
	}
	g := newGraveyardReader(b.reader)
	judged, why := g.lockState(name, *ts.Born)
	uses := judged != lockNone
	orphans := childPIDs(k.cmd.Process.Pid)
	k.signal(syscall.SIGKILL)
	killed := time.Now()
	for _, pid := range orphans {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	freeAfter := time.Duration(-1)
	for time.Since(killed) < b.bound {
		if s, _ := raw(); s == lockFree {
			freeAfter = time.Since(killed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	sound := counts[lockHeld] == probes && freeAfter >= 0
	t.Logf("fs-lock: %s (%s): %s, %d probes: held %d, free %d, no word %d, errors %d; after SIGKILL: free after %v; sound %v; kubexit uses locks here: %v (%v)",
		b.name, g.fsName, holder, probes, counts[lockHeld], counts[lockFree], counts[lockNone], errs, freeAfter.Round(time.Microsecond), sound, uses, why)
	if uses && (!sound || judged != lockHeld) {
		t.Errorf("kubexit judges by locks on %s (the "+holder+": %v), but they are not sound there: a live sibling would be judged dead (last error: %v)", g.fsName, judged, lastErr)
	}
	if after, _ := g.lockState(name, *ts.Born); uses && after != lockFree {
		t.Errorf("after the SIGKILL kubexit judges the lock %v, want free", after)
	}
}

// TestFSNoFalseDeath: a dep's kubexit writes through the bed's mount (the
// reader's path: FUSE, an overlay, NFS, a bind mount) while a sibling
// watches the directory that mount writes into (KUBEXIT_FS_BACKING_DIR).
// The dep's lock is on the mount's inode, which the backing directory may
// not see: the sibling must never take the live dep for dead (the lock file
// says how its holder sees it, and a view that is not the watcher's is no
// word). After a SIGKILL of the dep, a watcher that can see the lock must
// see the death.
func TestFSNoFalseDeath(t *testing.T) {
	b := needFS(t)
	dep, tmp := fsName("mounted", 0), t.TempDir()
	k := startKubexit(t, map[string]string{"KUBEXIT_NAME": dep, "KUBEXIT_GRAVEYARD": b.reader}, "sleep", "600")
	t.Cleanup(func() {
		for _, f := range []string{dep, lockFileName(dep)} {
			os.Remove(filepath.Join(b.reader, f))
		}
	})
	ts := waitTombstone(t, b.backing, dep, "born (seen in the backing directory)", isBorn)
	g := newGraveyardReader(b.backing)
	waitWithin(t, fsStartTimeout, 20*time.Millisecond, "the lock file in the backing directory", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.backing, lockFileName(dep)))
		return bytes.HasPrefix(data, tombstone{Born: ts.Born}.marshal())
	})
	judged, why := g.lockState(dep, *ts.Born)
	ready := filepath.Join(tmp, "ready")
	w := startKubexit(t, map[string]string{"KUBEXIT_NAME": fsName("backing", 0), "KUBEXIT_GRAVEYARD": b.backing,
		"KUBEXIT_DEATH_DEPS": dep, "KUBEXIT_POLL_INTERVAL": "10ms", "READY": ready},
		script(t, tmp, "watcher.sh", `trap 'exit 0' TERM; `+loopUntilSignalled))
	t.Cleanup(func() { os.Remove(filepath.Join(b.backing, fsName("backing", 0))) })
	waitWithin(t, fsStartTimeout, 10*time.Millisecond, "the watcher's child", func() bool { return fileExists(ready) || w.exited() })
	// 200 polls at least: the old judgement failed at the first.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if w.exited() || strings.Contains(w.stderr.String(), "death dep") && strings.Contains(w.stderr.String(), "died") {
			t.Fatalf("%s (%s): a live dep writing through the mount was taken for dead; stderr:\n%s", b.name, g.fsName, w.stderr)
		}
	}
	t.Logf("%s: backing %s, the watcher's judgement of the live dep's lock: %v (%v)", b.name, g.fsName, judged, why)
	orphans := childPIDs(k.cmd.Process.Pid)
	k.signal(syscall.SIGKILL)
	for _, pid := range orphans {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	k.wait()
	if judged == lockHeld {
		waitWithin(t, b.bound, 10*time.Millisecond, "the lost death seen", w.exited)
		if !strings.Contains(w.stderr.String(), "lost: its kubexit ended without recording a death") {
			t.Errorf("the watcher exited, but not for the lost death:\n%s", w.stderr)
		}
		return
	}
	w.signal(syscall.SIGTERM)
	w.wait()
}
