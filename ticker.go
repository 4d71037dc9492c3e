package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

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
