package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testWatcher(dir string, deps ...string) (*deathWatcher, *syncBuffer) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	return newDeathWatcher(dir, deps, 10*time.Millisecond, deathPolicy{On: deathOnAny}, log), logs
}

const (
	bornYAML = "Born: \"2026-11-25T23:21:14.604215824Z\"\n"
	diedYAML = "Born: \"2026-11-25T23:21:14.604215824Z\"\nDied: \"2026-11-25T23:21:14.610530456Z\"\nExitCode: 0\n"
)

// expectPoll polls once and fails the test unless a death is reported
// exactly when want; what is what the poll saw.
func expectPoll(t *testing.T, w *deathWatcher, want bool, what string) death {
	t.Helper()
	d, ok := w.poll()
	switch {
	case ok && !want:
		t.Fatalf("death %v reported for %s", d, what)
	case !ok && want:
		t.Fatalf("no death reported for %s", what)
	}
	return d
}

func TestPollMissingGraveyardIsNotDeath(t *testing.T) {
	t.Parallel()
	w, logs := testWatcher(filepath.Join(t.TempDir(), "nope"), "main")
	expectPoll(t, w, false, "a missing graveyard")
	if logs.String() != "" {
		t.Errorf("a missing graveyard was logged: %s", logs)
	}
}

func TestPollSeesBirthThenDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	writeFile(t, dir, "other", diedYAML) // not a dep
	expectPoll(t, w, false, "a tombstone that is not a dep")
	writeFile(t, dir, "main", bornYAML)
	expectPoll(t, w, false, "a Born-only tombstone")
	writeFile(t, dir, "main", diedYAML)
	d := expectPoll(t, w, true, "main's Died tombstone")
	if d.Dep != "main" || d.Tombstone.ExitCode == nil || *d.Tombstone.ExitCode != 0 {
		t.Fatalf("poll = %v; want main's death", d)
	}
}

// A rewrite in place that keeps size, inode and mtime (as within one mtime
// tick on sshfs, or on NFS with cached attributes) is still seen: content
// decides, not stat.
func TestPollSeesRewriteThatKeepsStat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	// Born only, padded with a comment to diedYAML's length, so that the
	// in-place rewrite keeps the size.
	alive := bornYAML + "#" + strings.Repeat(" ", len(diedYAML)-len(bornYAML)-2) + "\n"
	if len(alive) != len(diedYAML) {
		t.Fatalf("bad fixture: %d vs %d bytes", len(alive), len(diedYAML))
	}
	path := writeFile(t, dir, "main", alive)
	before, _ := os.Stat(path)
	expectPoll(t, w, false, "a tombstone without Died")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(diedYAML), 0)
	f.Close()
	os.Chtimes(path, before.ModTime(), before.ModTime())
	after, _ := os.Stat(path)
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Fatal("test did not keep size, mtime and inode")
	}
	expectPoll(t, w, true, "an in-place rewrite that kept size, inode and mtime")
}

// A rename-replace (what kubexit itself does) whose new file carries the old
// mtime is seen.
func TestPollSeesRenameReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	path := writeFile(t, dir, "main", bornYAML)
	before, _ := os.Stat(path)
	expectPoll(t, w, false, "a Born-only tombstone")
	tmp := writeFile(t, dir, ".tmp", diedYAML)
	os.Chtimes(tmp, before.ModTime(), before.ModTime())
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expectPoll(t, w, true, "a rename-replace")
}

// A garbled or truncated tombstone is "not readable yet": logged once,
// polling goes on, and a later complete write is seen.
func TestPollGarbledLoggedOnceThenRecovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := testWatcher(dir, "main")
	writeFile(t, dir, "main", "Born: \"2026-11-25T23:21:14.604215824Z\"\nDied: \"2026-11-25T23:2")
	for i := 0; i < 5; i++ {
		expectPoll(t, w, false, "a truncated tombstone")
	}
	writeFile(t, dir, "main", "\x00\x01garbage: [")
	for i := 0; i < 5; i++ {
		w.poll()
	}
	if n := strings.Count(logs.String(), "not readable yet"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs)
	}
	writeFile(t, dir, "main", diedYAML)
	expectPoll(t, w, true, "the tombstone once readable")
}

