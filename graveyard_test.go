package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdLifeLock takes name's life lock in dir, as a kubexit of that name
// does (takeLifeLock).
func holdLifeLock(dir, name string, born time.Time) (int, error) {
	return takeLifeLock(filepath.Join(dir, lockFileName(name)), born)
}

// lockTrusted tells whether a free lock can mean a death on dir's
// filesystem at all, and names the filesystem (graveyardReader.decide).
func lockTrusted(dir string) (bool, string) {
	g := newGraveyardReader(dir)
	if !g.decide() {
		return false, "statfs failed"
	}
	return g.locks, g.fsName
}

// hintTrusted tells whether an inotify watch on dir sees every write.
func hintTrusted(dir string) bool {
	g := newGraveyardReader(dir)
	return g.decide() && g.hints
}

// setLockView rewrites the lock file of name in dir (its lock untouched) so
// that it says its holder saw it as v.
func setLockView(t *testing.T, dir, name string, born time.Time, v lockView) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, lockFileName(name)), lockContent(born, v), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A free lock speaks for a death only where its holder saw the lock file as
// the reader does: the same filesystem type and device. A holder through an
// overlay or FUSE mount of the reader's directory (another type), another
// mount (another device: a second NFS mount, as hack/fs-test measures), or a kubexit that did not say (the lock file of a kubexit
// before views), is no word, and the reason is given. A held lock is
// judged the same way: a foreign view is no word either.
func TestGraveyardLockViews(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if ok, fs := lockTrusted(dir); !ok {
		t.Skipf("locks not trusted on the temp dir's filesystem (%s)", fs)
	}
	born := time.Date(2026, 11, 25, 23, 21, 14, 604215824, time.UTC)
	if err := writeTombstone(dir, "main", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	fd, err := holdLifeLock(dir, "main", born)
	if err != nil {
		t.Fatal(err)
	}
	own, err := viewOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, lockFileName("main")))
	if !bytes.Equal(data, lockContent(born, own)) {
		t.Fatalf("lock file %q, want %q", data, lockContent(born, own))
	}
	if _, err := parseTombstone(data); err != nil {
		t.Errorf("a tombstone reader cannot read the lock file: %v", err)
	}
	g := newGraveyardReader(dir)
	views := []struct {
		name string
		v    lockView
		want string // the reason given, "" for none
	}{
		{"its own", own, ""},
		{"through FUSE", lockView{fsType: unix.FUSE_SUPER_MAGIC, dev: own.dev}, "another mount (fuse"},
		{"through an overlay", lockView{fsType: unix.OVERLAYFS_SUPER_MAGIC, dev: own.dev}, "another mount (overlayfs"},
		{"another device", lockView{fsType: own.fsType, dev: unix.Mkdev(251, 7)}, "device 251:7"},
	}
	check := func(held bool) {
		for _, c := range views {
			setLockView(t, dir, "main", born, c.v)
			s, err := g.lockState("main", born)
			want := map[bool]lockState{true: lockHeld, false: lockFree}[held]
			if c.want != "" {
				want = lockNone
			}
			if s != want || c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("held %v, %s: %v, %v; want %v, reason %q", held, c.name, s, err, want, c.want)
			}
		}
	}
	check(true)
	unix.Close(fd)
	check(false)
	os.WriteFile(filepath.Join(dir, lockFileName("main")), tombstone{Born: &born}.marshal(), 0o644)
	if s, err := g.lockState("main", born); s != lockNone || err == nil || !strings.Contains(err.Error(), "does not say how its holder sees it") {
		t.Errorf("a lock file without a view: %v, %v", s, err)
	}
	setLockView(t, dir, "main", born, own)
	if _, s, _ := g.judge("main"); s != stateLost {
		t.Errorf("judge with its own view, free: %s, want lost", s)
	}
}

// sittingLocks makes lock calls sit until the returned release is called,
// as NFS does in a server's grace period, and bounds them at 100 ms; it
// counts the calls made. Not parallel: it changes globals.
func sittingLocks(t *testing.T) (calls *atomic.Int64, release func()) {
	calls = &atomic.Int64{}
	gate := make(chan struct{})
	oldCall, oldBound := fcntlLock, lockCallBound
	fcntlLock = func(fd, cmd int, lk *unix.Flock_t) error {
		calls.Add(1)
		<-gate
		return oldCall(fd, cmd, lk)
	}
	lockCallBound = 100 * time.Millisecond
	var released atomic.Bool
	release = func() {
		if released.CompareAndSwap(false, true) {
			close(gate)
		}
	}
	t.Cleanup(func() {
		release()
		waitFor(t, "no lock call sitting", func() bool {
			n := 0
			slowLocks.Range(func(any, any) bool { n++; return true })
			return n == 0
		})
		fcntlLock, lockCallBound = oldCall, oldBound
	})
	return calls, release
}

// A lock test that sits holds a look up for lockCallBound once: it is no
// word (errLockSlow), and later looks do not call again until it returned.
func TestGraveyardLockTestSits(t *testing.T) {
	dir := t.TempDir()
	if ok, fs := lockTrusted(dir); !ok {
		t.Skipf("locks not trusted on the temp dir's filesystem (%s)", fs)
	}
	born := time.Now()
	liveDep(t, dir, "main", born)
	calls, release := sittingLocks(t)
	g := newGraveyardReader(dir)
	g.decide()
	g.local = false // as on NFS: the tests are bounded
	for i := range 3 {
		if s, err := g.lockState("main", born); s != lockNone || err == nil || !strings.Contains(err.Error(), errLockSlow.Error()) {
			t.Fatalf("look %d: %v, %v; want no word, slow", i, s, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d lock calls while one sat, want 1", n)
	}
	release()
	waitFor(t, "the lock seen held", func() bool { s, _ := g.lockState("main", born); return s == lockHeld })
}

// A life lock that the filesystem does not grant in time does not hold the
// birth back: Born is written, the lock file says nothing meanwhile (so a
// sibling judges the process by its tombstone: alive, never lost), and once
// the lock is granted the file speaks and the log says so.
func TestGraveyardLifeLockLate(t *testing.T) {
	dir := t.TempDir()
	if ok, fs := lockTrusted(dir); !ok {
		t.Skipf("locks not trusted on the temp dir's filesystem (%s)", fs)
	}
	_, release := sittingLocks(t)
	logs := &syncBuffer{}
	s := &supervisor{cfg: config{Name: "app", Graveyard: dir}, log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := s.recordBirth(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "this process's lock is not taken yet") {
		t.Errorf("the late lock not said:\n%s", logs)
	}
	g := newGraveyardReader(dir)
	if _, state, err := g.judge("app"); state != stateBorn {
		t.Errorf("while the lock sits: %s, %v; want born", state, err)
	}
	release()
	waitFor(t, "the lock taken", func() bool { return strings.Contains(logs.String(), "this process's lock is taken") })
	if st, err := g.lockState("app", *s.born); st != lockHeld {
		t.Errorf("once taken: %v, %v; want held", st, err)
	}
}
