package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
			want, err := yaml.Marshal(originalTombstone{Born: ts.Born, Died: ts.Died, ExitCode: ts.ExitCode})
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
		{"died-exit-zero.yaml", tombstone{Born: born, Died: died, ExitCode: ptr(143), ContainerExitCode: ptr(0)}},
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
		if !sameTime(got.Born, tc.want.Born) || !sameTime(got.Died, tc.want.Died) || !sameInt(got.ExitCode, tc.want.ExitCode) || !sameInt(got.ContainerExitCode, tc.want.ContainerExitCode) {
			t.Errorf("%s: got %v, want %v", tc.file, got, tc.want)
		}
		// The original's reader (sigs.k8s.io/yaml into its struct) reads
		// every fixture, ours included, to the same Born, Died and ExitCode.
		var orig originalTombstone
		if err := yaml.Unmarshal(data, &orig); err != nil || !sameTime(orig.Born, tc.want.Born) || !sameTime(orig.Died, tc.want.Died) || !sameInt(orig.ExitCode, tc.want.ExitCode) {
			t.Errorf("%s: the original's reader got %+v, %v", tc.file, orig, err)
		}
		if got := tc.want.marshal(); tc.file == "died-exit-zero.yaml" && !bytes.Equal(got, data) {
			t.Errorf("%s: ours writes %q", tc.file, got)
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

// graveyardUsable creates a missing graveyard and refuses one that cannot
// be made or written (under a regular file, a read-only mount), but not a
// full one: a restart there still rewrites its tombstone in place. It
// creates no file.
func TestGraveyardUsable(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "a", "graveyard")
	if err := graveyardUsable(missing); err != nil {
		t.Errorf("missing graveyard: %v", err)
	}
	if entries, err := os.ReadDir(missing); err != nil || len(entries) != 0 {
		t.Errorf("missing graveyard: created %v, entries %v; want an empty directory", err, entries)
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(file), "file", "")
	if err := graveyardUsable(filepath.Join(file, "graveyard")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("under a regular file: %v, want ENOTDIR", err)
	}

	full := mountSizedTmpfs(t, "size=64k,nr_inodes=16")
	fillBlocks(t, full)
	fillInodes(t, full)
	if err := graveyardUsable(full); err != nil {
		t.Errorf("full graveyard: %v, want usable", err)
	}
	ro := mountSizedTmpfs(t, "size=64k")
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", ro, err)
	}
	if err := graveyardUsable(ro); !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), ro) {
		t.Errorf("read-only graveyard: %v, want EROFS naming %s", err, ro)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Only what os.CreateTemp makes of ".app.tmp-*" is app's: a number.
	for _, n := range []string{".app.tmp-123", ".app.tmp-4294967295", ".app.tmp-x", ".app.tmp-", ".other.tmp-1", "app"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	removeStaleTemps(dir, "app")
	if left := dirNames(t, dir); !slices.Equal(left, []string{".app.tmp-", ".app.tmp-x", ".other.tmp-1", "app"}) {
		t.Errorf("left %v, want [.app.tmp- .app.tmp-x .other.tmp-1 app]", left)
	}
}

// A graveyard whose path holds glob characters is a path, not a pattern:
// the clean-up of g[1] must not reach into g1, nor that of g* into gx
// (stale temporary files).
func TestRemoveStaleTempsGraveyardPathIsNoPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ graveyard, other string }{
		{"g[1]", "g1"},
		{"g*", "gx"},
		{"g?", "gy"},
		{`g\`, "g"},
	} {
		root := t.TempDir()
		graveyard, other := filepath.Join(root, tc.graveyard), filepath.Join(root, tc.other)
		for _, d := range []string{graveyard, other} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, ".app.tmp-123"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		removeStaleTemps(graveyard, "app")
		if left := dirNames(t, other); !slices.Equal(left, []string{".app.tmp-123"}) {
			t.Errorf("clean-up of %s: %s holds %v, want its in-flight temporary file kept", tc.graveyard, tc.other, left)
		}
		if left := dirNames(t, graveyard); len(left) != 0 {
			t.Errorf("clean-up of %s left %v in it", tc.graveyard, left)
		}
	}
}

// Only regular files are removed; a link of a temporary file's name is not
// followed, and a directory is left alone.
func TestRemoveStaleTempsOnlyRegularFiles(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	target := filepath.Join(elsewhere, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, ".app.tmp-1"))
	os.Mkdir(filepath.Join(dir, ".app.tmp-2"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, ".app.tmp-3"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".app.tmp-4"), nil, 0o644)
	removeStaleTemps(dir, "app")
	if left := dirNames(t, dir); !slices.Equal(left, []string{".app.tmp-1", ".app.tmp-2", ".app.tmp-3"}) {
		t.Errorf("left %v, want the link, the directory and the FIFO", left)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Errorf("link target: %q, %v", b, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
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
	var bad atomic.Int64
	stop := hammerReads(t, filepath.Join(dir, "app"), 3, func(data []byte) bool {
		if _, err := parseTombstone(data); err != nil {
			t.Errorf("reader saw a partial tombstone %q: %v", data, err)
			bad.Add(1)
			return false
		}
		return true
	})
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
	reads := stop()
	if reads == 0 {
		t.Fatal("readers read nothing")
	}
	t.Logf("%d rewrites, %d reads, all complete", writes, reads)
}

// hammerReads starts n readers that read the tombstone at path as fast as
// they can and pass each read to see (false ends that reader). stop ends
// them all and returns how many reads they made.
func hammerReads(t *testing.T, path string, n int, see func(data []byte) bool) (stop func() int64) {
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			for !done.Load() {
				data, err := readTombstoneFile(path, buf)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				buf = data[:0]
				reads.Add(1)
				if !see(data) {
					return
				}
			}
		})
	}
	return func() int64 {
		done.Store(true)
		wg.Wait()
		return reads.Load()
	}
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

// mountSizedTmpfs mounts a tmpfs with opts ("size=64k", "nr_inodes=32") on a new
// directory, and unmounts it when the test ends. It skips only where a mount
// is impossible: not root, or refused (no CAP_SYS_ADMIN).
func mountSizedTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill it needs root")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, opts); err != nil {
		if err == unix.EPERM || err == unix.EACCES {
			t.Skipf("skipped: cannot mount a tmpfs here (%v); the full-filesystem cases need CAP_SYS_ADMIN", err)
		}
		t.Fatalf("mount tmpfs -o %s %s: %v", opts, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// fillBlocks writes a file in dir until the filesystem has no block left.
func fillBlocks(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// A last partial page, if any.
	f.Write(block[:1])
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Bavail != 0 {
		t.Fatalf("filled %s: %d blocks still available (%v)", dir, st.Bavail, err)
	}
}

// fillInodes creates empty files in dir until the filesystem has no inode
// left.
func fillInodes(t *testing.T, dir string) {
	t.Helper()
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("inode-%d", i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return
		}
		f.Close()
	}
}

// A full graveyard must not lose a death: the atomic
// write has no block for its temporary file, so Died is written into the
// tombstone in place. The file then holds exactly what the original writes.
func TestWriteTombstoneFullFilesystemRecordsDeath(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=64k")
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	died := mustTime(t, "2026-11-25T23:21:14.610530456Z")
	if err := writeTombstone(dir, "app", tombstone{Born: born}); err != nil {
		t.Fatal(err)
	}
	fillBlocks(t, dir)
	dead := tombstone{Born: born, Died: died, ExitCode: ptr(0)}
	// The atomic path cannot work here: this test is about the fallback.
	if err := replaceTombstone(dir, "app", dead.marshal()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("atomic write on the full filesystem: %v, want ENOSPC", err)
	}
	if err := writeTombstone(dir, "app", dead); err != nil {
		t.Fatalf("death not recorded on a full graveyard: %v", err)
	}
	checkTombstoneFile(t, filepath.Join(dir, "app"), "died.yaml", dead)
	if left := dirNames(t, dir); !slices.Equal(left, []string{"app", "filler"}) {
		t.Errorf("graveyard holds %v, want [app filler] (no temporary file left)", left)
	}
	fi, _ := os.Stat(filepath.Join(dir, "app"))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 kept", fi.Mode().Perm())
	}
}

// With no inode left, the temporary file cannot even be created; the death
// is recorded in place too.
func TestWriteTombstoneNoInodesRecordsDeath(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=1m,nr_inodes=16")
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	if err := writeTombstone(dir, "app", tombstone{Born: born}); err != nil {
		t.Fatal(err)
	}
	fillInodes(t, dir)
	dead := tombstone{Born: born, Died: mustTime(t, "2026-11-25T23:21:15.5Z"), ExitCode: ptr(143)}
	if err := replaceTombstone(dir, "app", dead.marshal()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("atomic write with no inode free: %v, want ENOSPC", err)
	}
	if err := writeTombstone(dir, "app", dead); err != nil {
		t.Fatalf("death not recorded with no inode free: %v", err)
	}
	checkTombstoneFile(t, filepath.Join(dir, "app"), "died-143.yaml", dead)
}

// A restart on a full graveyard writes a Born over a Died, shorter and not
// an append: the rewrite cuts the file to the new length and leaves exactly
// the new content.
func TestWriteTombstoneFullFilesystemRebirth(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=64k")
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	old := tombstone{Born: mustTime(t, "2026-11-25T23:00:00Z"), Died: mustTime(t, "2026-11-25T23:21:14.610530456Z"), ExitCode: ptr(143)}
	if err := writeTombstone(dir, "app", old); err != nil {
		t.Fatal(err)
	}
	fillBlocks(t, dir)
	if err := replaceTombstone(dir, "app", tombstone{Born: born}.marshal()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("atomic write on the full filesystem: %v, want ENOSPC", err)
	}
	if err := writeTombstone(dir, "app", tombstone{Born: born}); err != nil {
		t.Fatalf("birth not recorded over a death on a full graveyard: %v", err)
	}
	checkTombstoneFile(t, filepath.Join(dir, "app"), "born.yaml", tombstone{Born: born})
}

// checkTombstoneFile checks that the file at path holds the bytes of the
// fixture (the original's format) and parses as want.
func checkTombstoneFile(t *testing.T, path, fixture string, want tombstone) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata/tombstones", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Errorf("tombstone =\n%q\nwant the original's bytes (%s)\n%q", got, fixture, golden)
	}
	ts, err := parseTombstone(got)
	if err != nil {
		t.Fatalf("tombstone does not parse: %v", err)
	}
	if !sameTime(ts.Born, want.Born) || !sameTime(ts.Died, want.Died) || !sameInt(ts.ExitCode, want.ExitCode) {
		t.Errorf("tombstone parses as %v, want %v", ts, want)
	}
}

// When the fallback cannot work either (here: no tombstone to rewrite),
// the error names both failures, and wraps both.
func TestWriteTombstoneBothFail(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=64k")
	fillBlocks(t, dir)
	err := writeTombstone(dir, "app", tombstone{Died: mustTime(t, "2026-11-25T23:21:14.610530456Z"), ExitCode: ptr(127)})
	if err == nil {
		t.Fatal("write on a full filesystem with no tombstone to rewrite succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap both ENOSPC and ENOENT", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, "in place") || !strings.Contains(msg, "no such file") {
		t.Errorf("error %q does not name both failures", msg)
	}
	if _, err := os.Lstat(filepath.Join(dir, "app")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a tombstone appeared: %v", err)
	}
}

// The fallback rewrites only a regular file of the tombstone's name with no
// other name: never through a symbolic link, never a hard link's other
// names, never a FIFO (and without blocking on it).
func TestWriteTombstoneFallbackOnlyRegularFile(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=64k")
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	content := tombstone{Born: born}.marshal()
	for _, f := range []string{"target", "linked"} {
		if err := os.WriteFile(filepath.Join(dir, f), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("target", filepath.Join(dir, "symlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "linked"), filepath.Join(dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fillBlocks(t, dir)
	dead := tombstone{Born: born, Died: mustTime(t, "2026-11-25T23:21:15.5Z"), ExitCode: ptr(1)}
	for name, want := range map[string]string{"symlink": "too many levels of symbolic links", "hardlink": "2 hard links", "fifo": "not a regular file (fifo)"} {
		done := make(chan error, 1)
		go func() { done <- writeTombstone(dir, name, dead) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want an error saying %q", name, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: writeTombstone blocked", name)
		}
	}
	for _, f := range []string{"target", "linked"} {
		if got, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(got, content) {
			t.Errorf("%s changed to %q", f, got)
		}
	}
}

// What a reader may read while a tombstone is rewritten in place: the
// content before each write of rewriteTombstone's second way (a first byte
// made NUL, then the rest, then the length, then the first byte) and every
// mix of old and new bytes a read racing a write could see. None may parse
// as anything but the old tombstone or the new.
func TestRewriteInPlaceStepsNeverParseAsAnotherTombstone(t *testing.T) {
	t.Parallel()
	born := mustTime(t, "2026-11-25T23:21:14.604215824Z")
	died := mustTime(t, "2026-11-25T23:21:15.5Z")
	states := []tombstone{
		{Born: born},
		{Born: born, Died: died, ExitCode: ptr(143)},
		{Born: mustTime(t, "2026-11-25T23:59:59Z")},
		{Died: died, ExitCode: ptr(1)},
		{},
	}
	for _, from := range states {
		for _, to := range states {
			old, new := from.marshal(), to.marshal()
			var seen [][]byte
			if bytes.HasPrefix(new, old) {
				// One write appends the rest; the file grows once it is in.
				seen = append(seen, old, new)
			} else {
				// Steps: NUL first; then new[1:] written over old, byte by
				// byte as a racing read may see it; then cut; then new[0].
				cur := append([]byte{0}, old[1:]...)
				seen = append(seen, old, bytes.Clone(cur))
				for k := 1; k < len(new); k++ {
					if k < len(cur) {
						cur[k] = new[k]
					} else {
						cur = append(cur, new[k])
					}
					seen = append(seen, bytes.Clone(cur))
				}
				cur = cur[:len(new)]
				seen = append(seen, bytes.Clone(cur), new)
			}
			for _, data := range seen {
				// A reader may also read a prefix (the size it saw).
				for n := 0; n <= len(data); n++ {
					got, err := parseTombstone(data[:n])
					if err != nil {
						continue
					}
					if m := got.marshal(); !bytes.Equal(m, old) && !bytes.Equal(m, new) {
						if n < len(data) && (bytes.Equal(data, old) || bytes.Equal(data, new)) {
							continue // a short read of a whole file: not a state a reader sees (the size is read with the data)
						}
						t.Errorf("rewrite %q -> %q: state %q parses as %v, neither old nor new", old, new, data[:n], got)
					}
				}
			}
		}
	}
}

// Readers reading as fast as they can while a tombstone is rewritten in
// place, alternately Born and Born+Died: every read is the old tombstone, the
// new one, or unreadable (and then read again), never another tombstone.
func TestRewriteInPlaceReadersSeeOldNewOrUnreadable(t *testing.T) {
	t.Parallel()
	dir := fastTempDir(t)
	path := filepath.Join(dir, "app")
	born := time.Now()
	alive := tombstone{Born: &born}.marshal()
	if err := os.WriteFile(path, alive, 0o644); err != nil {
		t.Fatal(err)
	}
	var unreadable atomic.Int64
	var mu sync.Mutex
	written := map[string]bool{string(alive): true}
	stop := hammerReads(t, path, 2, func(data []byte) bool {
		ts, err := parseTombstone(data)
		if err != nil {
			unreadable.Add(1)
			return true
		}
		mu.Lock()
		ok := written[string(ts.marshal())]
		mu.Unlock()
		if !ok {
			t.Errorf("reader saw %q, parsed as %v: not a tombstone that was written", data, ts)
		}
		return ok
	})
	for i := 0; i < 2000 && !t.Failed(); i++ {
		next := alive
		if i%2 == 0 {
			now := time.Now()
			next = tombstone{Born: &born, Died: &now, ExitCode: ptr(i % 256)}.marshal()
		}
		mu.Lock()
		written[string(next)] = true
		mu.Unlock()
		if err := rewriteTombstone(path, next); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d reads, %d unreadable (between steps of a rewrite)", stop(), unreadable.Load())
}

// Only a regular file's content is a tombstone: a FIFO,
// a link to one, a link to a device or to a descriptor of this process, a
// socket, a directory are refused before anything is read, without
// blocking, and a FIFO's data stays for its own reader.
func TestReadTombstoneFileOnlyRegularFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	// A FIFO with data in it, held open by its writer (who reads it back).
	if err := syscall.Mkfifo(path("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo, err := os.OpenFile(path("fifo"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	if _, err := fifo.WriteString(diedYAML); err != nil {
		t.Fatal(err)
	}
	os.Symlink(path("fifo"), path("fifo-link"))
	// A pipe of this process, with data, reached through /proc/self/fd.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.Write(p[1], []byte(diedYAML))
	os.Symlink(fmt.Sprintf("/proc/self/fd/%d", p[0]), path("fd-link"))
	os.Symlink("/dev/zero", path("zero-link"))
	os.Symlink("/dev/null", path("null-link"))
	os.Mkdir(path("dir"), 0o755)
	sock, err := net.Listen("unix", path("socket"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	for name, want := range map[string]string{
		"fifo":      "not a regular file (fifo)",
		"fifo-link": "not a regular file (fifo)",
		"fd-link":   "not a regular file (fifo)",
		"zero-link": "not a regular file (character device)",
		"null-link": "not a regular file (character device)",
		"dir":       "not a regular file (directory)",
		"socket":    "no such device or address",
	} {
		type result struct {
			data []byte
			err  error
		}
		done := make(chan result, 1)
		go func() {
			data, err := readTombstoneFile(path(name), make([]byte, 0, 512))
			done <- result{data, err}
		}()
		select {
		case r := <-done:
			if r.err == nil || !strings.Contains(r.err.Error(), want) {
				t.Errorf("%s: read %q, %v; want an error saying %q", name, r.data, r.err, want)
			}
			if errors.Is(r.err, fs.ErrNotExist) {
				t.Errorf("%s: %v counts as no tombstone", name, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: readTombstoneFile blocked", name)
		}
	}
	// Nothing was consumed: the FIFO's and the pipe's readers get their data.
	fifo.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, len(diedYAML))
	if n, err := io.ReadFull(fifo, buf); err != nil || string(buf) != diedYAML {
		t.Errorf("the FIFO's own reader read %q, %v; want its data intact", buf[:n], err)
	}
	if n, err := unix.Read(p[0], buf); err != nil || string(buf[:n]) != diedYAML {
		t.Errorf("the pipe's own reader read %q, %v; want its data intact", buf[:max(n, 0)], err)
	}

	// A link to a regular file is still followed.
	os.WriteFile(path("real"), []byte(diedYAML), 0o644)
	os.Symlink("real", path("link"))
	if data, err := readTombstoneFile(path("link"), nil); err != nil || string(data) != diedYAML {
		t.Errorf("link to a regular file: %q, %v", data, err)
	}
}

// A watcher whose dep's tombstone is a FIFO holding a death neither takes
// that for a death nor takes the data: it warns and keeps polling.
func TestPollFIFOTombstoneNotRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "main"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo, err := os.OpenFile(filepath.Join(dir, "main"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	fifo.WriteString(diedYAML)
	w, logs := testWatcher(dir, "main")
	for i := 0; i < 3; i++ {
		expectPoll(t, w, false, "a FIFO holding a death")
	}
	if !strings.Contains(logs.String(), "not a regular file (fifo)") {
		t.Errorf("no warning naming the FIFO:\n%s", logs.String())
	}
	fifo.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, len(diedYAML))
	if _, err := io.ReadFull(fifo, buf); err != nil || string(buf) != diedYAML {
		t.Errorf("FIFO's data: %q, %v; want it intact", buf, err)
	}
}

// kubexit is PID 1 in most containers: a session leader without a
// controlling terminal. Opening a terminal without O_NOCTTY would make it
// kubexit's controlling terminal (whose hangup then signals kubexit's
// process group). A dep tombstone that links to a terminal is refused as
// not a regular file, and its open must not do that.
func TestTerminalTombstoneNotControllingTerminal(t *testing.T) {
	t.Parallel()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	pts := fmt.Sprintf("/dev/pts/%d", n)
	if _, err := os.Stat(pts); err != nil {
		t.Skipf("no devpts here: %v", err)
	}
	gy := t.TempDir()
	if err := os.Symlink(pts, filepath.Join(gy, "main")); err != nil {
		t.Fatal(err)
	}
	path, err := exec.LookPath("kubexit")
	if err != nil {
		t.Fatalf("kubexit not on PATH (TestMain sets it up): %v", err)
	}
	cmd := exec.Command(path, "sleep", "600")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD=" + gy, "KUBEXIT_DEATH_DEPS=main"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // a session leader, as PID 1 is
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, "the terminal refused as a tombstone", func() bool {
		return strings.Contains(stderr.String(), "not a regular file (character device)")
	})
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Field 7, tty_nr, counted after the command's closing parenthesis.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 5 || fields[4] != "0" {
		t.Errorf("kubexit took the dep's terminal as its controlling terminal: tty_nr %v; stderr:\n%s", fields[4:5], stderr)
	}
}