// The empty file that a non-atomic writer (the original kubexit) leaves
// between truncate and write is not a death, nor a crash.
func TestPollEmptyTombstone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	writeFile(t, dir, "main", "")
	expectPoll(t, w, false, "an empty tombstone")
	writeFile(t, dir, "main", diedYAML)
	expectPoll(t, w, true, "Died after the empty file")
}

// A tombstone that disappears (graveyard cleaned) is not dead any more.
func TestPollRemovedTombstone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	path := writeFile(t, dir, "main", bornYAML)
	w.poll()
	os.Remove(path)
	expectPoll(t, w, false, "a removed tombstone")
}

func TestPollHugeTombstoneIsUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := testWatcher(dir, "main")
	writeFile(t, dir, "main", diedYAML+"# "+strings.Repeat("x", maxTombstoneSize)+"\n")
	expectPoll(t, w, false, "an oversized file")
	if !strings.Contains(logs.String(), "larger than") {
		t.Errorf("oversized tombstone not logged: %s", logs)
	}
}

func TestRunSendsDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := testWatcher(dir, "a", "b")
	died := make(chan death, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx, died)
	writeFile(t, dir, "b", diedYAML)
	select {
	case d := <-died:
		if d.Dep != "b" {
			t.Fatalf("death of %q, want b", d.Dep)
		}
	case <-time.After(testTimeout):
		t.Fatal("no death reported")
	}
}

// TestDeathOn runs a kubexit in each KUBEXIT_DEATH_ON mode against a dep
// that dies (exit 1), is restarted (new Born), and dies again (exit 0).
func TestDeathOn(t *testing.T) {
	t.Parallel()
	const (
		died1 = "Born: \"2026-11-25T23:21:14Z\"\nDied: \"%s\"\nExitCode: 1\n"
		born2 = "Born: \"%s\"\n"
		died2 = "Born: \"2026-11-25T23:21:20Z\"\nDied: \"%s\"\nExitCode: 0\n"
	)
	now := func() string { return time.Now().UTC().Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		mode, settle string
		// killedByFirst: the first death (exit 1) terminates the child.
		killedByFirst bool
		// firstLog is what kubexit logs about the first death when it does not count.
		firstLog string
	}{
		{"any", "", true, ""},
		{"success", "", false, "does not count with KUBEXIT_DEATH_ON=success"},
		{"final", "10s", false, "it counts if it is not born again within KUBEXIT_DEATH_SETTLE"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			gy := t.TempDir()
			env := map[string]string{
				"KUBEXIT_NAME": "sidecar", "KUBEXIT_GRAVEYARD": gy, "KUBEXIT_DEATH_DEPS": "main",
				"KUBEXIT_DEATH_ON": tc.mode,
			}
			if tc.settle != "" {
				env["KUBEXIT_DEATH_SETTLE"] = tc.settle
			}
			p, _ := startReady(t, env, loopUntilSignalled)
			writeFile(t, gy, "main", fmt.Sprintf(died1, now()))
			if tc.killedByFirst {
				if code := p.wait(); code != 143 {
					t.Fatalf("exit status %d, want 143; stderr:\n%s", code, p.stderr)
				}
				return
			}
			waitFor(t, "the first death to be noted", func() bool { return strings.Contains(p.stderr.String(), tc.firstLog) })
			writeFile(t, gy, "main", fmt.Sprintf(born2, now()))
			waitFor(t, "the restart to be noted", func() bool { return strings.Contains(p.stderr.String(), "death dep is alive again") })
			if p.exited() {
				t.Fatalf("kubexit exited on a death that does not count:\n%s", p.stderr)
			}
			writeFile(t, gy, "main", fmt.Sprintf(died2, now()))
			if code := p.wait(); code != 143 {
				t.Fatalf("exit status %d, want 143 after the final death; stderr:\n%s", code, p.stderr)
			}
		})
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// BenchmarkPoll measures one poll of a graveyard holding a live dep's
// tombstone: the per-tick cost that, times the poll rate, is kubexit's idle
// CPU.
func BenchmarkPoll(b *testing.B) {
	dir := b.TempDir()
	for _, n := range []string{"main", "proxy", "logger"} {
		writeFile(b, dir, n, bornYAML)
	}
	w := newDeathWatcher(dir, []string{"main"}, time.Second, deathPolicy{On: deathOnAny}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := w.poll(); ok {
			b.Fatal("death")
		}
	}
}
