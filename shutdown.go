package main

// Ordered shutdown (KUBEXIT_SHUTDOWN_AFTER). When a pod is deleted, the
// kubelet sends TERM to all its regular containers at once; a proxy or a
// log shipper then dies while the app it serves is still draining. With
// KUBEXIT_SHUTDOWN_AFTER=app, the proxy's kubexit holds the stop signal
// until the app is gone (its tombstone says it died or never was born, or
// its lock says it was lost), then forwards it. KUBEXIT_SHUTDOWN_TIMEOUT
// bounds the hold; the kubelet's KILL at the end of the grace period ends
// everything anyway. Holds that wait for each other (a cycle, seen in the
// hold files) are released by the first that sees it.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// isStopSignal tells the signals that stop a container: TERM by default,
// INT or QUIT where an image or pod configures its stop signal so.
func isStopSignal(sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGQUIT
}

// shutdownHold is a stop signal held for KUBEXIT_SHUTDOWN_AFTER: none yet,
// held (ended is set), or released (report is set). It is built with the
// values it needs (newShutdownHold).
type shutdownHold struct {
	dir, self string
	after     []string // KUBEXIT_SHUTDOWN_AFTER without self
	poll      time.Duration
	timeout   time.Duration // KUBEXIT_SHUTDOWN_TIMEOUT; 0: none
	log       *slog.Logger

	sig    os.Signal
	since  time.Time
	ended  <-chan holdEnd // the siblings' watch; nil unless holding
	cancel context.CancelFunc
	holds  bool        // the hold file is written, for --status
	report string      // once released: what was held, how long, why it ended
	check  *time.Timer // the start-up look for names with no tombstone (checkNames)
}

// newShutdownHold is the hold of cfg.Name for cfg.ShutdownAfter. A process
// cannot wait for itself (--check and start-up warn): its own name is left
// out.
func newShutdownHold(cfg config, log *slog.Logger) *shutdownHold {
	return &shutdownHold{
		dir: cfg.Graveyard, self: cfg.Name, poll: cfg.PollInterval, timeout: cfg.ShutdownTimeout, log: log,
		after: slices.DeleteFunc(slices.Clone(cfg.ShutdownAfter), func(n string) bool { return n == cfg.Name }),
	}
}

// neverBornCheck is how long after the child starts kubexit looks, once,
// for KUBEXIT_SHUTDOWN_AFTER names that have no tombstone: long enough for
// siblings started with the pod to have written Born, unless they wait for
// birth deps.
const neverBornCheck = 30 * time.Second

// checkNames warns, once, after the delay, about KUBEXIT_SHUTDOWN_AFTER
// names that have no tombstone in the graveyard yet: a typo holds nothing.
// A stop signal before then makes take say it instead.
func (h *shutdownHold) checkNames(delay time.Duration) {
	if len(h.after) == 0 {
		return
	}
	h.check = time.AfterFunc(delay, func() {
		if missing := newGraveyardReader(h.dir).neverBorn(h.after); len(missing) > 0 {
			h.log.Warn(fmt.Sprintf("KUBEXIT_SHUTDOWN_AFTER names siblings with no tombstone in the graveyard after %v; a stop signal will not be held for them unless they start (a typo?)", delay),
				"never_born", strings.Join(missing, ","), "graveyard", h.dir)
		}
	})
}

// neverBornNote says, for the log and the termination message, that the
// names in missing never had a tombstone in dir ("" if none).
func neverBornNote(dir string, missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%s never had a tombstone in %s: not held; a typo?", strings.Join(missing, ", "), dir)
}

// holdEnd is how a hold ended: every sibling gone, a cycle of holds, or
// the timeout with some still there.
type holdEnd struct {
	timedOut bool
	waiting  []string
	cycle    []string // from this process back to it: each holds for the next (holdCycle)
}

