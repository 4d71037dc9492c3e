package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Where the kernel sees every write (tmpfs, a local disk), a death is seen
// at once through the inotify watch: here both the poll interval and the
// safety poll are an hour, so only the watch can wake kubexit in time.
func TestWatchedGraveyardWakesPoller(t *testing.T) {
	t.Parallel()
	for _, parent := range []string{"/dev/shm", os.TempDir()} {
		gy, err := os.MkdirTemp(parent, "kubexit-hint-")
		if err != nil {
			t.Logf("%s: %v; skipped", parent, err)
			continue
		}
		defer os.RemoveAll(gy)
		if !hintTrusted(gy) {
			t.Logf("%s: inotify not trusted on its filesystem; skipped", parent)
			continue
		}
		p, _ := startReady(t, map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
			"KUBEXIT_POLL_INTERVAL": "1h", "KUBEXIT_WATCHED_POLL_INTERVAL": "1h", "KUBEXIT_LOG_LEVEL": "debug"}, loopUntilSignalled)
		waitFor(t, "the watch on "+gy, func() bool {
			return strings.Contains(p.stderr.String(), "graveyard watched with inotify")
		})
		writeFile(t, gy, "main", diedYAML)
		if code := p.wait(); code != 143 {
			t.Errorf("%s: exit %d, want 143; stderr:\n%s", parent, code, p.stderr)
		}
	}
}

// Where no watch can be had (here: the "graveyard" is a file, so the watch
// is refused, as when the inotify instance limit is reached), the watcher
// polls every KUBEXIT_POLL_INTERVAL; a watch that is lost later (the
// graveyard removed) falls back the same way.
func TestWatchFallsBackToPolling(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	file := filepath.Join(t.TempDir(), "not-a-dir")
	writeFile(t, filepath.Dir(file), "not-a-dir", "")
	w, logs := testWatcher(file, "main")
	w.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.watched, w.decided = time.Hour, true
	if !hintTrusted(file) {
		t.Skipf("inotify not trusted on %s's filesystem", file)
	}
	tk := w.pace(ctx, newPollTicker(ctx, w.interval, w.log))
	defer tk.stop()
	if _, ok := tk.(*hintTicker); ok {
		t.Fatal("a hint ticker on a file")
	}
	if !strings.Contains(logs.String(), "no inotify watch on the graveyard") {
		t.Errorf("the fallback was not logged:\n%s", logs)
	}

	dir := t.TempDir()
	w2, logs2 := testWatcher(dir, "main")
	w2.watched, w2.decided = time.Hour, true
	t2 := w2.pace(ctx, newPollTicker(ctx, w2.interval, w2.log))
	h, ok := t2.(*hintTicker)
	if !ok {
		t.Fatalf("no hint ticker on %s:\n%s", dir, logs2)
	}
	os.Remove(dir)
	if !h.wait(ctx) || !h.lost {
		t.Fatalf("removing the graveyard: lost %v", h.lost)
	}
	t3 := w2.pace(ctx, t2)
	defer t3.stop()
	if _, ok := t3.(*hintTicker); ok || w2.watched != 0 {
		t.Errorf("still hinted after the watch was lost:\n%s", logs2)
	}
}

// A SIGKILLed dep's kubexit writes nothing, but the kernel closes its lock
// file, opened for writing: the watch sees that close, so a lost death too
// is seen at once, long before the safety poll (an hour here).
func TestWatchedGraveyardSeesLostDeath(t *testing.T) {
	t.Parallel()
	gy := t.TempDir()
	if !hintTrusted(gy) {
		t.Skipf("inotify not trusted on %s's filesystem", gy)
	}
	if ok, why := lockTrusted(gy); !ok {
		t.Skipf("locks not trusted on %s (%s)", gy, why)
	}
	romeo := startKubexit(t, map[string]string{"KUBEXIT_NAME": "romeo", "KUBEXIT_GRAVEYARD": gy}, "sleep", "600")
	waitTombstone(t, gy, "romeo", "born", isBorn)
	juliet, _ := startReady(t, map[string]string{"KUBEXIT_NAME": "juliet", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "romeo",
		"KUBEXIT_POLL_INTERVAL": "1h", "KUBEXIT_WATCHED_POLL_INTERVAL": "1h", "KUBEXIT_LOG_LEVEL": "debug"}, loopUntilSignalled)
	waitFor(t, "juliet's watch", func() bool { return strings.Contains(juliet.stderr.String(), "graveyard watched with inotify") })
	romeo.signal(syscall.SIGKILL) // its child dies with it (the parent-death signal)
	romeo.wait()
	if code := juliet.wait(); code != 143 {
		t.Fatalf("juliet exit %d, want 143; stderr:\n%s", code, juliet.stderr)
	}
	if !strings.Contains(juliet.stderr.String(), "died without a word") {
		t.Errorf("juliet's log does not tell of a lost death:\n%s", juliet.stderr)
	}
}

// An overflow of the inotify queue (more events than
// fs.inotify.max_queued_events before the poller reads) is an event like
// any other: it wakes the poller, and the watch goes on working after it.
func TestWatchOverflowWakesPoller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	tk, err := newHintTicker(ctx, dir, time.Hour)
	if err != nil {
		t.Skipf("no inotify watch here: %v", err)
	}
	defer tk.stop()
	limit := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &limit)
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFile(t, dir, "a", "")
	writeFile(t, dir, "b", "")
	for i := 0; i <= limit; i++ { // alternating, or the kernel merges them
		os.Chmod(a, 0o600)
		os.Chmod(b, 0o600)
	}
	woke := func() bool {
		done := make(chan bool, 1)
		go func() { done <- tk.wait(ctx) }()
		select {
		case ok := <-done:
			return ok
		case <-time.After(time.Minute): // the safety poll is an hour away
			return false
		}
	}
	if !woke() || tk.lost {
		t.Fatalf("after %d events: not woken, or the watch taken for lost (%v)", 2*(limit+1), tk.lost)
	}
	tk.interval = time.Millisecond // drain what is queued, the overflow last
	overflowed := false
	for i := 0; i < limit/8+10 && !overflowed; i++ {
		tk.wait(ctx)
		overflowed = hasOverflow(tk.buf[:])
	}
	if !overflowed || tk.lost {
		t.Fatalf("no IN_Q_OVERFLOW read (the queue did not overflow?), or the watch taken for lost (%v)", tk.lost)
	}
	tk.interval = time.Hour
	os.Chmod(a, 0o644)
	if !woke() || tk.lost {
		t.Fatalf("after the overflow, a change did not wake the poller (lost %v)", tk.lost)
	}
}

// hasOverflow tells whether the events read last (from the buffer's start)
// include IN_Q_OVERFLOW.
func hasOverflow(buf []byte) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			return true
		}
		if ev.Mask == 0 || int(ev.Len) > len(buf)-unix.SizeofInotifyEvent {
			return false
		}
		buf = buf[unix.SizeofInotifyEvent+int(ev.Len):]
	}
	return false
}
