package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	// quorum is KUBEXIT_DEATH_QUORUM: how many deps' deaths must count at
	// once for the watcher to report them; 0 means all of them. 1 unless set.
	quorum int
	log    *slog.Logger
	now    func() time.Time // time.Now, but for tests

	buf     []byte // tombstone content
	lockBuf []byte // lock file content
	dirBuf  []byte // directory entries, read and dropped
	state   map[string]*depState
	dead    []death // this poll's dead set (quorum above 1), reused
	// dirErr is the last error listing the graveyard, logged when it changes.
	dirErr string
	// watched is the safety poll's interval where an inotify watch wakes
	// the poller (pace; 0: never watched), hinted set once that was tried;
	// rewatch is set once a watch was lost, and tried is the directory
	// (dev, ino) that a watch was last tried on since.
	watched time.Duration
	hinted  bool
	rewatch bool
	tried   fileID
	// locks is whether a free lock file means a lost death (lock.go), and
	// listing whether each poll lists the graveyard first (needsListing),
	// both decided once the graveyard exists; decided is set then.
	locks, listing, decided bool
}

// depState is what the watcher remembers of one dep between polls.
type depState struct {
	content []byte // last bytes read; unchanged bytes are not parsed again
	parsed  tombstone
	// unreadable is set while the content does not parse; it is logged once.
	unreadable bool
	// emptySeen is set while an empty tombstone has been seen once, not
	// yet warned about.
	emptySeen bool
	// noted is set once a death that does not count (yet) has been logged.
	noted bool
	// diedAt is the Died time under KUBEXIT_DEATH_ON=final, and diedSeen
	// when this watcher first saw it; for a lost death, both are when it was
	// first seen.
	diedAt, diedSeen time.Time
	// lockWarned is set once a bad lock file has been logged.
	lockWarned bool
	// counted is set while the dep's death counts towards a quorum above 1
	// (as of the last poll); dead is this poll's judgement; last is the
	// death that counted, kept while the tombstone is unreadable (midway
	// through a rewrite in place, as the original writes).
	counted, dead bool
	last          death
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

// deathSet is the death deps' deaths that made up KUBEXIT_DEATH_QUORUM, in
// KUBEXIT_DEATH_DEPS order: with a quorum of 1 (the default), the first dep
// found dead; with more, every dep whose death counted when the quorum was
// met. One death is told exactly as before quorums existed.
type deathSet struct {
	List   []death
	Quorum int // KUBEXIT_DEATH_QUORUM; 0 means all
	Deps   int // how many death deps there are
}

// single tells a lone death (a quorum of 1) from a quorum of more.
func (ds deathSet) single() bool { return len(ds.List) == 1 }

// names lists the deps, the lost ones marked: "a, b (lost)".
func (ds deathSet) names() string {
	var b strings.Builder
	for i, d := range ds.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Dep)
		if d.Lost {
			b.WriteString(" (lost)")
		}
	}
	return b.String()
}

// describe says that the deps died, how ("died", "already dead"): "death
// dep main already dead", or for a quorum of more than one "death deps a,
// b already dead (KUBEXIT_DEATH_QUORUM=2 of 3)", lost ones marked.
func (ds deathSet) describe(how string) string {
	if ds.single() {
		return "death dep " + ds.List[0].Dep + " " + how
	}
	q := quorumText(ds.Quorum, ds.Deps)
	for _, d := range ds.List {
		if d.Lost {
			q += "; lost: its kubexit ended without recording a death, as when killed"
			break
		}
	}
	return "death deps " + ds.names() + " " + how + " (" + q + ")"
}

// cause names the deaths for messages: death.cause() for one, else every
// dep of the quorum.
func (ds deathSet) cause() string {
	if ds.single() {
		return ds.List[0].cause()
	}
	return ds.describe("died")
}

// headline is the start of a log message about the deaths: "death dep
// died" for one (the dep is an attribute), else the deps named.
func (ds deathSet) headline() string {
	if ds.single() {
		return "death dep died"
	}
	return ds.describe("died")
}

