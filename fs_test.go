package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// Integration tests on real filesystems where inotify is blind.
//
// A test bed is two paths onto the same files: the writer's, through which a
// dep's tombstone is written, and the reader's, the graveyard a waiting
// kubexit polls. hack/fs-test sets each bed up (hack/beds/fs: bind mount,
// tmpfs, overlay, bindfs, sshfs; NFSv4.2 in a QEMU or user-mode-linux guest),
// runs these tests with
//
//	KUBEXIT_FS_TESTS=1         the switch; without it every test here skips
//	KUBEXIT_FS_NAME            bind, tmpfs, overlay, bindfs, sshfs, nfs or nfs-noac: picks the bound
//	                           and the filesystem type READER_DIR must have
//	KUBEXIT_FS_WRITER_DIR      the writer's path
//	KUBEXIT_FS_READER_DIR      the reader's path onto the same files
//	KUBEXIT_FS_BACKING_DIR     where writes through the reader's path land (default: the writer's)
//	KUBEXIT_FS_PEER_DIR        optional: a path of the reader's kind (an NFS mount) for TestFSLock
//	KUBEXIT_FS_REPEAT          runs of each scenario (default 5)
//	KUBEXIT_FS_BOUND           overrides the bound (a Go duration)
//
// and tears the bed down. With the switch set, a missing or broken bed fails
// the tests: it never skips them.
//
// The tests assert that a waiting kubexit's child is terminated after its
// dep died, and within a generous per-filesystem bound (fsBounds); how fast
// is measured by the benchmarks (hack/bench-fs), not asserted here.

// fsBounds is, per filesystem, how long after a dep's death its dependent's
// child may take to get SIGTERM. Measured reactions (FILESYSTEMS.md and
// hack/bench-fs) are under 0.5 s on every bed at the default 100 ms poll; the
// bounds leave more than 20x for noisy machines, and stay below the delays of
// the failure modes a poller can fall into, so that those still fail: a
// lookup by name on NFS is cached as "not found" for 30 s and a stat-based
// check sees an NFS rewrite only after 33-60 s; on sshfs a stat-based check
// misses a same-tick rewrite forever.
var fsBounds = map[string]time.Duration{
	"bind":     10 * time.Second,
	"tmpfs":    10 * time.Second,
	"overlay":  10 * time.Second, // only TestFSLock: lower-dir writes are not supported
	"bindfs":   10 * time.Second,
	"sshfs":    15 * time.Second,
	"nfs":      25 * time.Second,
	"nfs-noac": 25 * time.Second,
}

// Filesystem magic numbers (statfs f_type) that READER_DIR must have, so a
// bed that silently fell back to a plain directory does not pass as FUSE or
// NFS.
const (
	fuseSuperMagic = 0x65735546
	nfsSuperMagic  = 0x6969
)

var fsTypes = map[string]int64{
	"bindfs":   fuseSuperMagic,
	"sshfs":    fuseSuperMagic,
	"nfs":      nfsSuperMagic,
	"nfs-noac": nfsSuperMagic,
}

// fsBed is the test bed named by the environment.
type fsBed struct {
	name           string
	writer, reader string
	// backing is the directory that writes through the reader's path land
	// in (KUBEXIT_FS_BACKING_DIR; the writer's unless set: an overlay's is
	// its upper directory).
	backing string
	// peer is a path of the reader's kind onto the same files
	// (KUBEXIT_FS_PEER_DIR, optional: an NFS mount, the reader's own or
	// another), through which a second lock holder writes (TestFSLock).
	peer   string
	bound  time.Duration
	repeat int
}

var fsTestBed = &testBed[*fsBed]{
	env:     "KUBEXIT_FS_TESTS",
	tests:   "filesystem integration tests (bind, bindfs, sshfs, NFS)",
	name:    "filesystem test bed",
	script:  "hack/fs-test",
	fix:     "set it up with hack/fs-test",
	connect: checkFSBed,
}

