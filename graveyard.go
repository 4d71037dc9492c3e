package main

// Reading the graveyard: the one place where siblings' files are opened and
// judged. The death watcher (watch.go), the shutdown hold (shutdown.go),
// --wait and --status each ask a graveyardReader; none opens a graveyard
// file itself. It holds the graveyard's file names, the one rule for a
// sibling's life (born, died, not started, lost, never born), the trust in
// its lock, and what the graveyard's filesystem allows: lock trust, listing
// before opens, an inotify wake-up (docs/filesystems.md has the evidence).

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The graveyard's files. A tombstone is named after its process (a
// container name); every other file of kubexit's starts with '.', which no
// container name does, so that neither the original kubexit nor --status
// takes one for a tombstone.
func lockFileName(name string) string { return "." + name + ".lock" }
func holdFileName(name string) string { return "." + name + ".hold" }
func tempPrefix(name string) string   { return "." + name + ".tmp-" } // then a number (isTempName)

// lockState is what a sibling's lock file says about the life its
// tombstone's Born began.
type lockState int

const (
	lockNone lockState = iota // no word: no lock file for this Born, or one this reader cannot trust
	lockHeld                  // its kubexit lives
	lockFree                  // its kubexit is gone
)

// graveyardReader reads one graveyard. It reuses its buffers between polls,
// so it serves one goroutine.
type graveyardReader struct {
	dir                   string
	buf, again, dirBuf    []byte
	lockBuf               []byte
	wants                 map[string]lockWant
	decided               bool // the fields below are set (decide)
	fsName                string
	fsType                int64
	locks, listing, hints bool
	// local is a filesystem of this kernel alone, where a lock call never
	// waits: lock tests there are not bounded (testLock).
	local bool
	// since is when the graveyard's generation began (generation.go;
	// zero: none), read once the graveyard exists (sinceRead).
	since     time.Time
	sinceRead bool
}

// lockWant is the first line a sibling's lock file holds for the life that
// began at born, and the file's path.
type lockWant struct {
	born time.Time
	line []byte
	path string
}

func newGraveyardReader(dir string) *graveyardReader {
	return &graveyardReader{
		dir:     dir,
		buf:     make([]byte, 0, 512),
		again:   make([]byte, 0, 512),
		lockBuf: make([]byte, 0, maxLockFileSize),
		dirBuf:  make([]byte, 8192),
		wants:   map[string]lockWant{},
	}
}

// decide looks, once the graveyard exists, at its filesystem: whether a
// free lock can mean a death there at all (a filesystem whose locks every
// mount of it shares, measured by hack/fs-test: local ones, where every
// container's mount is the one kernel's inode, and NFS, whose server keeps
// the locks; not FUSE, overlayfs or anything unknown), whether polls list
// the graveyard first, and whether an inotify watch sees every write.
func (g *graveyardReader) decide() bool {
	if g.decided {
		return true
	}
	var st unix.Statfs_t
	if err := unix.Statfs(g.dir, &st); err != nil {
		return false
	}
	g.decided, g.fsType = true, int64(st.Type)
	g.fsName = fsNames[g.fsType]
	if g.fsName == "" {
		g.fsName = fmt.Sprintf("filesystem type %#x", st.Type)
	}
	switch g.fsType {
	case unix.TMPFS_MAGIC, unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		// One kernel's directory cache serves every container's mount: an
		// open by name sees a new file at once, and so does inotify. (An
		// idle watcher of 10,000 files spent 2.4 % of a core listing.)
		g.locks, g.hints, g.local = true, true, true
	case unix.NFS_SUPER_MAGIC:
		g.locks, g.listing = true, true
	case unix.OVERLAYFS_SUPER_MAGIC:
		// The upper layer is local: no listing needed, but a lock on a
		// lower file is not seen through the merged one.
	default:
		g.listing = true
	}
	return true
}

var fsNames = map[int64]string{
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlayfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
}

// refresh prepares a look at the graveyard: it decides its filesystem once
// it exists and, where needed, lists it first (getdents into a reused
// buffer, the entries dropped): on NFS a listing revalidates the directory,
// so that the opens after it see a new tombstone in ~0.1 s, where a lookup
// by name alone is cached as "not found" for 30 s.
func (g *graveyardReader) refresh() error {
	if g.decided && !g.listing {
		return nil
	}
	fd, err := openRetry(g.dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: g.dir, Err: err}
	}
	defer syscall.Close(fd)
	g.decide()
	for {
		n, err := syscall.ReadDirent(fd, g.dirBuf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: g.dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
	}
}

// read reads name's tombstone into the reader's buffer: valid until the
// next read. It is opened even when a listing did not show it: sshfs caches
// a listing for 20 s, an open finds a new file at once. fs.ErrNotExist: no
// tombstone (yet, or no longer).
func (g *graveyardReader) read(name string) ([]byte, error) {
	data, err := readTombstoneFile(filepath.Join(g.dir, name), g.buf)
	g.buf = data[:0]
	return data, err
}