// String describes the deaths' tombstones for logs: death.String() for
// one, else "a: ...; b: ...".
func (ds deathSet) String() string {
	if ds.single() {
		return ds.List[0].String()
	}
	var b strings.Builder
	for i, d := range ds.List {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Dep + ": " + d.String())
	}
	return b.String()
}

// logAttrs are the log attributes of the deaths: dep and tombstone for
// one; deps, quorum and tombstones for more.
func (ds deathSet) logAttrs() []any {
	if ds.single() {
		return []any{"dep", ds.List[0].Dep, "tombstone", ds.String()}
	}
	deps := make([]string, len(ds.List))
	for i, d := range ds.List {
		deps[i] = d.Dep
	}
	return []any{"deps", strings.Join(deps, ","), "quorum", quorumValue(ds.Quorum, ds.Deps), "tombstones", ds.String()}
}

// quorumValue is a quorum as logs show it: "2 of 3", or "all".
func quorumValue(quorum, deps int) string {
	if quorum <= 0 {
		return "all"
	}
	return fmt.Sprintf("%d of %d", quorum, deps)
}

// quorumText is a quorum as messages show it: "KUBEXIT_DEATH_QUORUM=2 of
// 3", or "KUBEXIT_DEATH_QUORUM=all".
func quorumText(quorum, deps int) string {
	return "KUBEXIT_DEATH_QUORUM=" + quorumValue(quorum, deps)
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
		quorum:   1,
		state:    make(map[string]*depState, len(deps)),
	}
	for _, d := range deps {
		w.state[d] = &depState{lockPath: filepath.Join(dir, lockFileName(d))}
	}
	return w
}

// needed is how many deaths make the quorum.
func (w *deathWatcher) needed() int {
	if w.quorum <= 0 || w.quorum > len(w.deps) {
		return len(w.deps)
	}
	return w.quorum
}

// poll looks at the graveyard once and reports the deaths that make up
// the quorum, if they do: with a quorum of 1, the first dep (in
// KUBEXIT_DEATH_DEPS order) whose death counts; with more, every dep whose
// death counts now, once there are enough of them.
func (w *deathWatcher) poll() (deathSet, bool) {
	if !w.decided || w.listing {
		if err := w.list(); err != nil {
			// A missing graveyard only means no dep has died yet.
			if !errors.Is(err, fs.ErrNotExist) && err.Error() != w.dirErr {
				w.log.Warn("cannot list graveyard; will retry", "graveyard", w.dir, "err", err)
			}
			w.dirErr = err.Error()
			return deathSet{}, false
		}
		w.dirErr = ""
	}
	if !w.decided {
		w.decideFS()
	}
	needed := w.needed()
	w.dead = w.dead[:0]
	changed := false
	for _, dep := range w.deps {
		st := w.state[dep]
		d, ok := w.look(dep, st)
		if ok && needed == 1 {
			return deathSet{List: []death{d}, Quorum: w.quorum, Deps: len(w.deps)}, true
		}
		if ok {
			w.dead = append(w.dead, d)
		}
		st.dead = ok
		changed = changed || ok != st.counted
	}
	if len(w.dead) >= needed {
		return deathSet{List: slices.Clone(w.dead), Quorum: w.quorum, Deps: len(w.deps)}, true
	}
	if changed {
		w.logProgress(needed)
	}
	return deathSet{}, false
}

