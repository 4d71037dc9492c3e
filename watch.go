package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"
)

// deathWatcher finds out, by polling, when a death dep has died.
//
// It does not use inotify: the graveyard may be on NFS, FUSE (sshfs, bindfs,
// rclone) or another backend where inotify never fires. Nor does it trust
// stat: mtime and ctime miss rewrites within one timestamp tick (1 s on
// sshfs), a rename-replace may keep them, sshfs keeps inode numbers across
// renames, and NFS caches attributes for up to 60 s. So every poll lists the
// graveyard (on NFS a listing shows a new file in ~0.1 s where a lookup by name
// is cached as "not found" for 30 s) and then opens, refreshes the attributes
// of, and reads each dep's tombstone, listed or not (open revalidates on NFS;
// sshfs caches a listing for 20 s; FUSE cuts a read at a cached size).
// Content decides.
type deathWatcher struct {
	dir      string
	deps     []string
	interval time.Duration
	policy   deathPolicy
	log      *slog.Logger
	now      func() time.Time // time.Now, but for tests

	buf     []byte // tombstone content
	lockBuf []byte // lock file content
	dirBuf  []byte // directory entries, read and dropped
	state   map[string]*depState
	// dirErr is the last error listing the graveyard, logged when it changes.
	dirErr string
	// locks is whether a free lock file means a lost death (lock.go), decided
	// once the graveyard exists; locksDecided is set then.
	locks, locksDecided bool
}

// depState is what the watcher remembers of one dep between polls.
type depState struct {
	content []byte // last bytes read; unchanged bytes are not parsed again
	parsed  tombstone
	// unreadable is set while the content does not parse; it is logged once.
	unreadable bool
	// noted is set once a death that does not count (yet) has been logged.
	noted bool
	// diedAt is the Died time under KUBEXIT_DEATH_ON=final, and diedSeen
	// when this watcher first saw it; for a lost death, both are when it was
	// first seen.
	diedAt, diedSeen time.Time
	// lockWarned is set once a bad lock file has been logged.
	lockWarned bool
	// lockPath is the dep's lock file; lockWant what it holds for the life
	// that parsed began (lockContent), nil until needed.
	lockPath string
	lockWant []byte
}

// Values of KUBEXIT_DEATH_ON: which deaths of a death dep count.
const (
	deathOnAny     = "any"     // every Died (the original's behaviour)
	deathOnSuccess = "success" // only a Died with ExitCode 0
	deathOnFinal   = "final"   // a Died that stays, without a new Born, for the settle time
)

// deathPolicy is KUBEXIT_DEATH_ON and KUBEXIT_DEATH_SETTLE.
type deathPolicy struct {
	On     string
	Settle time.Duration
}

// death is a death dep's death, as its tombstone tells it. A lost death
// (its kubexit ended without recording one: its lock is free) has the
// tombstone's Born and ExitCode 137, as if killed: the real status is unknown.
type death struct {
	Dep       string
	Tombstone tombstone
	Lost      bool
}

// lostExitCode is the status reported for a lost death: killed (128+SIGKILL).
const lostExitCode = 128 + 9

// cause names the death for messages: "death dep main died", or how it was
// lost.
func (d death) cause() string {
	if d.Lost {
		return "death dep " + d.Dep + " died without a word (its kubexit ended without recording a death, as when killed)"
	}
	return "death dep " + d.Dep + " died"
}

// String describes the death for logs and messages.
func (d death) String() string {
	if d.Lost {
		return d.Tombstone.String() + " (lost: its kubexit ended without recording a death; status unknown)"
	}
	return d.Tombstone.String()
}

func newDeathWatcher(dir string, deps []string, interval time.Duration, policy deathPolicy, log *slog.Logger) *deathWatcher {
	w := &deathWatcher{
		dir:      dir,
		deps:     deps,
		interval: interval,
		policy:   policy,
		log:      log,
		now:      time.Now,
		buf:      make([]byte, 0, 512),
		lockBuf:  make([]byte, 0, maxLockFileSize),
		dirBuf:   make([]byte, 8192),
		state:    make(map[string]*depState, len(deps)),
	}
	for _, d := range deps {
		w.state[d] = &depState{lockPath: filepath.Join(dir, lockFileName(d))}
	}
	return w
}

// poll looks at the graveyard once and reports the first dep (in
// KUBEXIT_DEATH_DEPS order) whose tombstone says it died.
func (w *deathWatcher) poll() (death, bool) {
	if err := w.list(); err != nil {
		// A missing graveyard only means no dep has died yet.
		if !errors.Is(err, fs.ErrNotExist) && err.Error() != w.dirErr {
			w.log.Warn("cannot list graveyard; will retry", "graveyard", w.dir, "err", err)
		}
		w.dirErr = err.Error()
		return death{}, false
	}
	w.dirErr = ""
	if !w.locksDecided {
		w.decideLocks()
	}
	for _, dep := range w.deps {
		st := w.state[dep]
		// Every dep is opened, listed or not: sshfs caches a listing for
		// 20 s (cache_timeout) and would hide a new tombstone that long,
		// while an open finds it at once. ENOENT below means no tombstone
		// (yet, or no longer).
		data, err := readTombstoneFile(filepath.Join(w.dir, dep), w.buf)
		w.buf = data[:0]
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				*st = depState{lockPath: st.lockPath}
				continue
			}
			if !st.unreadable {
				w.log.Warn("cannot read tombstone; will retry", "dep", dep, "err", err)
			}
			st.unreadable, st.content = true, nil
			continue
		}
		if st.content == nil || !bytes.Equal(data, st.content) {
			st.content = append(st.content[:0], data...)
			t, err := parseTombstone(data)
			if err != nil {
				if !st.unreadable {
					w.log.Warn("tombstone not readable yet; will retry", "dep", dep, "err", err, "bytes", len(data))
				}
				st.unreadable = true
				continue
			}
			st.unreadable = false
			st.parsed, st.lockWant = t, nil
		}
		if st.unreadable {
			continue
		}
		if d, ok := w.judge(dep, st); ok {
			return d, true
		}
	}
	return death{}, false
}

