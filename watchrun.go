package main

// The death watcher's loop (watch.go polls once): its pace, an inotify
// wake-up where the graveyard's filesystem allows one (ticker.go), or
// polls every KUBEXIT_POLL_INTERVAL.

import "context"

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
		// Maybe another filesystem now: decided again.
		w.g.decided = false
		w.decideFS()
	}
	return w.watch(ctx, t)
}

// watch returns an inotify wake-up on the graveyard in place of t, or t
// where it cannot be had.
func (w *deathWatcher) watch(ctx context.Context, t pollTicker) pollTicker {
	if !w.g.decide() || !w.g.hints {
		return t
	}
	h, err := newHintTicker(ctx, w.dir, w.watched, wakeNames(w.deps)...)
	if err != nil {
		w.log.Debug("no inotify watch on the graveyard; polling every KUBEXIT_POLL_INTERVAL", "graveyard", w.dir, "err", err)
		return t
	}
	w.log.Debug("graveyard watched with inotify: polls on each change, and every KUBEXIT_WATCHED_POLL_INTERVAL", "graveyard", w.dir, "interval", w.watched)
	t.stop()
	return h
}