// look reads a dep's tombstone and judges it: whether its death counts.
func (w *deathWatcher) look(dep string, st *depState) (death, bool) {
	// Every dep is opened, listed or not: sshfs caches a listing for
	// 20 s (cache_timeout) and would hide a new tombstone that long,
	// while an open finds it at once. ENOENT below means no tombstone
	// (yet, or no longer).
	data, err := readTombstoneFile(filepath.Join(w.dir, dep), w.buf)
	w.buf = data[:0]
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			*st = depState{lockPath: st.lockPath, counted: st.counted}
			return death{}, false
		}
		if !st.unreadable {
			w.log.Warn("cannot read tombstone; will retry", "dep", dep, "err", err)
		}
		st.unreadable, st.content = true, nil
		return st.last, st.counted
	}
	if st.content == nil || !bytes.Equal(data, st.content) {
		st.content = append(st.content[:0], data...)
		t, err := parseTombstone(data)
		if err != nil {
			// An empty tombstone is, at first, a rewrite in place caught
			// between truncate and write (the original writes so, and the
			// inotify wake-up comes right then): warned about only if a
			// later poll still finds it so.
			switch {
			case len(bytes.TrimSpace(data)) == 0 && !st.unreadable:
				w.log.Debug("tombstone empty; will retry", "dep", dep)
				st.emptySeen = true
			case !st.unreadable:
				w.log.Warn("tombstone not readable yet; will retry", "dep", dep, "err", err, "bytes", len(data))
			}
			st.unreadable = true
			return st.last, st.counted
		}
		st.unreadable, st.emptySeen = false, false
		st.parsed, st.lockWant = t, nil
	}
	if st.unreadable {
		if st.emptySeen {
			w.log.Warn("tombstone not readable yet; will retry", "dep", dep, "err", "empty", "bytes", 0)
			st.emptySeen = false
		}
		return st.last, st.counted
	}
	d, ok := w.judge(dep, st)
	st.last = d
	return d, ok
}

// logProgress logs, for a quorum above 1 that is not met, each dep whose
// death began or stopped counting at this poll, with the count so far.
func (w *deathWatcher) logProgress(needed int) {
	var waiting []string
	for _, dep := range w.deps {
		if !w.state[dep].dead {
			waiting = append(waiting, dep)
		}
	}
	progress := fmt.Sprintf("%d of %d deaths needed (%s)", len(w.dead), needed, quorumText(w.quorum, len(w.deps)))
	wait := "waiting for " + strings.Join(waiting, ", ")
	if more := needed - len(w.dead); more < len(waiting) {
		wait = fmt.Sprintf("waiting for %d more of %s", more, strings.Join(waiting, ", "))
	}
	if len(waiting) > 20 {
		wait = fmt.Sprintf("waiting for %d more of %d deps", needed-len(w.dead), len(waiting))
	}
	i := 0 // w.dead is in w.deps order
	for _, dep := range w.deps {
		st := w.state[dep]
		var d death
		if st.dead {
			d, i = w.dead[i], i+1
		}
		if st.dead == st.counted {
			continue
		}
		st.counted = st.dead
		if st.dead {
			w.log.Info(fmt.Sprintf("death dep %s died; %s; %s", dep, progress, wait), "dep", dep, "tombstone", d.String())
			continue
		}
		why, attrs := "no longer says it died", []any{"dep", dep, "tombstone", st.parsed.String()}
		switch {
		case st.content == nil:
			why, attrs = "has no tombstone any more", attrs[:2]
		case st.parsed.state() == stateBorn:
			why = "was born again"
		}
		w.log.Info(fmt.Sprintf("death dep %s %s: its death no longer counts; %s", dep, why, progress), attrs...)
	}
}