// lost tells whether a sibling whose tombstone t (its bytes: content) says
// it lives is in fact gone: its lock for that Born is free, the reader can
// trust that (lockState), and its tombstone, read again after that, is
// unchanged (kubexit writes Died before its exit frees the lock, so a death
// recorded at the last moment is seen with its status, at the next look).
// An error says why the lock could not be used; the answer is then no.
func (g *graveyardReader) lost(name string, t tombstone, content []byte) (bool, error) {
	if t.state() != stateBorn || t.Born == nil {
		return false, nil
	}
	state, err := g.lockState(name, *t.Born)
	if state != lockFree {
		return false, err
	}
	data, rerr := readTombstoneFile(filepath.Join(g.dir, name), g.again)
	g.again = data[:0]
	return rerr == nil && bytes.Equal(data, content), nil
}

// lockState reads name's lock file and tests its lock, without taking it.
// The file speaks only for the life that began at born, and only where the
// holder saw it as this reader does (lockView): the same filesystem type
// and device. Anything else is no word, with
// an error saying why when it is not simply a life starting (the caller
// says it once).
func (g *graveyardReader) lockState(name string, born time.Time) (lockState, error) {
	if !g.decide() || !g.locks {
		return lockNone, nil
	}
	line, path := g.want(name, born)
	fd, content, dev, err := openLockFile(path, g.lockBuf)
	if errors.Is(err, fs.ErrNotExist) {
		return lockNone, nil
	}
	if err != nil {
		return lockNone, err
	}
	rest, ok := bytes.CutPrefix(content, line)
	if !ok {
		unix.Close(fd)
		// Empty: a kubexit whose lock is not taken yet (it writes the
		// file once it holds it). A Born of another life: a restart under
		// way, or a leftover.
		if t, err := parseTombstone(content); len(content) == 0 || err == nil && t.Born != nil && t.Died == nil && len(content) < cap(g.lockBuf) {
			return lockNone, nil
		}
		return lockNone, fmt.Errorf("lock file %s does not hold a Born; ignored", path)
	}
	view, ok := parseLockView(rest)
	switch {
	case !ok:
		unix.Close(fd)
		return lockNone, fmt.Errorf("lock file %s does not say how its holder sees it (a kubexit before 2026-12); lost deaths are not judged by it", path)
	case view.fsType != g.fsType || view.dev != dev:
		unix.Close(fd)
		return lockNone, fmt.Errorf("its kubexit sees the lock file through another mount (%s, device %d:%d) than this one (%s, device %d:%d), so its lock may not be seen here (an overlay, FUSE or second NFS mount of this directory?)",
			fsLabel(view.fsType), unix.Major(view.dev), unix.Minor(view.dev), g.fsName, unix.Major(dev), unix.Minor(dev))
	}
	held, err := testLock(fd, path, !g.local)
	switch {
	case err != nil:
		return lockNone, fmt.Errorf("test lock of %s: %w", path, err)
	case held:
		return lockHeld, nil
	}
	return lockFree, nil
}

// want is the Born line of name's lock file for born, and its path, kept
// between polls.
func (g *graveyardReader) want(name string, born time.Time) (line []byte, path string) {
	w, ok := g.wants[name]
	if !ok || !w.born.Equal(born) {
		w = lockWant{born: born, line: tombstone{Born: &born}.marshal(), path: filepath.Join(g.dir, lockFileName(name))}
		g.wants[name] = w
	}
	return w.line, w.path
}

func fsLabel(fsType int64) string {
	if n, ok := fsNames[fsType]; ok {
		return n
	}
	return fmt.Sprintf("%#x", fsType)
}

// generation is when the graveyard's current generation began: the zero
// time when it has none. It is read once, when first asked after the
// graveyard exists: a generation opens only before any container that
// runs kubexit starts (generation.go). An unreadable marker is none, and
// the error says why (once).
func (g *graveyardReader) generation() (time.Time, error) {
	if g.sinceRead {
		return g.since, nil
	}
	t, err := readGeneration(g.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(g.dir); serr != nil {
			return time.Time{}, nil // no graveyard yet: asked again later
		}
		err = nil
	}
	g.since, g.sinceRead = t, true
	return t, err
}

// earlier tells whether t was written in an earlier generation of the
// graveyard, which is as if it were not there.
func (g *graveyardReader) earlier(t tombstone) bool {
	since, _ := g.generation()
	return earlierGeneration(t, since)
}

