package main

import (
	"bytes"
	"context"
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

func TestPollMissingGraveyardIsNotDeath(t *testing.T) {
	w, logs := testWatcher(filepath.Join(t.TempDir(), "nope"), "main")
	if d, ok := w.poll(); ok {
		t.Fatalf("death %v in a missing graveyard", d)
	}
	if logs.String() != "" {
		t.Errorf("a missing graveyard was logged: %s", logs)
	}
}

func TestPollSeesBirthThenDeath(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	writeFile(t, dir, "other", diedYAML) // not a dep
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for a tombstone that is not a dep")
	}
	writeFile(t, dir, "main", bornYAML)
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for a Born-only tombstone")
	}
	writeFile(t, dir, "main", diedYAML)
	d, ok := w.poll()
	if !ok || d.Dep != "main" || d.Tombstone.ExitCode == nil || *d.Tombstone.ExitCode != 0 {
		t.Fatalf("poll = %v, %v; want main's death", d, ok)
	}
}

// A rewrite in place that keeps size, inode and mtime (as within one mtime
// tick on sshfs, or on NFS with cached attributes) is still seen: content
// decides, not stat.
func TestPollSeesRewriteThatKeepsStat(t *testing.T) {
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
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for a tombstone without Died")
	}
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
	if _, ok := w.poll(); !ok {
		t.Fatal("in-place rewrite with the same size, inode and mtime not seen")
	}
}

// A rename-replace (what kubexit itself does) whose new file carries the old
// mtime is seen.
func TestPollSeesRenameReplace(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	path := writeFile(t, dir, "main", bornYAML)
	before, _ := os.Stat(path)
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for Born")
	}
	tmp := writeFile(t, dir, ".tmp", diedYAML)
	os.Chtimes(tmp, before.ModTime(), before.ModTime())
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.poll(); !ok {
		t.Fatal("rename-replace not seen")
	}
}

// A garbled or truncated tombstone is "not readable yet": logged once,
// polling goes on, and a later complete write is seen.
func TestPollGarbledLoggedOnceThenRecovers(t *testing.T) {
	dir := t.TempDir()
	w, logs := testWatcher(dir, "main")
	writeFile(t, dir, "main", "Born: \"2026-11-25T23:21:14.604215824Z\"\nDied: \"2026-11-25T23:2")
	for i := 0; i < 5; i++ {
		if _, ok := w.poll(); ok {
			t.Fatal("death reported for a truncated tombstone")
		}
	}
	writeFile(t, dir, "main", "\x00\x01garbage: [")
	for i := 0; i < 5; i++ {
		w.poll()
	}
	if n := strings.Count(logs.String(), "not readable yet"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs)
	}
	writeFile(t, dir, "main", diedYAML)
	if _, ok := w.poll(); !ok {
		t.Fatal("death not seen after the tombstone became readable")
	}
}

// The empty file that a non-atomic writer (the original kubexit) leaves
// between truncate and write is not a death, nor a crash.
func TestPollEmptyTombstone(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	writeFile(t, dir, "main", "")
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for an empty tombstone")
	}
	writeFile(t, dir, "main", diedYAML)
	if _, ok := w.poll(); !ok {
		t.Fatal("death not seen")
	}
}

// A tombstone that disappears (graveyard cleaned) is not dead any more.
func TestPollRemovedTombstone(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWatcher(dir, "main")
	path := writeFile(t, dir, "main", bornYAML)
	w.poll()
	os.Remove(path)
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for a removed tombstone")
	}
}

func TestPollHugeTombstoneIsUnreadable(t *testing.T) {
	dir := t.TempDir()
	w, logs := testWatcher(dir, "main")
	writeFile(t, dir, "main", diedYAML+"# "+strings.Repeat("x", maxTombstoneSize)+"\n")
	if _, ok := w.poll(); ok {
		t.Fatal("death reported for an oversized file")
	}
	if !strings.Contains(logs.String(), "larger than") {
		t.Errorf("oversized tombstone not logged: %s", logs)
	}
}

func TestRunSendsDeath(t *testing.T) {
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