// take holds sig if it is the first stop signal and siblings are named; a
// stop signal during the hold is dropped (it does not cut the hold short).
// It returns false for a signal to forward as usual.
func (h *shutdownHold) take(sig os.Signal) bool {
	switch {
	case len(h.after) == 0 || !isStopSignal(sig) || h.report != "":
		return false
	case h.ended != nil:
		h.log.Info("stop signal during the hold; still holding", "signal", signalName(sig), "held", signalName(h.sig))
		return true
	}
	h.sig, h.since = sig, time.Now()
	if h.check != nil {
		h.check.Stop()
	}
	if missing := newGraveyardReader(h.dir).neverBorn(h.after); len(missing) > 0 {
		h.log.Warn("KUBEXIT_SHUTDOWN_AFTER names siblings that never had a tombstone in the graveyard; the stop signal is not held for them (a typo?)",
			"never_born", strings.Join(missing, ","), "graveyard", h.dir)
	}
	var ctx context.Context
	ctx, h.cancel = context.WithCancel(context.Background())
	h.ended = watchGone(ctx, h.dir, h.self, h.after, h.poll, h.timeout)
	held := heldSignal{Signal: signalName(sig), Since: h.since, After: h.after}
	if err := writeHoldFile(h.dir, h.self, held.content(), h.log); err != nil {
		h.log.Debug("cannot write the hold file for --status", "err", err)
	}
	h.holds = true
	h.log.Info("holding the stop signal until these siblings are gone (KUBEXIT_SHUTDOWN_AFTER)", "signal", signalName(sig),
		"after", strings.Join(h.after, ","), "timeout", h.timeout)
	return true
}

// writeHoldFile replaces name's hold file in dir with content as a tombstone
// is replaced: a temporary file of name's (removeStaleTemps clears one that a
// kill left) renamed over it. Whatever a sibling sharing the volume put at
// that name, a symbolic link to a file kubexit may write or a hard link, is
// replaced, never written through; one that is not a regular file is said,
// once (a life holds at most one stop signal).
func writeHoldFile(dir, name string, content []byte, log *slog.Logger) error {
	path := filepath.Join(dir, holdFileName(name))
	var st unix.Stat_t
	if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		log.Warn("the hold file is not a regular file; replacing it, never writing through it", "path", path, "err", notRegularFile(st.Mode))
	}
	return replaceFile(dir, holdFileName(name), name, 0o644, content)
}

// release ends the hold as end says; the caller forwards h.sig.
func (h *shutdownHold) release(end holdEnd) {
	held := time.Since(h.since).Round(time.Millisecond)
	h.stop()
	if end.cycle != nil {
		cycle := strings.Join(end.cycle, " -> ")
		h.report = fmt.Sprintf("%s held %v, until the hold files showed a cycle of holds, %s, each waiting for the next: released", signalName(h.sig), held, cycle)
		h.log.Warn("KUBEXIT_SHUTDOWN_AFTER holds form a cycle, each waiting for the next to be gone; forwarding the stop signal", "signal", signalName(h.sig), "held", held, "cycle", cycle)
		return
	}
	missing := newGraveyardReader(h.dir).neverBorn(h.after)
	note := neverBornNote(h.dir, missing)
	if end.timedOut {
		h.report = fmt.Sprintf("%s held %v, until KUBEXIT_SHUTDOWN_TIMEOUT ran out with %s still running", signalName(h.sig), held, strings.Join(end.waiting, ", ")) + withNote("; ", note)
		h.log.Warn("KUBEXIT_SHUTDOWN_TIMEOUT ran out; forwarding the stop signal anyway"+withNote("; ", note), "signal", signalName(h.sig), "held", held, "still_running", strings.Join(end.waiting, ","))
		return
	}
	gone := slices.DeleteFunc(slices.Clone(h.after), func(n string) bool { return slices.Contains(missing, n) })
	h.report = fmt.Sprintf("%s held %v", signalName(h.sig), held)
	if len(gone) > 0 {
		h.report += fmt.Sprintf(", until %s %s gone", strings.Join(gone, ", "), plural(len(gone), "was", "were"))
	}
	h.report += withNote("; ", note)
	if note != "" {
		h.log.Warn("siblings gone; forwarding the stop signal; "+note, "signal", signalName(h.sig), "held", held)
		return
	}
	h.log.Info("siblings gone; forwarding the stop signal", "signal", signalName(h.sig), "held", held)
}

