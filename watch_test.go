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

	"golang.org/x/sys/unix"
)

func testWatcher(dir string, deps ...string) (*deathWatcher, *syncBuffer) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	return newDeathWatcher(dir, deps, 10*time.Millisecond, deathPolicy{On: deathOnAny}, log), logs
}

// expectPoll polls once and fails the test unless a death is reported
// exactly when want; what is what the poll saw. It returns the first death.
func expectPoll(t *testing.T, w *deathWatcher, want bool, what string) death {
	t.Helper()
	if ds := expectPollSet(t, w, want, what); want {
		return ds.List[0]
	}
	return death{}
}

// expectPollSet is expectPoll for the whole set of deaths reported.
func expectPollSet(t *testing.T, w *deathWatcher, want bool, what string) deathSet {
	t.Helper()
	ds, ok := w.poll()
	switch {
	case ok && !want:
		t.Fatalf("deaths %v reported for %s", ds, what)
	case !ok && want:
		t.Fatalf("no death reported for %s", what)
	}
	return ds
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
// A tombstone with only ExitCode (neither Born nor Died) is no death, under
// every policy, as for the original, which looks for Died; --status shows it
// unknown and --wait died does not return for it (cli_status.txtar).
func TestPollExitCodeOnlyIsNotDeath(t *testing.T) {
	t.Parallel()
	for _, on := range []string{deathOnAny, deathOnSuccess, deathOnFinal} {
		dir := t.TempDir()
		w, _ := testWatcher(dir, "main")
		w.policy = deathPolicy{On: on}
		writeFile(t, dir, "main", "ExitCode: 0\n")
		expectPoll(t, w, false, "an ExitCode-only tombstone, KUBEXIT_DEATH_ON="+on)
	}
}

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
	died := make(chan deathSet, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx, died)
	writeFile(t, dir, "b", diedYAML)
	select {
	case d := <-died:
		if len(d.List) != 1 || d.List[0].Dep != "b" {
			t.Fatalf("deaths %v, want b's", d)
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

// Polls list the graveyard only where an open by name could miss a new
// tombstone (NFS's lookup cache): not on tmpfs or a local disk, where a
// listing of a large graveyard is pure cost. Deaths are seen either way.
func TestPollListsOnlyWhereNeeded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		parent string
		fs     string
	}{{"/dev/shm", "tmpfs"}, {os.TempDir(), "the temp dir's"}} {
		var st unix.Statfs_t
		if err := unix.Statfs(c.parent, &st); err != nil {
			t.Logf("%s: %v; skipped", c.parent, err)
			continue
		}
		local := map[int64]bool{unix.TMPFS_MAGIC: true, unix.EXT4_SUPER_MAGIC: true, unix.XFS_SUPER_MAGIC: true, unix.BTRFS_SUPER_MAGIC: true}[int64(st.Type)]
		dir, err := os.MkdirTemp(c.parent, "kubexit-list-")
		if err != nil {
			t.Logf("%s: %v; skipped", c.parent, err)
			continue
		}
		defer os.RemoveAll(dir)
		w, _ := testWatcher(dir, "main")
		expectPoll(t, w, false, "no tombstone")
		if w.g.listing == local {
			t.Errorf("%s (%s, type %#x): listing %v", dir, c.fs, st.Type, w.g.listing)
		}
		writeFile(t, dir, "main", diedYAML)
		expectPoll(t, w, true, "main's Died tombstone")
	}
}

// BenchmarkPollLargeGraveyard is BenchmarkPoll with 10,000 other files in
// the graveyard (on the temp dir's filesystem): as decided there (local:
// not listed), and listed every poll, as on NFS and FUSE.
func BenchmarkPollLargeGraveyard(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		writeFile(b, dir, fmt.Sprintf("other-%d", i), bornYAML)
	}
	writeFile(b, dir, "main", bornYAML)
	for _, listed := range []bool{false, true} {
		b.Run(fmt.Sprintf("listed=%v", listed), func(b *testing.B) {
			w := newDeathWatcher(dir, []string{"main"}, time.Second, deathPolicy{On: deathOnAny}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
			w.poll()
			w.g.listing = w.g.listing || listed
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := w.poll(); ok {
					b.Fatal("death")
				}
			}
		})
	}
}

// quorumWatcher is a watcher of deps with KUBEXIT_DEATH_QUORUM quorum (0: all).
func quorumWatcher(dir string, quorum int, deps ...string) (*deathWatcher, *syncBuffer) {
	w, logs := testWatcher(dir, deps...)
	w.quorum = quorum
	return w, logs
}

// expectDeps checks the deps reported, in order.
func expectDeps(t *testing.T, ds deathSet, want ...string) {
	t.Helper()
	var got []string
	for _, d := range ds.List {
		got = append(got, d.Dep)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("deaths of %v, want %v", got, want)
	}
}