// needFS skips the test unless KUBEXIT_FS_TESTS=1; then it returns the bed,
// or fails the test if the bed is not usable.
func needFS(t *testing.T) *fsBed {
	t.Helper()
	return fsTestBed.need(t)
}

// checkFSBed reads the bed from the environment and checks that it is what
// it claims: two paths onto the same files, the reader on the right kind of
// filesystem.
func checkFSBed() (*fsBed, error) {
	b := &fsBed{
		name:    os.Getenv("KUBEXIT_FS_NAME"),
		writer:  os.Getenv("KUBEXIT_FS_WRITER_DIR"),
		reader:  os.Getenv("KUBEXIT_FS_READER_DIR"),
		backing: os.Getenv("KUBEXIT_FS_BACKING_DIR"),
		peer:    os.Getenv("KUBEXIT_FS_PEER_DIR"),
		repeat:  5,
	}
	if b.backing == "" {
		b.backing = b.writer
	}
	bound, ok := fsBounds[b.name]
	if !ok {
		return nil, fmt.Errorf("KUBEXIT_FS_NAME=%q: want one of bind, tmpfs, overlay, bindfs, sshfs, nfs, nfs-noac", b.name)
	}
	b.bound = bound
	if v := os.Getenv("KUBEXIT_FS_BOUND"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("KUBEXIT_FS_BOUND=%q: not a positive Go duration", v)
		}
		b.bound = d
	}
	if v := os.Getenv("KUBEXIT_FS_REPEAT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("KUBEXIT_FS_REPEAT=%q: not a positive integer", v)
		}
		b.repeat = n
	}
	for _, d := range []struct{ env, path string }{{"KUBEXIT_FS_WRITER_DIR", b.writer}, {"KUBEXIT_FS_READER_DIR", b.reader}} {
		if d.path == "" {
			return nil, fmt.Errorf("%s is not set", d.env)
		}
		if fi, err := os.Stat(d.path); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s=%s is not a directory (%v)", d.env, d.path, err)
		}
	}
	if filepath.Clean(b.writer) == filepath.Clean(b.reader) {
		return nil, fmt.Errorf("writer and reader are the same path %s: a test bed needs two paths onto the same files", b.writer)
	}
	if want, ok := fsTypes[b.name]; ok {
		var st syscall.Statfs_t
		if err := syscall.Statfs(b.reader, &st); err != nil {
			return nil, fmt.Errorf("statfs %s: %v", b.reader, err)
		}
		if int64(st.Type) != want {
			return nil, fmt.Errorf("reader %s has filesystem type %#x, want %#x for %s: is it mounted?", b.reader, st.Type, want, b.name)
		}
	}
	// A file written through the writer must show, with its content,
	// through the reader.
	probe := fmt.Sprintf(".fs-probe-%d", os.Getpid())
	content := fmt.Sprintf("probe %d %d\n", os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(b.writer, probe), []byte(content), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write through the writer: %v", err)
	}
	defer os.Remove(filepath.Join(b.writer, probe))
	deadline := time.Now().Add(b.bound)
	for {
		data, err := os.ReadFile(filepath.Join(b.reader, probe))
		if err == nil && string(data) == content {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("a file written as %s is not seen as %s after %v (last: %q, %v): the paths are not onto the same files",
				filepath.Join(b.writer, probe), filepath.Join(b.reader, probe), b.bound, data, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fsName returns a container name unique to this process, test and run.
func fsName(role string, run int) string {
	return fmt.Sprintf("%s-%d-%d", role, os.Getpid(), run)
}

// fsWaiter is a kubexit watching the reader path with a death dep, and its
// child (termstamp), which records when it got SIGTERM.
type fsWaiter struct {
	*kubexitProc
	name, dep, stamp string
}

// fsStartTimeout bounds a waiter's start: generous, for the slow guest.
const fsStartTimeout = testTimeout

// fsStartBound is how long a child's start may take on a bed where the
// filesystem sits on lock calls: kubexit waits lockCallBound (1 s) for its
// lock, then starts the child anyway. Before, on a freshly started NFS
// server (its grace period), the start waited 50-60 s for the lock.
const fsStartBound = 20 * time.Second

// startFSWaiter starts kubexit NAME in the reader path, with death dep DEP
// and the termstamp child, and waits until the child runs (so kubexit's
// first poll has read whatever DEP's tombstone then was).
func startFSWaiter(t *testing.T, b *fsBed, name, dep string) *fsWaiter {
	t.Helper()
	stamp := filepath.Join(t.TempDir(), "stamp")
	p := startKubexit(t, map[string]string{
		"KUBEXIT_NAME":       name,
		"KUBEXIT_GRAVEYARD":  b.reader,
		"KUBEXIT_DEATH_DEPS": dep,
	}, "termstamp", stamp)
	t.Cleanup(func() { os.Remove(filepath.Join(b.writer, name)) })
	waitWithin(t, fsStartTimeout, 10*time.Millisecond, name+"'s child to run", func() bool { return fileExists(stamp+".ready") || p.exited() })
	if p.exited() {
		t.Fatalf("%s exited (status %d) before its child ran; stderr:\n%s", name, p.code, p.stderr)
	}
	return &fsWaiter{kubexitProc: p, name: name, dep: dep, stamp: stamp}
}

// expectTerminated checks that the waiter's child got SIGTERM after since
// (just before the dep's death was written) and at most b.bound later, and
// that kubexit then exited 0 (termstamp's status), said why, and recorded
// its death in a tombstone that the writer's path shows. It returns the
// reaction time.
func (w *fsWaiter) expectTerminated(t *testing.T, b *fsBed, since time.Time) time.Duration {
	t.Helper()
	deadline := since.Add(b.bound)
	var data []byte
	for {
		var err error
		if data, err = os.ReadFile(w.stamp); err == nil && len(data) > 0 {
			break
		}
		if w.exited() {
			t.Fatalf("%s exited %d without its child getting SIGTERM; stderr:\n%s", w.name, w.code, w.stderr)
		}
		if time.Now().After(deadline) {
			dep, _ := os.ReadFile(filepath.Join(b.reader, w.dep))
			t.Fatalf("%s: child not terminated within %v of dep %s's death on %s (dep's tombstone as the reader sees it: %q); stderr:\n%s",
				w.name, b.bound, w.dep, b.name, dep, w.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ns, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		t.Fatalf("bad stamp %q: %v", data, err)
	}
	got := time.Unix(0, ns)
	lat := got.Sub(since)
	if lat < 0 {
		t.Fatalf("%s's child got SIGTERM %v before its dep died", w.name, -lat)
	}
	if lat > b.bound {
		t.Fatalf("%s's child got SIGTERM %v after its dep died, more than the bound %v on %s", w.name, lat, b.bound, b.name)
	}
	if code := w.wait(); code != 0 {
		t.Fatalf("%s exited %d, want 0 (its child's status after a handled TERM); stderr:\n%s", w.name, code, w.stderr)
	}
	if s := w.stderr.String(); !strings.Contains(s, "death dep died; terminating the child") || !strings.Contains(s, "dep="+w.dep) {
		t.Errorf("%s's log does not say that %s died:\n%s", w.name, w.dep, s)
	}
	// The waiter wrote its tombstone through the reader's path; the writer's
	// path must show it.
	ts := waitTombstone(t, b.writer, w.name, "dead (seen through the writer's path)", func(ts tombstone) bool { return ts.Died != nil })
	if ts.Born == nil || ts.ExitCode == nil || *ts.ExitCode != 0 {
		t.Errorf("%s's tombstone %v, want Born, Died and ExitCode 0", w.name, ts)
	}
	return lat
}

// fsRepeat runs scenario b.repeat times and logs the reaction times.
func fsRepeat(t *testing.T, b *fsBed, scenario func(t *testing.T, run int) time.Duration) {
	var lats []string
	for i := range b.repeat {
		ok := t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) {
			lats = append(lats, scenario(t, i+1).Round(time.Millisecond).String())
		})
		if !ok {
			break
		}
	}
	t.Logf("%s: %d runs, bound %v; reactions (not asserted): %s", b.name, len(lats), b.bound, strings.Join(lats, " "))
}

// pause lets a waiting kubexit poll a few times, so that what it read is in
// the caches of the reader's filesystem before the dep's tombstone changes.
func pause() { time.Sleep(3*defaultPollInterval + 200*time.Millisecond) }

// TestFSStartOnTime: the child starts on time even where the filesystem
// does not grant locks yet. It is the first test of the binary, so on the
// NFS bed it takes the first lock on a freshly started server, in its grace
// period (up to 90 s, in which the kernel retries lock calls); on the other
// beds, and the second NFS mount, it checks only the start. kubexit says,
// once, that its lock is late, and when it got it.
func TestFSStartOnTime(t *testing.T) {
	b := needFS(t)
	name, stamp := fsName("early", 0), filepath.Join(t.TempDir(), "stamp")
	start := time.Now()
	p := startKubexit(t, map[string]string{"KUBEXIT_NAME": name, "KUBEXIT_GRAVEYARD": b.reader}, "termstamp", stamp)
	t.Cleanup(func() {
		for _, f := range []string{name, lockFileName(name)} {
			os.Remove(filepath.Join(b.reader, f))
		}
	})
	waitWithin(t, fsStartTimeout, 10*time.Millisecond, "the child to run", func() bool { return fileExists(stamp+".ready") || p.exited() })
	took := time.Since(start)
	late := strings.Contains(p.stderr.String(), "this process's lock is not taken yet")
	t.Logf("%s: child started after %v; lock late: %v", b.name, took.Round(time.Millisecond), late)
	if took > fsStartBound {
		t.Errorf("%s: the child started %v after kubexit, more than %v; stderr:\n%s", b.name, took, fsStartBound, p.stderr)
	}
	if late {
		waitWithin(t, fsStartTimeout, 50*time.Millisecond, "the late lock's outcome", func() bool {
			return strings.Contains(p.stderr.String(), "this process's lock is taken")
		})
	}
	p.signal(syscall.SIGTERM)
	p.wait()
	if n := strings.Count(p.stderr.String(), "this process's lock is not taken yet"); n > 1 {
		t.Errorf("said %d times that the lock is late, want once:\n%s", n, p.stderr)
	}
}

// TestFSDeathDepTerminatesChild: a writer kubexit's child exits; its
// tombstone (Born, then Died, each written atomically through the writer's
// path) makes the kubexit that waits through the reader's path terminate its
// child.
func TestFSDeathDepTerminatesChild(t *testing.T) {
	b := needFS(t)
	fsRepeat(t, b, func(t *testing.T, run int) time.Duration {
		dep, tmp := fsName("writer", run), t.TempDir()
		w := startFSWaiter(t, b, fsName("waiter", run), dep)
		t.Cleanup(func() { os.Remove(filepath.Join(b.writer, dep)) })
		release := filepath.Join(tmp, "release")
		writer := startKubexit(t, map[string]string{
			"KUBEXIT_NAME":      dep,
			"KUBEXIT_GRAVEYARD": b.writer,
			"RELEASE":           release,
		}, script(t, tmp, "writer.sh", `while [ ! -e "$RELEASE" ]; do sleep 0.02; done; exit 3`))
		// The waiter sees the writer born (and alive) before it dies.
		waitTombstone(t, b.reader, dep, "born (seen through the reader's path)", isBorn)
		pause()
		if w.exited() {
			t.Fatalf("%s exited while its dep was alive; stderr:\n%s", w.name, w.stderr)
		}
		since := time.Now()
		if err := os.WriteFile(release, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := writer.wait(); code != 3 {
			t.Fatalf("writer kubexit exited %d, want 3; stderr:\n%s", code, writer.stderr)
		}
		ts, ok := readTombstone(b.writer, dep)
		if !ok || ts.Died == nil || ts.ExitCode == nil || *ts.ExitCode != 3 {
			t.Fatalf("writer's tombstone %v, want Died and ExitCode 3", ts)
		}
		if ts.Died.Before(since) {
			t.Fatalf("writer died at %v, before it was released at %v", ts.Died, since)
		}
		// The dep died when its tombstone says so.
		return w.expectTerminated(t, b, *ts.Died)
	})
}

// sameSizeTombstones returns an alive tombstone (Born only) and a dead one
// (Born, Died, ExitCode 0) of the same length: the alive one is padded with
// a YAML comment.
func sameSizeTombstones(born, died time.Time) (alive, dead []byte) {
	dead = tombstone{Born: &born, Died: &died, ExitCode: ptr(0)}.marshal()
	alive = tombstone{Born: &born}.marshal()
	pad := len(dead) - len(alive) - 2
	alive = append(append(alive, '#'), append(bytes.Repeat([]byte{'-'}, pad), '\n')...)
	return alive, dead
}

// aliveDep writes an alive tombstone for dep through the writer's path,
// with an mtime in whole seconds (exact on every filesystem), waits until
// the reader's path shows it, and starts a kubexit that waits on dep. It
// returns the waiter, the dead tombstone of the same size, and the alive
// tombstone's stat through the writer's path.
func aliveDep(t *testing.T, b *fsBed, run int) (*fsWaiter, []byte, os.FileInfo) {
	t.Helper()
	dep := fsName("dep", run)
	path := filepath.Join(b.writer, dep)
	t.Cleanup(func() { os.Remove(path) })
	born := time.Now()
	alive, dead := sameSizeTombstones(born, born.Add(time.Millisecond))
	if len(alive) != len(dead) {
		t.Fatalf("test bug: alive tombstone %d bytes, dead %d", len(alive), len(dead))
	}
	if err := os.WriteFile(path, alive, 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := born.Truncate(time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, dep+"'s alive tombstone through the reader's path", func() bool {
		data, err := os.ReadFile(filepath.Join(b.reader, dep))
		return err == nil && bytes.Equal(data, alive)
	})
	w := startFSWaiter(t, b, fsName("waiter", run), dep)
	pause()
	if w.exited() {
		t.Fatalf("%s exited while its dep was alive; stderr:\n%s", w.name, w.stderr)
	}
	return w, dead, fi
}

// sameStat fails the test if path's size, mtime or inode differ from fi's:
// the scenario meant to keep them.
func sameStat(t *testing.T, path string, fi os.FileInfo, keepInode bool) {
	t.Helper()
	now, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("test bug: %s changed size or mtime (%d %v, was %d %v)", path, now.Size(), now.ModTime(), fi.Size(), fi.ModTime())
	}
	if keepInode && now.Sys().(*syscall.Stat_t).Ino != fi.Sys().(*syscall.Stat_t).Ino {
		t.Fatalf("test bug: %s changed inode", path)
	}
}

// TestFSDepTombstoneAppears: a dep's tombstone that does not exist yet
// appears (created and written in place, not renamed), after the reader's
// path was asked for it by name (on NFS that caches "not found").
func TestFSDepTombstoneAppears(t *testing.T) {
	b := needFS(t)
	fsRepeat(t, b, func(t *testing.T, run int) time.Duration {
		dep := fsName("dep", run)
		path := filepath.Join(b.writer, dep)
		t.Cleanup(func() { os.Remove(path) })
		w := startFSWaiter(t, b, fsName("waiter", run), dep)
		if _, err := os.Stat(filepath.Join(b.reader, dep)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("dep %s's tombstone exists before the test wrote it: %v", dep, err)
		}
		pause()
		if w.exited() {
			t.Fatalf("%s exited without its dep's tombstone; stderr:\n%s", w.name, w.stderr)
		}
		since := time.Now()
		_, dead := sameSizeTombstones(since, since)
		if err := os.WriteFile(path, dead, 0o644); err != nil {
			t.Fatal(err)
		}
		return w.expectTerminated(t, b, since)
	})
}

// fsReplaceDep runs a scenario where a dep's alive tombstone, already read
// by the waiter, is replaced with a dead one of the same size (dead) by
// replace, which leaves the file's mtime as it was, and returns when it
// began the change that makes the death visible. With keepInode, the file
// keeps its inode too.
func fsReplaceDep(t *testing.T, keepInode bool, replace func(t *testing.T, path string, dead []byte, mtime time.Time) (since time.Time)) {
	b := needFS(t)
	fsRepeat(t, b, func(t *testing.T, run int) time.Duration {
		w, dead, fi := aliveDep(t, b, run)
		path := filepath.Join(b.writer, w.dep)
		since := replace(t, path, dead, fi.ModTime())
		sameStat(t, path, fi, keepInode)
		return w.expectTerminated(t, b, since)
	})
}

// TestFSDepTombstoneRewrittenInPlace: a dep's alive tombstone, already read
// by the waiter, is rewritten in place with a dead one: same size, same
// inode, written at offset 0 without truncating, and its mtime put back, as
// a rewrite within one mtime tick leaves it (1 s on sshfs). Only the content
// (and ctime) tells.
func TestFSDepTombstoneRewrittenInPlace(t *testing.T) {
	fsReplaceDep(t, true, func(t *testing.T, path string, dead []byte, mtime time.Time) time.Time {
		since := time.Now()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(dead, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return since
	})
}

// TestFSDepTombstoneReplacedByRename: a dep's alive tombstone, already read
// by the waiter, is replaced by renaming a dead one of the same size and
// mtime over it (as kubexit writes tombstones; sshfs even keeps the old
// inode number).
func TestFSDepTombstoneReplacedByRename(t *testing.T) {
	fsReplaceDep(t, false, func(t *testing.T, path string, dead []byte, mtime time.Time) time.Time {
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
		t.Cleanup(func() { os.Remove(tmp) })
		if err := os.WriteFile(tmp, dead, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		since := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		return since
	})
}

// TestFSInotify reports whether inotify on the reader's path sees a file
// created through the writer's path: it must on the controls (bind, tmpfs),
// and is only logged elsewhere, where it is expected not to (which is why
// kubexit polls). It is what makes the other tests on this bed meaningful.
func TestFSInotify(t *testing.T) {
	b := needFS(t)
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, b.reader, syscall.IN_CREATE|syscall.IN_MODIFY|syscall.IN_MOVED_TO|syscall.IN_CLOSE_WRITE); err != nil {
		t.Fatalf("inotify_add_watch %s: %v", b.reader, err)
	}
	name := fsName("inotify", 0)
	path := filepath.Join(b.writer, name)
	t.Cleanup(func() { os.Remove(path) })
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	fired := false
	for deadline := time.Now().Add(2 * time.Second); !fired && time.Now().Before(deadline); {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("read inotify: %v", err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			if string(bytes.TrimRight(nameBytes, "\x00")) == name {
				fired = true
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
	switch {
	case (b.name == "bind" || b.name == "tmpfs") && !fired:
		t.Fatalf("inotify on %s did not see a file created through %s: this control bed is not a control", b.reader, b.writer)
	case fired:
		t.Logf("%s: inotify on the reader's path fires", b.name)
	default:
		t.Logf("%s: inotify on the reader's path is blind to writes through the writer's path (2 s)", b.name)
	}
}

// BenchmarkFSDeathAfterBirth is BenchmarkDeathReaction (bench_test.go, same
// knobs) as a dep's death happens in life: its tombstone already says Born,
// kubexit has read it, and kubexit's own atomic rewrite replaces it with
// Born, Died and ExitCode, a longer file. On FUSE a reader's cached size
// (attribute timeout) may cut the new content short until it expires, which
// a new tombstone (BenchmarkDeathReaction) does not show. Reported: median,
// p95 and max in ms from the rename to the child's SIGTERM. hack/bench-fs
// runs it on every test bed.
func BenchmarkFSDeathAfterBirth(b *testing.B) { benchDeathReaction(b, "born", true) }