// withNote is sep+note, or "" without a note.
func withNote(sep, note string) string {
	if note == "" {
		return ""
	}
	return sep + note
}

// outcome is what the termination message says of the hold ("" for none).
func (h *shutdownHold) outcome() string {
	switch {
	case h.report != "":
		return "; " + h.report
	case h.ended != nil:
		return fmt.Sprintf("; %s held %v, the child exited first", signalName(h.sig), time.Since(h.since).Round(time.Millisecond))
	}
	return ""
}

// stop ends the watch and removes the hold file.
func (h *shutdownHold) stop() {
	if h.check != nil {
		h.check.Stop()
	}
	if h.cancel != nil {
		h.cancel()
	}
	if h.holds {
		os.Remove(filepath.Join(h.dir, holdFileName(h.self)))
		h.holds = false
	}
	h.ended = nil
}

// watchGone polls the graveyard every interval until every name is gone,
// the hold files show a cycle of holds through self (holdCycle), or timeout
// (0: no limit) runs out, and says which on the channel.
func watchGone(ctx context.Context, dir, self string, names []string, interval, timeout time.Duration) <-chan holdEnd {
	ended := make(chan holdEnd, 1)
	go func() {
		var deadline <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		tick := newPollTicker(ctx, interval, discardLogger())
		defer tick.stop()
		g := newGraveyardReader(dir)
		for {
			g.refresh()
			waiting := stillThere(g, names)
			if len(waiting) == 0 {
				ended <- holdEnd{}
				return
			}
			if cycle := holdCycle(g, self, waiting); cycle != nil {
				ended <- holdEnd{waiting: waiting, cycle: cycle}
				return
			}
			select {
			case <-deadline:
				ended <- holdEnd{timedOut: true, waiting: waiting}
				return
			default:
			}
			if !tick.wait(ctx) {
				return
			}
		}
	}()
	return ended
}

// stillThere returns the names that are not gone: a sibling is gone when
// its tombstone says it died or never started, when it has none or one
// without Born (never born), or when it is lost. One that cannot be read is
// counted as there.
func stillThere(g *graveyardReader, names []string) []string {
	var waiting []string
	for _, name := range names {
		_, state, err := g.judge(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || state == stateBorn {
			waiting = append(waiting, name)
		}
	}
	return waiting
}

// holdCycle looks for a cycle of holds through self in the hold files: self
// holds for a sibling in first (siblings still there), whose hold file says
// it holds for another, and so on back to self. Such holds would each last
// until KUBEXIT_SHUTDOWN_TIMEOUT, or forever. A sibling past the first is
// followed only while it is still there: a gone one's leftover hold file
// holds nothing. It returns the cycle from self back to self, or nil.
func holdCycle(g *graveyardReader, self string, first []string) []string {
	from := map[string]string{} // each sibling reached, and the one that holds for it
	queue := slices.Clone(first)
	for _, name := range first {
		from[name] = self
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		h := g.hold(name)
		if h == nil {
			continue
		}
		for _, next := range h.After {
			if next == self {
				return cyclePath(self, name, from)
			}
			if _, seen := from[next]; seen || len(stillThere(g, []string{next})) == 0 {
				continue
			}
			from[next] = name
			queue = append(queue, next)
		}
	}
	return nil
}

// shutdownCycle is the cycle of holds through cfg.Name that the graveyard's
// hold files show now, for --check: its own KUBEXIT_SHUTDOWN_AFTER, then
// what siblings holding a stop signal now wait for. Siblings not holding
// say nothing of theirs, so a cycle can be there unseen.
func shutdownCycle(cfg config) []string {
	h := newShutdownHold(cfg, discardLogger())
	if len(h.after) == 0 {
		return nil
	}
	g := newGraveyardReader(cfg.Graveyard)
	return holdCycle(g, cfg.Name, stillThere(g, h.after))
}

// cyclePath is the cycle that closes at last, which holds for self:
// self, ..., last, self.
func cyclePath(self, last string, from map[string]string) []string {
	path := []string{self}
	for n := last; n != self; n = from[n] {
		path = append(path, n)
	}
	path = append(path, self)
	slices.Reverse(path[1 : len(path)-1])
	return path
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