// judge applies KUBEXIT_DEATH_ON to a dep's readable tombstone.
func (w *deathWatcher) judge(dep string, st *depState) (death, bool) {
	d := death{Dep: dep, Tombstone: st.parsed}
	switch d.Tombstone.state() {
	case stateUnknown:
		return death{}, false // no Died: not dead, as for the original
	case stateBorn:
		if !w.isLost(dep, st) {
			// Alive, or born again: a restarted dep rewrites its tombstone
			// with a new Born, which undoes a death that did not count.
			// (A dep whose death counted towards a quorum is logged by
			// logProgress instead.)
			if st.noted && !st.counted {
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

// decideFS decides, once the graveyard exists, whether lost deaths can be
// told from locks on its filesystem, and whether polls list it.
func (w *deathWatcher) decideFS() {
	trusted, fs := lockTrusted(w.dir)
	w.locks, w.listing, w.decided = trusted, needsListing(w.dir), true
	w.log.Debug("graveyard filesystem", "graveyard", w.dir, "filesystem", fs, "listing", w.listing)
	if trusted {
		w.log.Debug("lost deaths are detected by lock files", "graveyard", w.dir, "filesystem", fs)
	} else {
		w.log.Info("lost deaths (a dep's kubexit killed before it recorded Died) are not detected on this graveyard's filesystem: it does not share locks between mounts; deaths are judged by tombstones alone", "graveyard", w.dir, "filesystem", fs)
	}
}

// needsListing tells whether polls must list the graveyard before opening
// the deps' tombstones: everywhere but on the local filesystems where one
// kernel's directory cache serves every container's mount, and an open by
// name sees a new file at once. There a listing only costs: an idle
// watcher of a graveyard of 10,000 files spent 2.4 % of a core on it.
func needsListing(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return true
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC, unix.OVERLAYFS_SUPER_MAGIC:
		return false
	}
	return true
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

// run polls every interval until the deps' deaths make the quorum, then
// sends them on died and returns; or until ctx is done.
func (w *deathWatcher) run(ctx context.Context, died chan<- deathSet) {
	t := w.pace(ctx, newPollTicker(ctx, w.interval, w.log))
	defer func() { t.stop() }()
	for t.wait(ctx) {
		if d, ok := w.poll(); ok {
			select {
			case died <- d:
			case <-ctx.Done():
			}
			return
		}
		t = w.pace(ctx, t)
	}
}

// pace is the ticker for the next wait: once the graveyard exists, on a
// filesystem where the kernel sees every write (hintTrusted), an inotify
// wake-up with a safety poll every w.watched; where that cannot be had,
// polls every w.interval as before. A watch lost later (the graveyard
// moved, removed, unmounted, or the path leading elsewhere) falls back to
// polls every w.interval, and each later pace tries to watch the path again
// if it leads to a directory not tried yet.
func (w *deathWatcher) pace(ctx context.Context, t pollTicker) pollTicker {
	if h, ok := t.(*hintTicker); ok {
		if !h.lost {
			return t
		}
		w.log.Debug("graveyard watch lost (moved, removed, unmounted or replaced); polling every KUBEXIT_POLL_INTERVAL until it can be watched again", "graveyard", w.dir)
		t.stop()
		w.rewatch, w.tried = true, fileID{}
		t = newPollTicker(ctx, w.interval, w.log)
	}
	if w.watched == 0 || !w.decided || w.hinted && !w.rewatch {
		return t
	}
	w.hinted = true
	if w.rewatch {
		// One stat a poll while the watch is lost: a new directory at the
		// path is tried once, not at every poll.
		id, err := statID(w.dir)
		if err != nil || id == w.tried {
			return t
		}
		w.tried = id
	}
	return w.watch(ctx, t)
}

// watch returns an inotify wake-up on the graveyard in place of t, or t
// where it cannot be had.
func (w *deathWatcher) watch(ctx context.Context, t pollTicker) pollTicker {
	if !hintTrusted(w.dir) {
		return t
	}
	h, err := newHintTicker(ctx, w.dir, w.watched, w.wakeNames()...)
	if err != nil {
		w.log.Debug("no inotify watch on the graveyard; polling every KUBEXIT_POLL_INTERVAL", "graveyard", w.dir, "err", err)
		return t
	}
	w.log.Debug("graveyard watched with inotify: polls on each change, and every KUBEXIT_WATCHED_POLL_INTERVAL", "graveyard", w.dir, "interval", w.watched)
	t.stop()
	return h
}

// wakeNames are the names in the graveyard whose changes wake the poller:
// each dep's tombstone and lock file, which are all a poll reads. Not
// their temporary files: a tombstone is written as one and renamed, and the
// rename names the tombstone; a wake-up on the temporary file would find
// nothing new, and hold the one on the rename back by hintFloor.
func (w *deathWatcher) wakeNames() []string {
	names := make([]string, 0, 2*len(w.deps))
	for _, d := range w.deps {
		names = append(names, d, lockFileName(d))
	}
	return names
}
