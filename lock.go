package main

// Deaths that no tombstone records. A kubexit that is SIGKILLed (the
// kubelet at the end of the grace period, an OOM kill of its container's
// cgroup, a crash) writes no Died, and its siblings would wait forever. So
// each kubexit holds, for its whole life, a lock on a file of its own in the
// graveyard, .NAME.lock: the kernel releases it however the process ends.
// A watcher whose dep's tombstone says Born and no Died, and whose lock file
// is free, counts the dep as dead, its exit status unknown (137: killed).
//
// The lock file holds the Born it belongs to, in the tombstone's format;
// only a lock file whose Born is the tombstone's own speaks for the dep, so
// a leftover of an earlier life, or a foreign file, never does. Its name
// starts with '.', so it is no container name: the original kubexit, the
// watcher and --status never take it for a tombstone.
//
// The locks are open file description locks (fcntl F_OFD_SETLK): tied to
// the open file, not to the process, so nothing else in kubexit can drop
// them by closing another descriptor, and not inherited by the child
// (O_CLOEXEC). A lock proves nothing where two mounts of one volume do not
// share locks: lockTrusted names the filesystems where they were measured to
// (docs/filesystems.md).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockFileName is the lock file of name in the graveyard.
func lockFileName(name string) string { return "." + name + ".lock" }

// maxLockFileSize bounds what a watcher reads of a lock file.
const maxLockFileSize = 256

// holdLifeLock takes this kubexit's lock and writes born into the lock file.
// The supervisor never closes the descriptor it returns: the lock lasts
// until the process ends. It fails, and then siblings judge this process by its tombstone alone, when
// the file cannot be opened as a regular file (a link, a directory) or the
// lock is held by another process.
func holdLifeLock(dir, name string, born time.Time) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return -1, fmt.Errorf("create graveyard: %w", err)
	}
	path := filepath.Join(dir, lockFileName(name))
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
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		if err == unix.EAGAIN || err == unix.EACCES {
			err = errLockHeld
		}
		return fail("lock", err)
	}
	content := lockContent(born)
	if err := unix.Ftruncate(fd, 0); err != nil {
		return fail("truncate lock file", err)
	}
	if _, err := unix.Pwrite(fd, content, 0); err != nil {
		return fail("write lock file", err)
	}
	unix.Fsync(fd)
	return fd, nil
}

// errLockHeld is a life lock that another live process holds: a kubexit
// with the same KUBEXIT_NAME. The supervisor refuses to run under that name.
var errLockHeld = errors.New("held by another process (another container with the same KUBEXIT_NAME?)")

// lockHolder tells whether name's lock file in dir is held by a live
// process, and if so what it says of that process: the Born it holds, or ""
// if none. A held lock means a live holder on any filesystem (one mount sees
// its own locks); a free one proves nothing where locks are not shared
// between mounts (lockTrusted), so only a held lock is acted upon. No lock
// file, or one that cannot be opened as a regular file, is not held:
// holdLifeLock reports the latter when it fails.
func lockHolder(dir, name string) (held bool, born string) {
	path := filepath.Join(dir, lockFileName(name))
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, ""
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, ""
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk) != nil || lk.Type == unix.F_UNLCK {
		return false, ""
	}
	buf := make([]byte, maxLockFileSize)
	n, _ := unix.Pread(fd, buf, 0)
	if t, err := parseTombstone(buf[:max(n, 0)]); err == nil && t.Born != nil {
		return true, t.Born.UTC().Format(time.RFC3339Nano)
	}
	return true, ""
}

// lockState is what a dep's lock file says about the life its tombstone's
// Born began.
type lockState int

const (
	lockNone lockState = iota // no lock file for this Born (the original kubexit, an older life): no word
	lockHeld                  // its kubexit lives
	lockFree                  // its kubexit is gone
)

// probeLock reads the lock file at path and tests its lock, without taking
// it. The file speaks only if it holds want, the marshalled Born of the
// tombstone being judged (lockContent). A lock file that is not a regular
// file, or does not hold a Born, is an error (the caller warns once);
// either way it speaks for nothing.
func probeLock(path string, want, buf []byte) (lockState, error) {
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT:
		return lockNone, nil
	case err == unix.ELOOP:
		return lockNone, fmt.Errorf("lock file %s is a symbolic link; ignored", path)
	case err != nil:
		return lockNone, fmt.Errorf("open lock file %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return lockNone, fmt.Errorf("stat lock file %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return lockNone, fmt.Errorf("lock file %s is not a regular file; ignored", path)
	}
	n, err := unix.Pread(fd, buf[:cap(buf)], 0)
	if err != nil {
		return lockNone, fmt.Errorf("read lock file %s: %w", path, err)
	}
	if got := buf[:n]; !bytes.Equal(got, want) {
		// Empty: a kubexit that is starting is writing it. A Born of
		// another life: a restart under way, or a leftover.
		if t, err := parseTombstone(got); n == 0 || err == nil && t.Born != nil && t.Died == nil && n < cap(buf) {
			return lockNone, nil
		}
		return lockNone, fmt.Errorf("lock file %s does not hold a Born; ignored", path)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return lockNone, fmt.Errorf("test lock of %s: %w", path, err)
	}
	if lk.Type == unix.F_UNLCK {
		return lockFree, nil
	}
	return lockHeld, nil
}

// lockContent is what the lock file of the life that began at born holds.
func lockContent(born time.Time) []byte { return tombstone{Born: &born}.marshal() }

// lockTrusted tells whether locks taken through one mount of the
// filesystem at dir are seen through every other (measured with
// hack/fs-test, docs/filesystems.md): local filesystems, where every
// container's mount is the one kernel's inode, and NFS, whose locks the
// server keeps. Not FUSE (bindfs and sshfs keep locks per mount) nor
// overlayfs (a lock on the lower file is not seen through the merged one),
// nor anything unknown: there a free lock could be a live sibling.
func lockTrusted(dir string) (bool, string) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return false, "statfs: " + err.Error()
	}
	name, ok := trustedLockFS[int64(fs.Type)]
	if !ok {
		return false, fmt.Sprintf("filesystem type %#x", fs.Type)
	}
	return true, name
}

var trustedLockFS = map[int64]string{
	unix.TMPFS_MAGIC:       "tmpfs",
	unix.EXT4_SUPER_MAGIC:  "ext4",
	unix.XFS_SUPER_MAGIC:   "xfs",
	unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.NFS_SUPER_MAGIC:   "nfs",
}

// lifeState is the state of name's tombstone t, as the watcher judges it:
// t.state(), or lost when t says born but the lock file of that Born is free
// (and locks can be trusted in dir).
func lifeState(dir, name string, t tombstone, locks bool, buf []byte) string {
	st := t.state()
	if st != stateBorn || !locks || t.Born == nil {
		return st
	}
	if l, _ := probeLock(filepath.Join(dir, lockFileName(name)), lockContent(*t.Born), buf); l == lockFree {
		return stateLost
	}
	return st
}
