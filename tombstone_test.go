package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func ptr[T any](v T) *T { return &v }

func mustTime(t *testing.T, s string) *time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return &tm
}

// The fixtures in testdata/tombstones hold the exact bytes the original
// kubexit writes; ours must be identical.
func TestTombstoneMarshalMatchesFixtures(t *testing.T) {
	t.Parallel()
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	died := mustTime(t, "2026-11-25T23:21:14.610530456Z")
	for file, ts := range map[string]tombstone{
		"born.yaml":             {Born: born},
		"died.yaml":             {Born: born, Died: died, ExitCode: ptr(0)},
		"died-143.yaml":         {Born: born, Died: mustTime(t, "2026-11-25T23:21:15.5Z"), ExitCode: ptr(143)},
		"died-not-started.yaml": {Died: died, ExitCode: ptr(127)},
	} {
		want, err := os.ReadFile(filepath.Join("testdata/tombstones", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := ts.marshal(); !bytes.Equal(got, want) {
			t.Errorf("%s: marshal =\n%q\nwant\n%q", file, got, want)
		}
	}
}

// originalTombstone has the shape of the original kubexit's tombstone type;
// the original writes it with sigs.k8s.io/yaml.Marshal.
type originalTombstone struct {
	Born     *time.Time `json:",omitempty"`
	Died     *time.Time `json:",omitempty"`
	ExitCode *int       `json:",omitempty"`
}

// TestTombstoneMarshalMatchesOriginalEncoder compares our hand-written
// encoder with the original's encoder (sigs.k8s.io/yaml) on many values,
// including timestamps whose nanoseconds have trailing zeros.
func TestTombstoneMarshalMatchesOriginalEncoder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		born := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
		if i%3 == 0 {
			born = born.Truncate(time.Millisecond)
		}
		if i%7 == 0 {
			born = born.Truncate(time.Second)
		}
		died := born.Add(time.Duration(r.Int64N(int64(time.Hour))))
		code := r.IntN(256)
		cases := []tombstone{{Born: &born}, {Born: &born, Died: &died, ExitCode: &code}, {Died: &died, ExitCode: &code}}
		for _, ts := range cases {
			want, err := yaml.Marshal(originalTombstone(ts))
			if err != nil {
				t.Fatal(err)
			}
			if got := ts.marshal(); !bytes.Equal(got, want) {
				t.Fatalf("marshal =\n%s\noriginal encoder =\n%s", got, want)
			}
		}
	}
}

func TestParseTombstoneFixtures(t *testing.T) {
	t.Parallel()
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	died := mustTime(t, "2026-11-25T23:21:14.610530456Z")
	for _, tc := range []struct {
		file string
		want tombstone
	}{
		{"born.yaml", tombstone{Born: born}},
		{"died.yaml", tombstone{Born: born, Died: died, ExitCode: ptr(0)}},
		{"died.json", tombstone{Born: born, Died: died, ExitCode: ptr(0)}},
		{"died-lowercase.yaml", tombstone{Born: born, Died: died, ExitCode: ptr(0)}},
		{"died-offset.yaml", tombstone{Born: born, Died: died, ExitCode: ptr(0)}},
		{"died-not-started.yaml", tombstone{Died: died, ExitCode: ptr(127)}},
	} {
		data, err := os.ReadFile(filepath.Join("testdata/tombstones", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseTombstone(data)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !sameTime(got.Born, tc.want.Born) || !sameTime(got.Died, tc.want.Died) || !sameInt(got.ExitCode, tc.want.ExitCode) {
			t.Errorf("%s: got %v, want %v", tc.file, got, tc.want)
		}
	}
}

func TestParseTombstoneRejectsUnreadable(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"empty.yaml", "truncated.yaml", "truncated-key.yaml", "zeros.yaml", "garbled.yaml", "bad-time.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata/tombstones", file))
		if err != nil {
			t.Fatal(err)
		}
		if ts, err := parseTombstone(data); err == nil {
			t.Errorf("%s: parsed as %v, want an error", file, ts)
		}
	}
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}
func sameInt(a, b *int) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func TestWriteTombstoneCreatesGraveyardAndFileModes(t *testing.T) {
	old := setUmask(0o077) // the modes must not depend on the umask
	defer setUmask(old)
	dir := filepath.Join(t.TempDir(), "a", "graveyard")
	born := time.Now()
	if err := writeTombstone(dir, "app", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("tombstone mode %v, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("graveyard holds %d entries, want only the tombstone (no temporary files left)", len(entries))
	}
}

func TestWriteTombstoneFailsOnUnwritableGraveyard(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o644)
	if err := writeTombstone(file, "app", tombstone{}); err == nil {
		t.Fatal("writeTombstone into a regular file succeeded")
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{".app.tmp-123", ".app.tmp-x", ".other.tmp-1", "app"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	removeStaleTemps(dir, "app")
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || left[0] != ".other.tmp-1" || left[1] != "app" {
		t.Errorf("left %v, want [.other.tmp-1 app]", left)
	}
}

// TestTombstoneRewritesNeverSeenPartial rewrites one tombstone thousands of
// times while readers read it as fast as they can: every read must parse.
func TestTombstoneRewritesNeverSeenPartial(t *testing.T) {
	t.Parallel()
	dir := fastTempDir(t)
	born := time.Now()
	if err := writeTombstone(dir, "app", tombstone{Born: &born}); err != nil {
		t.Fatal(err)
	}
	const writes = 3000
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 512)
			for !stop.Load() {
				data, err := readTombstoneFile(filepath.Join(dir, "app"), buf)
				if err != nil {
					t.Errorf("read: %v", err)
					bad.Add(1)
					return
				}
				if _, err := parseTombstone(data); err != nil {
					t.Errorf("reader saw a partial tombstone %q: %v", data, err)
					bad.Add(1)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < writes && bad.Load() == 0; i++ {
		now := time.Now()
		ts := tombstone{Born: &born}
		if i%2 == 1 {
			ts.Died, ts.ExitCode = &now, ptr(i%256)
		}
		if err := writeTombstone(dir, "app", ts); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("readers read nothing")
	}
	t.Logf("%d rewrites, %d reads, all complete", writes, reads.Load())
}

func setUmask(mask int) int { return syscall.Umask(mask) }

// fastTempDir is a temporary directory on tmpfs when the machine has one, so
// that tests doing thousands of fsyncs do not wait on a disk. Rename
// atomicity is the same there.
func fastTempDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "kubexit-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