// A quorum of 2 of 3: the first death is logged as progress, once, and not
// reported; the second makes the quorum, and both are reported and named.
func TestPollQuorumTwoOfThree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := quorumWatcher(dir, 2, "a", "b", "c")
	writeFile(t, dir, "a", diedYAML)
	writeFile(t, dir, "b", bornYAML)
	for i := 0; i < 5; i++ {
		expectPoll(t, w, false, "one death of the two needed")
	}
	const progress = "death dep a died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=2 of 3); waiting for 1 more of b, c"
	if n := strings.Count(logs.String(), progress); n != 1 {
		t.Errorf("progress logged %d times, want once:\n%s", n, logs)
	}
	writeFile(t, dir, "b", diedYAML)
	ds := expectPollSet(t, w, true, "the second death")
	expectDeps(t, ds, "a", "b")
	if got, want := ds.cause(), "death deps a, b died (KUBEXIT_DEATH_QUORUM=2 of 3)"; got != want {
		t.Errorf("cause %q, want %q", got, want)
	}
}

// KUBEXIT_DEATH_QUORUM=all waits for every dep.
func TestPollQuorumAll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := quorumWatcher(dir, 0, "a", "b")
	writeFile(t, dir, "b", diedYAML)
	expectPoll(t, w, false, "b's death alone")
	if want := "death dep b died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for a"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	writeFile(t, dir, "a", diedYAML)
	ds := expectPollSet(t, w, true, "both deaths")
	expectDeps(t, ds, "a", "b")
	if got, want := ds.cause(), "death deps a, b died (KUBEXIT_DEATH_QUORUM=all)"; got != want {
		t.Errorf("cause %q, want %q", got, want)
	}
	if got := ds.String(); !strings.HasPrefix(got, "a: ") || !strings.Contains(got, "; b: ") {
		t.Errorf("String %q names the deps' tombstones?", got)
	}
}

// A counted death stays counted while its tombstone cannot be read (midway
// through a rewrite in place, as the original kubexit writes: truncated,
// then written), so a wake-up in between does not drop it from the quorum.
func TestPollQuorumUnreadableKeepsDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := quorumWatcher(dir, 0, "a", "b")
	writeFile(t, dir, "a", diedYAML)
	expectPoll(t, w, false, "a's death alone")
	writeFile(t, dir, "a", "")
	expectPoll(t, w, false, "a's tombstone emptied")
	writeFile(t, dir, "a", "Born: \"2026-11-25T23:21:1")
	expectPoll(t, w, false, "a's tombstone half written")
	if strings.Contains(logs.String(), "no longer counts") {
		t.Errorf("a's death dropped out while unreadable:\n%s", logs)
	}
	writeFile(t, dir, "b", diedYAML)
	expectDeps(t, expectPollSet(t, w, true, "b's death with a's kept"), "a", "b")
}

// More deaths than the quorum at once are all reported: the quorum is what
// is needed, the set is what happened.
func TestPollQuorumReportsWholeSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := quorumWatcher(dir, 2, "a", "b", "c")
	for _, dep := range []string{"a", "b", "c"} {
		writeFile(t, dir, dep, diedYAML)
	}
	expectDeps(t, expectPollSet(t, w, true, "three deaths"), "a", "b", "c")
}

// With a quorum of 1 (the default), or all of one dep, the first dead dep is
// reported alone and told as before quorums existed.
func TestPollQuorumOne(t *testing.T) {
	t.Parallel()
	for _, quorum := range []int{1, 0} {
		dir := t.TempDir()
		deps := []string{"a", "b"}
		if quorum == 0 {
			deps = deps[:1]
		}
		w, logs := quorumWatcher(dir, quorum, deps...)
		for _, dep := range deps {
			writeFile(t, dir, dep, diedYAML)
		}
		ds := expectPollSet(t, w, true, "a's death")
		expectDeps(t, ds, "a")
		if ds.cause() != "death dep a died" || ds.headline() != "death dep died" || ds.describe("already dead") != "death dep a already dead" {
			t.Errorf("quorum %d: cause %q, headline %q", quorum, ds.cause(), ds.headline())
		}
		if strings.Contains(logs.String(), "deaths needed") {
			t.Errorf("quorum %d: progress logged:\n%s", quorum, logs)
		}
	}
}