// judge applies KUBEXIT_DEATH_ON to a dep's readable tombstone.
func (w *deathWatcher) judge(dep string, st *depState) (death, bool) {
	d := death{Dep: dep, Tombstone: st.parsed}
	if d.Tombstone.state() == stateBorn {
		if !w.isLost(dep, st) {
			// Alive, or born again: a restarted dep rewrites its tombstone
			// with a new Born, which undoes a death that did not count.
			if st.noted {
				w.log.Info("death dep is alive again", "dep", dep, "tombstone", d.Tombstone.String())
			}
			st.noted, st.diedAt, st.diedSeen = false, time.Time{}, time.Time{}
			return death{}, false
		}
		code := lostExitCode
		d.Lost, d.Tombstone.ExitCode = true, &code
	}
	switch w.policy.On {
	case deathOnSuccess:
		if !d.Lost && d.Tombstone.ExitCode != nil && *d.Tombstone.ExitCode == 0 {
			return d, true
		}
		w.noteOnce(st, "death dep died unsuccessfully, or with a status unknown, which does not count with KUBEXIT_DEATH_ON=success; waiting for it to be restarted", d)
		return death{}, false
	case deathOnFinal:
		if w.settled(st, d) {
			return d, true
		}
		w.noteOnce(st, "death dep died; it counts if it is not born again within KUBEXIT_DEATH_SETTLE", d, "settle", w.policy.Settle)
		return death{}, false
	}
	return d, true
}

// settled tells whether a death has stood for the settle time: measured
// from Died (all containers of a pod share the node's clock), or from when
// it was first seen if Died lies in the future or is unknown (lost).
func (w *deathWatcher) settled(st *depState, d death) bool {
	now := w.now()
	diedAt := now
	if !d.Lost {
		diedAt = *d.Tombstone.Died
	}
	if st.diedSeen.IsZero() || !d.Lost && !st.diedAt.Equal(diedAt) {
		st.diedAt, st.diedSeen = diedAt, now
	}
	since := st.diedAt
	if st.diedSeen.Before(since) {
		since = st.diedSeen
	}
	return now.Sub(since) >= w.policy.Settle
}

// noteOnce logs a death that does not count (yet), once.
func (w *deathWatcher) noteOnce(st *depState, msg string, d death, attrs ...any) {
	if st.noted {
		return
	}
	st.noted = true
	w.log.Info(msg, append([]any{"dep", d.Dep, "tombstone", d.String()}, attrs...)...)
}

// isLost tells whether a dep whose tombstone says it lives is in fact gone:
// its lock file for that Born is free, and its tombstone, read again after
// that, is unchanged (kubexit writes Died before its exit frees the lock, so
// a death recorded at the last moment is seen with its status, at the next
// poll).
func (w *deathWatcher) isLost(dep string, st *depState) bool {
	if !w.locks || st.parsed.Born == nil {
		return false
	}
	if st.lockWant == nil {
		st.lockWant = lockContent(*st.parsed.Born)
	}
	state, err := probeLock(st.lockPath, st.lockWant, w.lockBuf)
	if err != nil && !st.lockWarned {
		st.lockWarned = true
		w.log.Warn("cannot use a death dep's lock file; judging it by its tombstone alone", "dep", dep, "err", err)
	}
	if state != lockFree {
		return false
	}
	data, err := readTombstoneFile(filepath.Join(w.dir, dep), w.buf)
	w.buf = data[:0]
	return err == nil && bytes.Equal(data, st.content)
}

// decideLocks decides, once the graveyard exists, whether lost deaths can be
// told from locks on its filesystem.
func (w *deathWatcher) decideLocks() {
	trusted, fs := lockTrusted(w.dir)
	w.locks, w.locksDecided = trusted, true
	if trusted {
		w.log.Debug("lost deaths are detected by lock files", "graveyard", w.dir, "filesystem", fs)
	} else {
		w.log.Info("lost deaths (a dep's kubexit killed before it recorded Died) are not detected on this graveyard's filesystem: it does not share locks between mounts; deaths are judged by tombstones alone", "graveyard", w.dir, "filesystem", fs)
	}
}

// list reads the graveyard's directory entries (getdents: no stat, no sort)
// into a reused buffer and drops them. Only its side effect matters: on NFS
// a listing revalidates the directory, so that the opens after it see a new
// tombstone in ~0.1 s, where a lookup by name alone is cached as "not found"
// for 30 s.
func (w *deathWatcher) list() error {
	fd, err := openRetry(w.dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: w.dir, Err: err}
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.ReadDirent(fd, w.dirBuf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: w.dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
	}
}

// run polls every interval until a dep dies, then sends that death on died
// and returns; or until ctx is done.
func (w *deathWatcher) run(ctx context.Context, died chan<- death) {
	t := newPollTicker(ctx, w.interval, w.log)
	defer t.stop()
	for t.wait(ctx) {
		if d, ok := w.poll(); ok {
			select {
			case died <- d:
			case <-ctx.Done():
			}
			return
		}
	}
}