// judge reads name's tombstone and says what it tells, with its lock:
// born, died, not started, lost, unknown, or written in an earlier
// generation. fs.ErrNotExist: never born in this graveyard (a tombstone,
// once written, stays). Another error: not readable (now).
func (g *graveyardReader) judge(name string) (tombstone, string, error) {
	data, err := g.read(name)
	if err != nil {
		return tombstone{}, "", err
	}
	t, err := parseTombstone(data)
	if err != nil {
		return tombstone{}, "", err
	}
	if g.earlier(t) {
		return t, stateEarlier, nil
	}
	if lost, _ := g.lost(name, t, data); lost {
		return t, stateLost, nil
	}
	return t, t.state(), nil
}

// holder tells whether name's lock is held by a live process, and if so
// the Born its lock file holds ("" if none). A held lock means a live
// holder through any mount (a mount sees its own locks), whatever views;
// no lock file, one that is not a regular file, or a lock test that does
// not answer, is not held (taking the lock reports it).
func (g *graveyardReader) holder(name string) (held bool, born string) {
	path := filepath.Join(g.dir, lockFileName(name))
	fd, content, _, err := openLockFile(path, g.lockBuf)
	if err != nil {
		return false, ""
	}
	if held, err := testLock(fd, path, !g.decide() || !g.local); err != nil || !held {
		return false, ""
	}
	if t, err := parseTombstone(content); err == nil && t.Born != nil {
		return true, t.Born.UTC().Format(time.RFC3339Nano)
	}
	return true, ""
}

// neverBorn returns the names with no tombstone, or one of an earlier
// generation: never born in this graveyard, or in this run of the pod (a
// tombstone, once written, stays).
func (g *graveyardReader) neverBorn(names []string) []string {
	var missing []string
	for _, name := range names {
		_, err := os.Lstat(filepath.Join(g.dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, name)
			continue
		}
		if _, state, err := g.judge(name); err == nil && state == stateEarlier {
			missing = append(missing, name)
		}
	}
	return missing
}

// tombstoneNames lists the graveyard's tombstones: regular files (or links,
// read as the watcher reads them) whose name is a container name.
func (g *graveyardReader) tombstoneNames() ([]string, error) {
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if (e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0) && validateName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// heldSignal is a hold file's content: a stop signal that a sibling holds
// for KUBEXIT_SHUTDOWN_AFTER (shutdown.go).
type heldSignal struct {
	Signal string    `json:"signal"`
	Since  time.Time `json:"since"`
	After  []string  `json:"after"`
}

// content renders the hold file.
func (h heldSignal) content() []byte {
	return fmt.Appendf(nil, "Signal: %s\nSince: %q\nAfter: %s\n", h.Signal, h.Since.UTC().Format(time.RFC3339Nano), strings.Join(h.After, ","))
}

// hold reads name's hold file; nil if there is none.
func (g *graveyardReader) hold(name string) *heldSignal {
	data, err := readTombstoneFile(filepath.Join(g.dir, holdFileName(name)), g.again)
	g.again = data[:0]
	if err != nil {
		return nil
	}
	var h heldSignal
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "Signal":
			h.Signal = v
		case "Since":
			h.Since, _ = time.Parse(time.RFC3339Nano, strings.Trim(v, `"`))
		case "After":
			h.After, _ = splitList(v, validateName)
		}
	}
	if h.Signal == "" {
		return nil
	}
	if since, _ := g.generation(); h.Since.Before(since) {
		return nil // a killed kubexit's, in an earlier run of the pod
	}
	return &h
}

// wakeNames are the names whose changes wake a watcher of deps: each dep's
// tombstone and lock file, which are all a look reads. Not their temporary
// files: a tombstone is written as one and renamed, and the rename names
// the tombstone; a wake-up on the temporary file would find nothing new,
// and hold the one on the rename back by the wake-ups' floor (ticker.go).
func wakeNames(deps []string) []string {
	names := make([]string, 0, 2*len(deps))
	for _, d := range deps {
		names = append(names, d, lockFileName(d))
	}
	return names
}

// openLockFile opens the lock file at path for reading, as a regular file
// only, never following a link, and reads its content into buf. It returns
// the descriptor, open, for testLock, and the file's device.
func openLockFile(path string, buf []byte) (fd int, content []byte, dev uint64, err error) {
	fd, err = openRetry(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ELOOP:
		return -1, nil, 0, fmt.Errorf("lock file %s is a symbolic link; ignored", path)
	case err != nil:
		return -1, nil, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, 0, fmt.Errorf("stat lock file %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, nil, 0, fmt.Errorf("lock file %s is not a regular file; ignored", path)
	}
	n, err := preadFull(fd, buf[:cap(buf)], 0)
	if err != nil {
		unix.Close(fd)
		return -1, nil, 0, fmt.Errorf("read lock file %s: %w", path, err)
	}
	return fd, buf[:n], st.Dev, nil
}

// lockHolder is graveyardReader.holder for one look at dir.
func lockHolder(dir, name string) (held bool, born string) {
	return newGraveyardReader(dir).holder(name)
}
