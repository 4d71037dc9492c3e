package main

// Setting up the graveyard at start-up: whether this user can create
// tombstones in it, and removing the temporary files a killed kubexit left.

import (
	"fmt"
	"os"
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
