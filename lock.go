package main

// Life locks: how a death that no tombstone records is still seen. A
// kubexit that is SIGKILLed (the kubelet at the end of the grace period, an
// OOM kill of its container's cgroup, a crash) writes no Died, and its
// siblings would wait forever. So each kubexit holds, for its whole life, a
// lock on a file of its own in the graveyard, .NAME.lock: the kernel
// releases it however the process ends.
//
// This file holds the mechanics: taking this process's lock, testing a
// sibling's, and the lock file's content. Whether a free lock means a death
// is judged in graveyard.go, from what the lock file says of its holder's
// view of it and what the reader sees.
//
// The locks are open file description locks (fcntl F_OFD_SETLK): tied to
// the open file, not to the process, so nothing else in kubexit can drop
// them by closing another descriptor, and not inherited by the child
// (O_CLOEXEC). Lock calls that may wait are bounded by lockCallBound: on
// NFS, in a server's grace period (up to 90 s after it starts), the kernel
// retries a lock or a lock test until the server grants it, and neither the
// child's start nor a poll may wait for that. This process's lock is always
// taken so; a test on a local filesystem, which never waits, is a plain call.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxLockFileSize bounds what a reader reads of a lock file.
const maxLockFileSize = 256

// lockCallBound is how long kubexit waits for one lock call: a local lock
// takes microseconds and an NFS one a round trip to the server.
var lockCallBound = time.Second

// fcntlLock is fcntl(2) on a lock; tests make it sit, as NFS does in a
// server's grace period.
var fcntlLock = func(fd int, cmd int, lk *unix.Flock_t) error { return unix.FcntlFlock(uintptr(fd), cmd, lk) }

// errLockHeld is a life lock that another live process holds: a kubexit
// with the same KUBEXIT_NAME. The supervisor refuses to run under that name.
var errLockHeld = errors.New("held by another process (another container with the same KUBEXIT_NAME?)")

// errLockSlow is a lock call that did not return within lockCallBound (or
// an earlier call on the same file that has not returned yet).
var errLockSlow = errors.New("the filesystem has not answered a lock call (an NFS server in its grace period?)")

// lockView is what one side sees of a lock file: the filesystem type
// (statfs f_type) and device (st_dev) of the open file. A reader is sure to
// see a lock only through the same mount as its holder's, as the containers
// of a pod see their shared volume: the same type and device. Through an
// overlay or FUSE mount of the reader's directory the holder locks another
// inode, and through a second NFS mount on the same client its lock was
// not seen (hack/fs-test, docs/filesystems.md): the views then differ.
type lockView struct {
	fsType int64
	dev    uint64
}

// viewOf is the view of the open file fd.
func viewOf(fd int) (lockView, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return lockView{}, err
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return lockView{}, err
	}
	return lockView{fsType: int64(fs.Type), dev: st.Dev}, nil
}

// lockContent is what the lock file of the life that began at born holds:
// the Born line of its tombstone, then its holder's view. Readers parse it
// as a tombstone (unknown keys are ignored by every tombstone reader).
func lockContent(born time.Time, v lockView) []byte {
	b := tombstone{Born: &born}.marshal()
	return fmt.Appendf(b, "Filesystem: \"%#x\"\nDevice: \"%d:%d\"\n", v.fsType, unix.Major(v.dev), unix.Minor(v.dev))
}

// parseLockView reads the view that lockContent writes after the Born line.
func parseLockView(rest []byte) (lockView, bool) {
	fsLine, rest, ok1 := bytes.Cut(rest, []byte("\n"))
	devLine, rest, ok2 := bytes.Cut(rest, []byte("\n"))
	fsv, ok3 := quotedValue(fsLine, "Filesystem: ")
	devv, ok4 := quotedValue(devLine, "Device: ")
	if !ok1 || !ok2 || !ok3 || !ok4 || len(rest) != 0 {
		return lockView{}, false
	}
	t, err := strconv.ParseInt(string(fsv), 0, 64)
	maj, min, ok5 := bytes.Cut(devv, []byte(":"))
	ma, err1 := strconv.ParseUint(string(maj), 10, 32)
	mi, err2 := strconv.ParseUint(string(min), 10, 32)
	if err != nil || !ok5 || err1 != nil || err2 != nil {
		return lockView{}, false
	}
	return lockView{fsType: t, dev: unix.Mkdev(uint32(ma), uint32(mi))}, true
}