// A dep born again (a new Born after its Died) before the quorum is met
// drops out: logged once, it no longer counts, and counts again when it
// dies again. A removed tombstone drops out too.
func TestPollQuorumRebornDropsOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, logs := quorumWatcher(dir, 0, "a", "b", "c")
	writeFile(t, dir, "a", diedYAML)
	writeFile(t, dir, "c", diedYAML)
	expectPoll(t, w, false, "a's and c's deaths")
	writeFile(t, dir, "a", rebornYAML)
	os.Remove(filepath.Join(dir, "c"))
	for i := 0; i < 3; i++ {
		expectPoll(t, w, false, "a born again, c gone")
	}
	for _, want := range []string{
		"death dep a was born again: its death no longer counts; 0 of 3 deaths needed (KUBEXIT_DEATH_QUORUM=all)",
		"death dep c has no tombstone any more: its death no longer counts; 0 of 3 deaths needed",
	} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", want, n, logs)
		}
	}
	if strings.Contains(logs.String(), "death dep is alive again") {
		t.Errorf("the rebirth was logged twice:\n%s", logs)
	}
	writeFile(t, dir, "b", diedYAML)
	writeFile(t, dir, "c", diedYAML)
	expectPoll(t, w, false, "b's and c's deaths, a alive")
	writeFile(t, dir, "a", diedYAML)
	expectDeps(t, expectPollSet(t, w, true, "a dead again"), "a", "b", "c")
}

// Under KUBEXIT_DEATH_ON=success a failed death does not count towards the
// quorum; under final each dep settles on its own.
func TestPollQuorumDeathOn(t *testing.T) {
	t.Parallel()
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		w, logs := quorumWatcher(dir, 0, "a", "b")
		w.policy = deathPolicy{On: deathOnSuccess}
		writeFile(t, dir, "a", failedYAML)
		writeFile(t, dir, "b", diedYAML)
		expectPoll(t, w, false, "a failed, b succeeded")
		if want := "death dep b died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for a"; !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
		writeFile(t, dir, "a", rebornYAML)
		expectPoll(t, w, false, "a restarted")
		writeFile(t, dir, "a", "Born: \"2026-11-25T23:21:20Z\"\nDied: \"2026-11-25T23:21:21Z\"\nExitCode: 0\n")
		expectDeps(t, expectPollSet(t, w, true, "a succeeded"), "a", "b")
	})
	t.Run("final", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		w, _ := quorumWatcher(dir, 0, "a", "b")
		w.policy = deathPolicy{On: deathOnFinal, Settle: 30 * time.Second}
		died := time.Date(2026, 11, 25, 23, 21, 14, 0, time.UTC)
		now := died
		w.now = func() time.Time { return now }
		at := func(d time.Time) string {
			return "Born: \"2026-11-25T23:00:00Z\"\nDied: \"" + d.Format(time.RFC3339Nano) + "\"\nExitCode: 0\n"
		}
		writeFile(t, dir, "a", at(died))
		now = died.Add(20 * time.Second)
		writeFile(t, dir, "b", at(now))
		expectPoll(t, w, false, "neither settled")
		now = died.Add(40 * time.Second) // a settled, b 20 s old
		expectPoll(t, w, false, "only a settled")
		now = died.Add(50 * time.Second)
		expectDeps(t, expectPollSet(t, w, true, "both settled"), "a", "b")
	})
}

// A lost death counts towards the quorum, marked as lost in the message.
func TestPollQuorumLostDeath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	liveDep(t, dir, "a", time.Now())()
	w, _ := lockWatcher(t, dir, deathPolicy{On: deathOnAny})
	w.deps, w.quorum = []string{"a", "b"}, 0
	w.state = map[string]*depState{}
	for _, d := range w.deps {
		w.state[d] = &depState{}
	}
	expectPoll(t, w, false, "a lost, b alive")
	writeFile(t, dir, "b", diedYAML)
	ds := expectPollSet(t, w, true, "a lost, b dead")
	expectDeps(t, ds, "a", "b")
	want := "death deps a (lost), b died (KUBEXIT_DEATH_QUORUM=all; lost: its kubexit ended without recording a death, as when killed)"
	if got := ds.cause(); got != want {
		t.Errorf("cause %q, want %q", got, want)
	}
	if got := ds.String(); !strings.Contains(got, "a: ") || !strings.Contains(got, "lost: its kubexit ended without recording a death; status unknown") {
		t.Errorf("String %q does not tell of a's lost death", got)
	}
}

// An idle poll of a quorum above 1, with a death counted, costs no more
// allocations than an idle poll of the default quorum with no death: the
// dead set is reused.
func TestPollQuorumIdleAllocs(t *testing.T) {
	allocs := func(quorum int, a string) float64 {
		dir := t.TempDir()
		w, _ := quorumWatcher(dir, quorum, "a", "b", "c")
		writeFile(t, dir, "a", a)
		writeFile(t, dir, "b", bornYAML)
		w.poll()
		return testing.AllocsPerRun(100, func() {
			if _, ok := w.poll(); ok {
				t.Fatal("death reported")
			}
		})
	}
	one, all := allocs(1, bornYAML), allocs(0, diedYAML)
	if all > one {
		t.Errorf("%v allocations per idle poll with a quorum of all and a death counted, %v with a quorum of 1", all, one)
	}
	t.Logf("allocations per idle poll: %v (quorum all, one death), %v (quorum 1)", all, one)
}
