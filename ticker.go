package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"syscall"
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
// to the graveyard (graveyardReader.decide): an inotify watch on the graveyard wakes
// the poller as soon as a death dep's tombstone or lock file changes, and a
// safety poll comes every interval (KUBEXIT_WATCHED_POLL_INTERVAL) in any
// case. The notification only ever shortens a wait: polling stays the
// truth, and a missed or spurious event changes nothing but latency. An
// overflow of the event queue is an event too: look now.
//
// Events are read at most once per hintFloor, and only those naming a
// dep's tombstone or lock file (or none: the directory's own, an overflow)
// wake the poller: a writer of another file in the graveyard (an app's log
// kept there) woke a poll at each write, 26-47 % of a core.
//
// The watch follows a directory, not the path: once the graveyard is moved,
// removed, unmounted, or the path leads elsewhere (a symlink retargeted, a
// mount placed over it: no event says so, each wait compares the path's
// (dev, ino) with the watched one), the watch is lost and the watcher
// polls every KUBEXIT_POLL_INTERVAL until it can watch the path again.
type hintTicker struct {
	// fd is the inotify instance. It is not in Go's network poller, which
	// would wake at each event queued, read or not (edge-triggered): ep is,
	// an epoll instance that holds fd with EPOLLONESHOT, so that one event
	// makes it readable once, until armed again (armed) after the floor.
	fd       int
	epfd     int // ep's descriptor (ep.Fd() would make ep blocking, its deadlines dead)
	ep       *os.File
	rc       syscall.RawConn // ep's
	armed    bool
	evs      [1]unix.EpollEvent
	dir      string
	id       fileID // the watched directory, as the path named it before the watch was added
	interval time.Duration
	names    map[string]bool // the names that wake the poller; nil: all
	due      time.Time       // when reads are back to their floor: hintFloor past the last, or later after a burst
	buf      [16384]byte     // events, drained and dropped: only their arrival and names matter
	// primed makes the first wait return at once: a poll after the watch is
	// in place sees what changed between the last poll and the watch.
	primed  bool
	lost    bool // the watch ended, or the path no longer leads to its directory
	unwatch func() bool
}

// hintFloor is the time between two reads of the events, so between two
// wake-ups, while events keep coming: KUBEXIT_POLL_INTERVAL's own floor.
// A burst of hintBurst reads more comes first: a tombstone written by a
// dep's kubexit raises events for its temporary file, and ms later the
// rename that names the tombstone, and those are read at once; so is the
// first event after a quiet spell.
const (
	hintFloor = 10 * time.Millisecond
	hintBurst = 4
)

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

// newHintTicker watches dir; events that name a file wake the poller only
// for names (all names if none are given). It fails where inotify cannot be
// had (the per-user instance limit, fs.inotify.max_user_instances, is 128
// by default and shared by every container of that user on the node) or a
// watch is refused (max_user_watches); the caller then polls as before.
func newHintTicker(ctx context.Context, dir string, interval time.Duration, names ...string) (*hintTicker, error) {
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
	var ep *os.File
	epfd := -1
	if _, err = unix.InotifyAddWatch(fd, dir, hintEvents); err == nil {
		ep, epfd, err = oneShotEpoll(fd)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	rc, _ := ep.SyscallConn() // an *os.File's never fails
	t := &hintTicker{fd: fd, epfd: epfd, ep: ep, rc: rc, armed: true, dir: dir, id: id, interval: interval, primed: true}
	if len(names) > 0 {
		t.names = make(map[string]bool, len(names))
		for _, n := range names {
			t.names[n] = true
		}
	}
	t.unwatch = context.AfterFunc(ctx, func() { ep.SetReadDeadline(time.Unix(1, 0)) })
	return t, nil
}

// oneShotEpoll returns an epoll instance holding fd for reading, once
// (EPOLLONESHOT), itself in Go's network poller.
func oneShotEpoll(fd int) (*os.File, int, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, -1, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}
	if err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err == nil {
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(epfd)
		return nil, -1, err
	}
	// os.NewFile registers a non-blocking descriptor with the network
	// poller; a read deadline is possible only on one it took.
	f := os.NewFile(uintptr(epfd), "inotify-epoll")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, -1, err
	}
	return f, epfd, nil
}

// wait returns at the first change that wakes the poller, or after interval.
func (t *hintTicker) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if t.primed {
		t.primed = false
		return true
	}
	deadline := time.Now().Add(t.interval)
	for !t.read(ctx, deadline) {
	}
	if id, err := statID(t.dir); err != nil || id != t.id {
		t.lost = true
	}
	return ctx.Err() == nil
}

// read waits for events until deadline, once the floor allows a read (at
// most hintBurst+1 in a row, then one per hintFloor), and reads what is
// queued. It tells whether to poll: an
// event wakes the poller, the deadline passed, the watch is lost or ctx is
// done.
func (t *hintTicker) read(ctx context.Context, deadline time.Time) bool {
	// (Until saturates; a subtraction after it would overflow at the zero due.)
	if d := time.Until(t.due.Add(-hintBurst * hintFloor)); d > 0 && !sleepCtx(ctx, d) {
		return true
	}
	if !t.armed {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(t.fd)}
		if err := unix.EpollCtl(t.epfd, unix.EPOLL_CTL_MOD, t.fd, &ev); err != nil {
			t.lost = true
			return true
		}
		t.armed = true
	}
	t.ep.SetReadDeadline(deadline)
	if ctx.Err() != nil { // cancelled before the deadline was set: it was undone
		return true
	}
	err := t.rc.Read(func(fd uintptr) bool {
		n, err := unix.EpollWait(int(fd), t.evs[:], 0)
		for err == unix.EINTR {
			n, err = unix.EpollWait(int(fd), t.evs[:], 0)
		}
		t.armed = n <= 0
		return n > 0
	})
	if err != nil {
		t.lost = !errors.Is(err, os.ErrDeadlineExceeded)
		return true
	}
	if now := time.Now(); t.due.Before(now) {
		t.due = now
	}
	t.due = t.due.Add(hintFloor)
	// What is queued, a few reads at most: what is left is read after
	// hintFloor; should it overflow the queue, the overflow wakes.
	wake := false
	for i := 0; i < 4 && !t.lost; i++ {
		n, err := unix.Read(t.fd, t.buf[:])
		if err != nil || n <= 0 {
			break
		}
		wake = t.scan(t.buf[:n]) || wake
	}
	return wake || t.lost
}

// scan looks at events: it sets lost on hintLostEvents, and tells whether
// one wakes the poller: one without a name (the directory's own, an
// overflow), or naming a file of t.names.
func (t *hintTicker) scan(events []byte) bool {
	wake := false
	for len(events) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&events[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(events) {
			return true // not expected from the kernel: look anyway
		}
		name := events[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		t.lost = t.lost || ev.Mask&hintLostEvents != 0
		wake = wake || len(name) == 0 || t.names == nil || t.names[string(name)]
		events = events[end:]
	}
	return wake
}

func (t *hintTicker) stop() {
	t.unwatch()
	t.ep.Close()
	unix.Close(t.fd)
}
