package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	for i := 0; i < 3 && !h.lost; i++ { // the first wait may be the one right after the watch
		if !h.wait(ctx) {
			t.Fatal("wait = false with ctx live")
		}
	}
	if !h.lost {
		t.Fatal("removing the graveyard: the watch is not lost")
	}
	t3 := w2.pace(ctx, t2)
	if _, ok := t3.(*hintTicker); ok {
		t3.stop()
		t.Fatalf("still hinted after the watch was lost:\n%s", logs2)
	}
	// The graveyard made again is watched again, at the next pace.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t4 := w2.pace(ctx, t3)
	defer t4.stop()
	if _, ok := t4.(*hintTicker); !ok {
		t.Errorf("the graveyard made again is not watched:\n%s", logs2)
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
	tk.interval = time.Millisecond // the first wait may come right after the watch: take it
	tk.wait(ctx)
	tk.interval = time.Hour
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

// waitExit waits up to 20 s (the safety poll is an hour away) for kubexit to
// end, and wants 143: its child terminated on the death.
func waitExit(t *testing.T, p *kubexitProc, what string) {
	t.Helper()
	select {
	case <-p.done:
		if p.code != 143 {
			t.Fatalf("%s: exit %d, want 143; stderr:\n%s", what, p.code, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the death was not seen within 20 s; stderr:\n%s", what, p.stderr)
	}
}

// startWatching starts a watcher of dep main in gy, its safety poll an hour
// away, and returns once gy is watched.
func startWatching(t *testing.T, gy string, env map[string]string) *kubexitProc {
	t.Helper()
	if !hintTrusted(gy) {
		t.Skipf("inotify not trusted on %s's filesystem", gy)
	}
	all := map[string]string{"KUBEXIT_NAME": "app", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
		"KUBEXIT_WATCHED_POLL_INTERVAL": "1h", "KUBEXIT_LOG_LEVEL": "debug"}
	maps.Copy(all, env)
	p, _ := startReady(t, all, loopUntilSignalled)
	waitFor(t, "the watch on "+gy, func() bool { return strings.Contains(p.stderr.String(), "graveyard watched with inotify") })
	return p
}

// A graveyard renamed away and made anew: the watch, on the old directory,
// is lost (IN_MOVE_SELF), and the new one's deaths are seen by polls every
// KUBEXIT_POLL_INTERVAL, or by a watch on it, not at the safety poll.
func TestWatchedGraveyardRenamedAway(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	gy := filepath.Join(parent, "graveyard")
	if err := os.Mkdir(gy, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startWatching(t, gy, nil)
	if err := os.Rename(gy, filepath.Join(parent, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(gy, 0o755); err != nil {
		t.Fatal(err)
	}
	// Let the wake-up on the move pass first, so that the death is not
	// seen by chance at that poll.
	time.Sleep(300 * time.Millisecond)
	writeFile(t, gy, "main", diedYAML)
	waitExit(t, p, "graveyard renamed away and made anew")
}

// A graveyard swapped for another directory in one step (renameat2
// RENAME_EXCHANGE: the path never misses), with both poll intervals an
// hour: only a watch on the new directory can see the death in time.
func TestWatchedGraveyardSwappedIsWatchedAgain(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	gy, other := filepath.Join(parent, "graveyard"), filepath.Join(parent, "other")
	for _, d := range []string{gy, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := startWatching(t, gy, map[string]string{"KUBEXIT_POLL_INTERVAL": "1h"})
	if err := unix.Renameat2(unix.AT_FDCWD, gy, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE); err != nil {
		t.Skipf("renameat2(RENAME_EXCHANGE): %v", err)
	}
	time.Sleep(300 * time.Millisecond) // as above
	writeFile(t, gy, "main", diedYAML)
	waitExit(t, p, "graveyard swapped")
}

// A symlink graveyard retargeted, or a mount placed over the path, raises
// no event: each poll compares the path's (dev, ino) with the watched
// directory's, so the first one after it (at the latest the safety poll,
// 1 s here) watches the new directory.
func TestWatchedGraveyardSymlinkRetargeted(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	a, b, gy := filepath.Join(parent, "a"), filepath.Join(parent, "b"), filepath.Join(parent, "graveyard")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(a, gy); err != nil {
		t.Fatal(err)
	}
	p := startWatching(t, gy, map[string]string{"KUBEXIT_POLL_INTERVAL": "1h", "KUBEXIT_WATCHED_POLL_INTERVAL": "1s"})
	tmp := filepath.Join(parent, "graveyard.new")
	if err := os.Symlink(b, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, gy); err != nil { // as ln -sfn does
		t.Fatal(err)
	}
	waitWithin(t, 20*time.Second, 10*time.Millisecond, "a watch on the new target", func() bool {
		return strings.Count(p.stderr.String(), "graveyard watched with inotify") >= 2
	})
	writeFile(t, b, "main", diedYAML)
	waitExit(t, p, "symlink retargeted")
}

// Writes to a file that is neither a death dep's tombstone nor its lock
// file (an app's log kept in the graveyard) wake no poll at all; a dep's
// own file written without pause wakes at most one poll per 10 ms (after
// a burst of a few); and a
// death, or a close of the dep's lock file, still wakes the poller.
func TestWatchWakeUpsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if !hintTrusted(dir) {
		t.Skipf("inotify not trusted on %s's filesystem", dir)
	}
	w, _ := testWatcher(dir, "main")
	w.watched, w.decided = time.Hour, true
	ctx, cancel := context.WithCancel(context.Background())
	tk := w.pace(ctx, newPollTicker(ctx, w.interval, w.log))
	if _, ok := tk.(*hintTicker); !ok {
		cancel()
		t.Fatalf("no hint ticker on %s", dir)
	}
	var wakes atomic.Int64 // each wake-up is one poll in run
	done := make(chan struct{})
	go func() {
		defer close(done)
		for tk.wait(ctx) {
			wakes.Add(1)
		}
	}()
	defer func() { cancel(); <-done; tk.stop() }()
	woken := func(what, name, content string) {
		t.Helper()
		n := wakes.Load()
		writeFile(t, dir, name, content)
		waitFor(t, what+" to wake the poller", func() bool { return wakes.Load() > n })
	}
	writeFile(t, dir, "main", bornYAML)
	waitFor(t, "a first wake-up", func() bool { return wakes.Load() > 0 })
	time.Sleep(50 * time.Millisecond) // let what the first write raised pass

	n, writes, took := appendFor(t, dir, "app.log", &wakes)
	t.Logf("%d writes to app.log in %v: %d polls", writes, took, n)
	if n > 3 {
		t.Errorf("%d writes to app.log in %v woke %d polls, want none", writes, took, n)
	}
	n, writes, took = appendFor(t, dir, "main", &wakes)
	t.Logf("%d writes to main in %v: %d polls", writes, took, n)
	if n > int64(took/(10*time.Millisecond))+20 {
		t.Errorf("%d writes to main in %v woke %d polls, want at most one per 10 ms (after a burst of a few)", writes, took, n)
	}
	time.Sleep(50 * time.Millisecond)
	woken("a close of the dep's lock file", ".main.lock", "")
	time.Sleep(50 * time.Millisecond)
	woken("a death", "main", diedYAML)
}

// appendFor appends to dir/name without pause for 1.5 s and returns how many
// wake-ups the writes raised, how many writes and how long it took.
func appendFor(t *testing.T, dir, name string, wakes *atomic.Int64) (n int64, writes int, took time.Duration) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, start := wakes.Load(), time.Now()
	for time.Since(start) < 1500*time.Millisecond {
		if _, err := f.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		writes++
	}
	took = time.Since(start)
	time.Sleep(50 * time.Millisecond) // the wake-ups the last writes raised
	return wakes.Load() - before, writes, took
}
