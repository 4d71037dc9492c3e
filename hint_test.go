package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
