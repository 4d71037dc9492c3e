package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
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
	// quorum is KUBEXIT_DEATH_QUORUM: how many deps' deaths must count at
	// once for the watcher to report them; 0 means all of them. 1 unless set.
	quorum int
	log    *slog.Logger
	now    func() time.Time // time.Now, but for tests

	g     *graveyardReader
	state map[string]*depState
	dead  []death // this poll's dead set (quorum above 1), reused
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
	// decided is set once the graveyard's filesystem was looked at and
	// what it allows logged (decideFS).
	decided bool
	// restarts tells which deaths the kubelet undoes (restart.go); nil:
	// none known. pendingSpec is set by a poll that found a death it could
	// not judge yet: the pod's spec is still being read.
	restarts    *restartKnowledge
	pendingSpec bool
	restartWait time.Duration // restartWaitBound, but for tests
	started     time.Time     // when this kubexit started watching
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
	// lockWarned is set once a lock file that cannot be used has been
	// logged.
	lockWarned bool
	// earlierNoted is set once a tombstone of an earlier run was logged;
	// restartSeen is when a death that the kubelet undoes was first seen
	// (restartNoted: logged), restartExpired once it was awaited too long.
	// seenAlive is set once the dep was judged alive (restarting).
	earlierNoted, seenAlive      bool
	restartSeen                  time.Time
	restartNoted, restartExpired bool
	// counted is set while the dep's death counts towards a quorum above 1
	// (as of the last poll); dead is this poll's judgement; last is the
	// death that counted, kept while the tombstone is unreadable (midway
	// through a rewrite in place, as the original writes).
	counted, dead bool
	last          death
}

