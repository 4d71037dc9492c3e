package main

// Writing the graveyard: setting it up at start-up (whether this user can
// create tombstones in it, removing the temporary files a killed kubexit
// left), and writing this process's tombstone and hold file atomically or,
// on a full filesystem, in place. Reading siblings' files is graveyard.go's.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// graveyardFix is what to do about a graveyard kubexit cannot use, for
// the start-up error and for --check.
const graveyardFix = "mount a shared volume there (an emptyDir) writable by this container's user, or set KUBEXIT_GRAVEYARD"

// graveyardUsable creates a missing graveyard (0755, as a tombstone write
// would) and tells whether this user may create files in it. It creates no
// file: access(2) asks the kernel (mode bits, ACLs, a read-only mount; on
// NFS, the server), so siblings' watches see nothing and a restart on a full
// filesystem, which can still rewrite its tombstone in place, is not refused.
// access(2) judges by the real user, which is kubexit's effective one: it is
// never installed setuid.
func graveyardUsable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("cannot create files in %s: %w", dir, err)
	}
	return nil
}

// isTempName tells whether entry is one of name's temporary files: its
// prefix, then what os.CreateTemp puts for the '*', a decimal number.
func isTempName(entry, name string) bool {
	rest, ok := strings.CutPrefix(entry, tempPrefix(name))
	if !ok || rest == "" || len(rest) > 20 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// removeStaleTemps deletes temporary files that an earlier kubexit of the
// same name left when it was killed between create and rename: regular
// files of dir whose name is name's temporary file name (isTempName). The
// directory is read with getdents and every name is resolved relative to
// it, so that nothing in the graveyard's path is taken as a pattern, and
// unlinkat removes a link itself, never what it points to.
func removeStaleTemps(dir, name string) {
	fd, err := openRetry(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var stale, names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, e := range names {
			if isTempName(e, name) {
				stale = append(stale, e)
			}
		}
	}
	// Unlinked only once the listing is done: removing entries while
	// reading a directory may make some filesystems skip others.
	for _, e := range stale {
		var st unix.Stat_t
		if unix.Fstatat(fd, e, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			unix.Unlinkat(fd, e, 0)
		}
	}
}

// writeTombstone writes t to <dir>/<name>, creating a missing graveyard
// (0755). It replaces the file atomically when it can (replaceTombstone: a
// reader sees the old content or the new, never a part). When that fails —
// a full filesystem or an exhausted quota has no block or inode for the
// temporary file, a directory that this user cannot create files in, a
// filesystem that refuses to rename over a file — it rewrites the existing
// tombstone in place (rewriteTombstone), which needs no new block: a death
// must be recorded whenever any write can succeed. Any failure of the
// atomic path gets the fallback, not only ENOSPC and EDQUOT: whatever the
// cause, the alternative is a death never recorded, and the fallback
// touches only an existing regular file of that name. When both fail, the
// error wraps both.
func writeTombstone(dir, name string, t tombstone) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create graveyard: %w", err)
	}
	content := t.marshal()
	path := filepath.Join(dir, name)
	err := replaceTombstone(dir, name, content)
	if err == nil {
		return nil
	}
	if ierr := rewriteTombstone(path, content); ierr != nil {
		return fmt.Errorf("write tombstone %s: %w; rewriting it in place failed too: %w", path, err, ierr)
	}
	return nil
}

// replaceTombstone writes content to a temporary file in dir, fsyncs it,
// gives it mode 0644 and renames it over <dir>/<name>. On failure the
// temporary file is removed, and the tombstone is unchanged.
func replaceTombstone(dir, name string, content []byte) error {
	return replaceFile(dir, name, name, 0o644, content)
}

// replaceFile replaces <dir>/<file> with content, as replaceTombstone
// describes (with mode), through a temporary file named after NAME: never
// written through, whatever is at the path (a link is replaced, not
// followed), and never seen half written.
func replaceFile(dir, file, name string, mode os.FileMode, content []byte) (err error) {
	// The leading dot keeps temporary files out of the name space of
	// tombstones: a container name never starts with '.'.
	tmp, err := os.CreateTemp(dir, tempPrefix(name)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, file)); err != nil {
		return err
	}
	// Make the rename itself durable where the filesystem allows it; some
	// (FUSE, NFS) refuse fsync on a directory, which costs nothing here.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// rewriteTombstone rewrites the tombstone at path in place, without a new
// block or inode: the file must exist, be a regular file (a symbolic link is
// not followed) and have no other hard link. It keeps the file's mode.
//
// A reader may read between the writes, so each step leaves content that
// either parses as the old tombstone or the new, or does not parse at all,
// which a reader takes as "not readable yet" and reads again at its next
// poll (parseTombstone):
//
//   - The usual case, Died and ExitCode added to a Born, only appends: the
//     old content is a prefix of the new, and one write adds the rest. A
//     local filesystem (and an NFS server's) extends the file's size only
//     once the bytes are in, so a reader sees the old size or the new.
//   - Otherwise (a Born over a Died, a damaged file), the first byte is
//     made a NUL, which no content parses with; then the rest is written and
//     the file cut to length; then the first byte is set. Each step is
//     fsynced before the next, so that a reader through another client
//     (NFS) sees them in this order too.
func rewriteTombstone(path string, content []byte) error {
	fd, err := openRetry(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	fail := func(op string, err error) error { return &fs.PathError{Op: op, Path: path, Err: err} }
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail("rewrite", notRegularFile(st.Mode))
	}
	if st.Nlink > 1 {
		// Writing would change the other names' file too; a rename
		// would not.
		return fail("rewrite", fmt.Errorf("has %d hard links", st.Nlink))
	}
	if st.Size <= int64(len(content)) {
		old := make([]byte, st.Size)
		if n, err := preadFull(fd, old, 0); err != nil {
			return fail("read", err)
		} else if n == len(old) && bytes.HasPrefix(content, old) {
			if err := pwriteFull(fd, content[n:], int64(n)); err != nil {
				return fail("write", err)
			}
			return fsyncRetry(fd, path)
		}
	}
	if err := pwriteFull(fd, []byte{0}, 0); err != nil {
		return fail("write", err)
	}
	if err := fsyncRetry(fd, path); err != nil {
		return err
	}
	if err := pwriteFull(fd, content[1:], 1); err != nil {
		return fail("write", err)
	}
	if err := ftruncateRetry(fd, int64(len(content))); err != nil {
		return fail("truncate", err)
	}
	if err := fsyncRetry(fd, path); err != nil {
		return err
	}
	if err := pwriteFull(fd, content[:1], 0); err != nil {
		return fail("write", err)
	}
	return fsyncRetry(fd, path)
}
