package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollTicker paces the death watcher's polls: wait blocks until the next
// tick and reports false once ctx is done. Ticks that the watcher is too
// slow to take are dropped, as with time.Ticker.
type pollTicker interface {
	wait(ctx context.Context) bool
	stop()
}

// newPollTicker returns a ticker for interval that ends its waits when ctx is
// done. It is a kernel timer (timerfd) read through Go's network poller when
// the kernel allows one, else a time.Ticker.
//
// Why not just time.Ticker: an idle kubexit spends nearly all its CPU on
// waking up, and on a VM a wake-up is dear. Each time.Ticker tick wakes the
// runtime's sysmon thread too (it sleeps only until the next timer) and, often,
// a spinning scheduler thread: ~5 context switches a tick on the 2-core CI
// VM, where a timerfd read through the poller wakes ~3, and CPU fell in step
// (hack/bench; figures in docs/performance.md).
func newPollTicker(ctx context.Context, interval time.Duration, log *slog.Logger) pollTicker {
	t, err := newTimerfdTicker(ctx, interval)
	if err == nil {
		return t
	}
	// A sandbox (seccomp, gVisor) may refuse timerfd_create; polling works
	// the same, only dearer.
	log.Debug("no timerfd for the poll ticks; using a Go ticker", "err", err)
	return newGoTicker(interval)
}

// timerfdTicker reads expirations from a periodic CLOCK_MONOTONIC timerfd.
type timerfdTicker struct {
	f          *os.File
	interval   time.Duration
	buf        [8]byte     // the expiration count; unused
	unwatchCtx func() bool // undoes the context.AfterFunc
}

func newTimerfdTicker(ctx context.Context, interval time.Duration) (*timerfdTicker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// os.NewFile registers a non-blocking descriptor with the network
	// poller, so a wait parks the goroutine instead of holding a thread.
	f := os.NewFile(uintptr(fd), "timerfd")
	// A read deadline is possible only on a descriptor the poller took.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, err
	}
	ts := unix.NsecToTimespec(int64(interval))
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		f.Close()
		return nil, err
	}
	t := &timerfdTicker{f: f, interval: interval}
	// A deadline in the past ends a wait in progress, and all later ones.
	t.unwatchCtx = context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	return t, nil
}

func (t *timerfdTicker) wait(ctx context.Context) bool {
	for ctx.Err() == nil {
		_, err := t.f.Read(t.buf[:])
		if err == nil {
			return ctx.Err() == nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			// Not expected from a timerfd: keep the pace without it.
			return sleepCtx(ctx, t.interval)
		}
	}
	return false
}

func (t *timerfdTicker) stop() {
	t.unwatchCtx()
	t.f.Close()
}

// goTicker is the fallback: a time.Ticker.
type goTicker struct{ t *time.Ticker }

func newGoTicker(interval time.Duration) *goTicker {
	return &goTicker{time.NewTicker(interval)}
}

func (t *goTicker) wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.t.C:
		return ctx.Err() == nil
	}
}

func (t *goTicker) stop() { t.t.Stop() }

// hintTicker paces polls on a filesystem where the kernel sees every write
// to the graveyard (hintTrusted): an inotify watch on the graveyard wakes
// the poller as soon as anything in it changes, and a safety poll comes
// every interval (KUBEXIT_WATCHED_POLL_INTERVAL) in any case. The
// notification only ever shortens a wait: polling stays the truth, and a
// missed or spurious event changes nothing but latency. An overflow of the
// event queue is an event too: look now.
//
// The watch follows a directory, not the path: once the graveyard is moved,
// removed, unmounted, or the path leads elsewhere (a symlink retargeted, a
// mount placed over it: no event says so, each wait compares the path's
// (dev, ino) with the watched one), the watch is lost and the watcher
// polls every KUBEXIT_POLL_INTERVAL until it can watch the path again.
type hintTicker struct {
	f        *os.File
	dir      string
	id       fileID // the watched directory, as the path named it before the watch was added
	interval time.Duration
	buf      [4096]byte // events, drained and dropped: only their arrival matters
	// primed makes the first wait return at once: a poll after the watch is
	// in place sees what changed between the last poll and the watch.
	primed  bool
	lost    bool // the watch ended, or the path no longer leads to its directory
	unwatch func() bool
}

// fileID is a file's identity: (dev, ino).
type fileID struct{ dev, ino uint64 }

// statID is the (dev, ino) of the file path leads to.
func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// hintEvents are the changes that may make a tombstone say something new,
// and the directory's own move or removal.
const hintEvents = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_ATTRIB | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// hintLostEvents say that the watch no longer follows the graveyard's
// path: the directory was moved (it is still watched, elsewhere) or
// removed, its filesystem unmounted, or the watch ended (IN_IGNORED).
const hintLostEvents = unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_UNMOUNT | unix.IN_IGNORED

// newHintTicker watches dir. It fails where inotify cannot be had (the
// per-user instance limit, fs.inotify.max_user_instances, is 128 by
// default and shared by every container of that user on the node) or a
// watch is refused (max_user_watches); the caller then polls as before.
func newHintTicker(ctx context.Context, dir string, interval time.Duration) (*hintTicker, error) {
	// The path's identity is taken before the watch: if the path changes
	// in between, the first wait finds it changed and the watch lost.
	id, err := statID(dir)
	if err != nil {
		return nil, err
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, hintEvents); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, err
	}
	t := &hintTicker{f: f, dir: dir, id: id, interval: interval, primed: true}
	t.unwatch = context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	return t, nil
}

// wait returns at the first change in the graveyard, or after interval.
func (t *hintTicker) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if t.primed {
		t.primed = false
		return true
	}
	t.f.SetReadDeadline(time.Now().Add(t.interval))
	if ctx.Err() != nil { // cancelled before the deadline was set: it was undone
		return false
	}
	n, err := t.f.Read(t.buf[:])
	if err == nil && n >= unix.SizeofInotifyEvent && hintLost(t.buf[:n]) {
		t.lost = true
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.lost = true
	}
	if id, err := statID(t.dir); err != nil || id != t.id {
		t.lost = true
	}
	return ctx.Err() == nil
}

// hintLost tells whether the events say the watch is lost (hintLostEvents).
func hintLost(events []byte) bool {
	for len(events) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&events[0]))
		if ev.Mask&hintLostEvents != 0 {
			return true
		}
		events = events[unix.SizeofInotifyEvent+int(ev.Len):]
	}
	return false
}

func (t *hintTicker) stop() {
	t.unwatch()
	t.f.Close()
}

// hintTrusted tells whether an inotify watch on dir sees every write to it:
// on filesystems that live in this kernel alone, where every container's
// mount of the volume is the same inode (tmpfs, and the node's disk: ext4,
// xfs, btrfs), as fs-test measures. Not on NFS or FUSE, where another
// client's writes raise no event, nor on overlayfs, nor anything unknown.
func hintTrusted(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		return true
	}
	return false
}