func newDeathWatcher(dir string, deps []string, interval time.Duration, policy deathPolicy, log *slog.Logger) *deathWatcher {
	w := &deathWatcher{
		dir:         dir,
		deps:        deps,
		interval:    interval,
		policy:      policy,
		log:         log,
		now:         time.Now,
		g:           newGraveyardReader(dir),
		quorum:      1,
		state:       make(map[string]*depState, len(deps)),
		restartWait: restartWaitBound,
		started:     time.Now(),
	}
	for _, d := range deps {
		w.state[d] = &depState{}
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
	if err := w.g.refresh(); err != nil {
		// A missing graveyard only means no dep has died yet.
		if !errors.Is(err, fs.ErrNotExist) && err.Error() != w.dirErr {
			w.log.Warn("cannot list graveyard; will retry", "graveyard", w.dir, "err", err)
		}
		w.dirErr = err.Error()
		return deathSet{}, false
	}
	w.dirErr = ""
	if !w.decided {
		w.decideFS()
	}
	needed := w.needed()
	w.dead = w.dead[:0]
	w.pendingSpec = false
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
	data, err := w.g.read(dep)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			*st = depState{counted: st.counted, seenAlive: st.seenAlive}
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
		st.parsed = t
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

// judge applies KUBEXIT_DEATH_ON to a dep's readable tombstone, of this
// run of the pod, whose death the kubelet does not undo.
func (w *deathWatcher) judge(dep string, st *depState) (death, bool) {
	d := death{Dep: dep, Tombstone: st.parsed}
	if w.g.earlier(d.Tombstone) {
		if !st.earlierNoted {
			st.earlierNoted = true
			w.log.Info("death dep's tombstone is of an earlier run of the pod (before the graveyard's generation began); waiting for its Born in this run", "dep", dep, "tombstone", d.Tombstone.String())
		}
		return death{}, false
	}
	switch d.Tombstone.state() {
	case stateUnknown:
		return death{}, false // no Died: not dead, as for the original
	case stateBorn:
		if !w.isLost(dep, st) {
			// Alive, or born again: a restarted dep rewrites its tombstone
			// with a new Born, which undoes a death that did not count.
			// (A dep whose death counted towards a quorum is logged by
			// logProgress instead.)
			if (st.noted || st.restartNoted) && !st.counted {
				w.log.Info("death dep is alive again", "dep", dep, "tombstone", d.Tombstone.String())
			}
			st.noted, st.diedAt, st.diedSeen = false, time.Time{}, time.Time{}
			st.restartSeen, st.restartNoted, st.restartExpired = time.Time{}, false, false
			st.seenAlive = true
			return death{}, false
		}
		code := lostExitCode
		d.Lost, d.Tombstone.ExitCode = true, &code
	}
	if w.restarting(st, d) {
		return death{}, false
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

// restarting tells whether d is a death that the kubelet undoes: its
// container's exit code (137 if lost) is one that the dep's
// container restarts on. Its next Born is awaited, for restartWaitBound at
// most; then the death counts after all. While the pod's spec is still being
// read, no death is judged yet (pendingSpec).
func (w *deathWatcher) restarting(st *depState, d death) bool {
	code := d.Tombstone.containerExitCode()
	if w.restarts == nil || code == nil {
		return false
	}
	restarts, why, known := w.restarts.undoes(d.Dep, *code)
	if !known {
		w.pendingSpec = true
		return true
	}
	if !restarts && w.killedByRestartAll(st, d) {
		restarts, why = true, "the pod's status shows its container killed by a restart of all containers (RestartingAllContainers) and restarted: this death is of the earlier run; the graveyard has no generation to tell (kubexit --install)"
	}
	if !restarts {
		return false
	}
	now := w.now()
	if st.restartSeen.IsZero() {
		st.restartSeen = now
	}
	if now.Sub(st.restartSeen) < w.restartWait {
		if !st.restartNoted {
			st.restartNoted = true
			w.log.Info("death dep died, and the kubelet restarts its container ("+why+"): its death does not count; waiting for its next Born", "dep", d.Dep, "tombstone", d.String(), "wait", w.restartWait)
		}
		return true
	}
	if !st.restartExpired {
		st.restartExpired = true
		w.log.Warn("death dep was not born again within the wait for its restart; its death counts", "dep", d.Dep, "tombstone", d.String(), "why", why, "waited", w.restartWait)
	}
	return false
}

// killedByRestartAll tells whether d is a death of the run before a
// restart of all the pod's containers, told by the API where the graveyard
// has no generation: the pod's status (read at start-up) shows the dep's
// container killed by such a restart and running (or waiting to) since,
// this watcher never saw the dep alive, and the death (its Born, if lost)
// is from before this watcher started. Such a restart kills every kubexit,
// this one's last run too; it may give them a moment to record a Died.
func (w *deathWatcher) killedByRestartAll(st *depState, d death) bool {
	when := d.Tombstone.Died
	if d.Lost {
		when = d.Tombstone.Born
	}
	if st.seenAlive || when == nil || !when.Before(w.started) || !w.restarts.restartedAll(d.Dep) {
		return false
	}
	since, err := w.g.generation()
	return since.IsZero() && err == nil
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

// isLost tells whether a dep whose tombstone says it lives is in fact gone
// (graveyardReader.lost); a lock file it cannot use is said once.
func (w *deathWatcher) isLost(dep string, st *depState) bool {
	lost, err := w.g.lost(dep, st.parsed, st.content)
	if err != nil && !st.lockWarned {
		st.lockWarned = true
		w.log.Warn("cannot use a death dep's lock file (yet); judging it by its tombstone alone: if its kubexit is killed before it records a death, that is not seen", "dep", dep, "err", err)
	}
	return lost
}

// decideFS logs, once the graveyard exists, what its filesystem allows.
func (w *deathWatcher) decideFS() {
	g := w.g
	w.decided = g.decide()
	if !w.decided {
		return
	}
	w.log.Debug("graveyard filesystem", "graveyard", w.dir, "filesystem", g.fsName, "listing", g.listing)
	if since, err := g.generation(); err != nil {
		w.log.Warn("cannot read the graveyard's generation; tombstones of an earlier run of the pod may be taken for this run's", "graveyard", w.dir, "err", err)
	} else if !since.IsZero() {
		w.log.Debug("graveyard generation", "began", since)
	}
	if g.locks {
		w.log.Debug("lost deaths are detected by lock files", "graveyard", w.dir, "filesystem", g.fsName)
	} else {
		w.log.Info("lost deaths (a dep's kubexit killed before it recorded Died) are not detected on this graveyard's filesystem: it does not share locks between mounts; deaths are judged by tombstones alone", "graveyard", w.dir, "filesystem", g.fsName)
	}
}