// quotedValue is the value of line "KEY\"VALUE\"".
func quotedValue(line []byte, key string) ([]byte, bool) {
	v, ok := bytes.CutPrefix(line, []byte(key))
	if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// takeLifeLock takes this kubexit's lock on the lock file at path and
// writes born, with the view of the file, into it. The caller never closes the descriptor it
// returns: the lock lasts until the process ends. It fails, and then
// siblings judge this process by its tombstone alone, when the file cannot
// be opened as a regular file (a link, a directory) or the lock is held by
// another process (errLockHeld). The content is written only once the lock
// is held: until then, the file speaks for no life.
func takeLifeLock(path string, born time.Time) (int, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return -1, fmt.Errorf("create graveyard: %w", err)
	}
	fd, err := openRetry(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open lock file %s: %w", path, err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s %s: %w", what, path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("stat lock file", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail("lock file", errors.New("not a regular file"))
	}
	// 0644 whatever the umask, as tombstones: a sibling running as another
	// user must be able to probe it. Not fatal: a file of another owner
	// keeps its mode.
	if st.Mode&0o7777 != 0o644 {
		unix.Fchmod(fd, 0o644)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := fcntlLock(fd, unix.F_OFD_SETLK, &lk); err != nil {
		if err == unix.EAGAIN || err == unix.EACCES {
			err = errLockHeld
		}
		return fail("lock", err)
	}
	view, err := viewOf(fd)
	if err != nil {
		return fail("stat lock file", err)
	}
	if err := ftruncateRetry(fd, 0); err != nil {
		return fail("truncate lock file", err)
	}
	if err := pwriteFull(fd, lockContent(born, view), 0); err != nil {
		return fail("write lock file", err)
	}
	unix.Fsync(fd)
	return fd, nil
}

// lifeLock is this process's lock being taken (startLifeLock).
type lifeLock struct {
	done  chan struct{} // closed when the call returned
	err   error         // set before done is closed
	start time.Time
}

// startLifeLock takes this process's lock in the background and waits for
// it up to lockCallBound. The lock is usually taken by then; where it is
// not, the caller goes on (the child's start does not wait for a lock) and
// may wait on l.done.
func startLifeLock(path string, born time.Time) *lifeLock {
	l := &lifeLock{done: make(chan struct{}), start: time.Now()}
	go func() {
		_, l.err = takeLifeLock(path, born)
		close(l.done)
	}()
	t := time.NewTimer(lockCallBound)
	defer t.Stop()
	select {
	case <-l.done:
	case <-t.C:
	}
	return l
}

// taken tells whether the call returned, and its error if so.
func (l *lifeLock) taken() (bool, error) {
	select {
	case <-l.done:
		return true, l.err
	default:
		return false, nil
	}
}

// slowLocks are the lock files with a test in flight (bounded ones): a
// later test of one is not tried until it has returned, so that no more
// than one call per file waits in the kernel.
var slowLocks sync.Map // path → struct{}

// testLock tests the lock on fd, without taking it: held, or free. It
// closes fd. Unless bounded it is a plain call: on a local filesystem a
// lock test never waits, and a poll makes one per live dep. Bounded (NFS,
// where a server in its grace period makes the kernel retry it), a test
// that does not return within lockCallBound is errLockSlow; it goes on in
// the background, and closes fd when it returns.
func testLock(fd int, path string, bounded bool) (held bool, err error) {
	if !bounded {
		return getLock(fd)
	}
	// Marked before the call, unmarked by it: a call that returns just as
	// the bound runs out can never leave the file marked.
	if _, slow := slowLocks.LoadOrStore(path, struct{}{}); slow {
		unix.Close(fd)
		return false, errLockSlow
	}
	type result struct {
		held bool
		err  error
	}
	res := make(chan result, 1)
	go func() {
		held, err := getLock(fd)
		slowLocks.Delete(path)
		res <- result{held, err}
	}()
	t := time.NewTimer(lockCallBound)
	defer t.Stop()
	select {
	case r := <-res:
		return r.held, r.err
	case <-t.C:
		return false, errLockSlow
	}
}

// getLock tests the lock on fd (F_OFD_GETLK) and closes fd.
func getLock(fd int) (held bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	err = fcntlLock(fd, unix.F_OFD_GETLK, &lk)
	unix.Close(fd)
	return err == nil && lk.Type != unix.F_UNLCK, err
}
