package main

import (
	"strings"
	"testing"
)

// preflightGraveyard runs the preflight's graveyard checks (no birth deps,
// so no API) and returns its lines as --check prints them.
func preflightGraveyard(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	for _, c := range preflight(config{Name: "app", Graveyard: dir}, apiEnv{}) {
		lines = append(lines, [...]string{"ok", "WARN", "FAIL"}[c.Level]+": "+c.Message)
	}
	return lines
}

func findLine(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// A graveyard with no room left is writable (an empty file needs no
// block), but --check warns, with the numbers.
func TestPreflightWarnsFullGraveyard(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=64k")
	fillBlocks(t, dir)
	lines := preflightGraveyard(t, dir)
	if findLine(lines, "ok: graveyard "+dir+" is writable") == "" {
		t.Errorf("no writable check in %q", lines)
	}
	warn := findLine(lines, "WARN: graveyard "+dir+" has little room: 0 B of 64 KiB free, ")
	if warn == "" || !strings.Contains(warn, "inodes free") || !strings.Contains(warn, "(kubexit wants 64 KiB and 16 inodes)") {
		t.Fatalf("no warning with the numbers in %q", lines)
	}
	if failed(preflight(config{Name: "app", Graveyard: dir}, apiEnv{})) {
		t.Errorf("a full graveyard fails the preflight; it only warns: %q", lines)
	}
}

// Few inodes left: a warning; none left: the graveyard is not writable (a
// temporary file cannot be created), and the warning says why.
func TestPreflightWarnsNoInodes(t *testing.T) {
	t.Parallel()
	dir := mountSizedTmpfs(t, "size=1m,nr_inodes=8")
	lines := preflightGraveyard(t, dir)
	if warn := findLine(lines, "WARN: graveyard "+dir+" has little room: 1 MiB of 1 MiB free, 7 of 8 inodes free"); warn == "" {
		t.Errorf("no warning for 7 free inodes in %q", lines)
	}
	fillInodes(t, dir)
	lines = preflightGraveyard(t, dir)
	if findLine(lines, "FAIL: graveyard "+dir+" is not writable: ") == "" {
		t.Errorf("no failure with no inode free in %q", lines)
	}
	if findLine(lines, "WARN: graveyard "+dir+" has little room: 1 MiB of 1 MiB free, 0 of 8 inodes free") == "" {
		t.Errorf("no warning naming the inodes in %q", lines)
	}
}

// Room enough, or a filesystem that counts no inodes: no warning.
func TestPreflightRoomyGraveyard(t *testing.T) {
	t.Parallel()
	for _, opts := range []string{"size=1m", "size=1m,nr_inodes=0"} {
		dir := mountSizedTmpfs(t, opts)
		lines := preflightGraveyard(t, dir)
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "ok: ") {
			t.Errorf("-o %s: %q, want only the ok line", opts, lines)
		}
	}
	if lines := preflightGraveyard(t, t.TempDir()); len(lines) != 1 {
		t.Errorf("temp dir: %q, want only the ok line", lines)
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 12 << 10: "12 KiB", 64 << 10: "64 KiB",
		10<<20 + 1: "10 MiB", 3 << 30: "3 GiB", 5 << 40: "5 TiB", 5000 << 40: "5000 TiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
