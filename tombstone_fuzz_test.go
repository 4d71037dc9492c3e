package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseTombstone: parseTombstone never panics (a panic of the YAML
// parser would be turned into errParserPanic, which counts as a finding),
// a tombstone it reads is written back by marshal as one that reads the
// same, and no content that begins with a NUL byte parses (the in-place
// rewrite relies on it, rewriteTombstone). The seed corpus is in
// testdata/fuzz/FuzzParseTombstone; the fixtures of testdata/tombstones are
// added here too.
//
//	go test -run '^$' -fuzz FuzzParseTombstone -fuzztime 60s .
func FuzzParseTombstone(f *testing.F) {
	fixtures, _ := filepath.Glob("testdata/tombstones/*")
	for _, file := range fixtures {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := parseTombstone(data)
		if errors.Is(err, errParserPanic) {
			t.Fatalf("%q: %v", data, err)
		}
		if _, err := parseTombstone(append([]byte{0}, data...)); err == nil {
			t.Errorf("%q after a NUL parses", data)
		}
		if err != nil {
			return
		}
		if ts.Born == nil && ts.Died == nil && ts.ExitCode == nil {
			t.Fatalf("%q parses as an empty tombstone", data)
		}
		out := ts.marshal()
		again, err := parseTombstone(out)
		if err != nil {
			t.Fatalf("%q parses as %v, which marshals as %q, which does not parse: %v", data, ts, out, err)
		}
		if !sameTime(again.Born, ts.Born) || !sameTime(again.Died, ts.Died) || !sameInt(again.ExitCode, ts.ExitCode) || !sameInt(again.ContainerExitCode, ts.ContainerExitCode) {
			t.Fatalf("%q parses as %v, marshalled and parsed again as %v", data, ts, again)
		}
		if again.state() != ts.state() {
			t.Fatalf("%q: state %s, marshalled and parsed again %s", data, ts.state(), again.state())
		}
	})
}

// YAML bombs, as large as a reader loads (maxTombstoneSize), parse in
// bounded time and memory: aliases that would expand to billions of nodes,
// deep nesting, long scalars. Anything larger is refused unread.
func TestParseTombstoneBombsBounded(t *testing.T) {
	t.Parallel()
	laughs := func() []byte {
		var b bytes.Buffer
		b.WriteString("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
		for i := 1; i < 30; i++ {
			b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
			for j := 0; j < 9; j++ {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString("*a" + strconv.Itoa(i-1))
			}
			b.WriteString("]\n")
		}
		b.WriteString("Born: *a29\n")
		return b.Bytes()
	}
	fill := func(prefix, unit, suffix string) []byte {
		n := (maxTombstoneSize - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n) + suffix)
	}
	for name, data := range map[string][]byte{
		"billion laughs":        laughs(),
		"nested flow lists":     fill("Born: ", "[", ""),
		"nested flow maps":      fill("Born: ", "{a: ", ""),
		"nested block lists":    fill("Born:\n", "- ", "x\n"),
		"long quoted scalar":    fill("Born: \"", "9", "\"\n"),
		"long plain scalar":     fill("ExitCode: ", "9", "\n"),
		"many keys":             fill("", "ExitCode: 1\n", ""),
		"many documents":        fill("", "---\nExitCode: 1\n", ""),
		"many aliases of one":   fill("a: &a [x]\nb: [", "*a,", "]\n"),
		"aliases of 3000 nodes": []byte("a: &a [" + strings.Repeat("x,", 3000) + "x]\nb: [" + strings.Repeat("*a,", 100) + "*a]\n"),
		"aliases to the limit":  []byte("a: &a [" + strings.Repeat("x,", 10000) + "x]\nb: [" + strings.Repeat("*a,", 50) + "*a]\n"),
		"merge keys":            fill("a: &a {ExitCode: 1}\n", "<<: *a\n", ""),
		"long anchor":           fill("Born: &", "a", " x\n"),
		"JSON nested":           fill("{\"Born\":", "[", ""),
		"over the size limit":   append(bytes.Repeat([]byte(" "), maxTombstoneSize), []byte(diedYAML)...),
		"NULs to the size":      make([]byte, maxTombstoneSize),
		"tabs and spaces":       fill("", " \t\n", "ExitCode: 0\n"),
		"one-line JSON objects": fill("", "{\"ExitCode\":1}", ""),
	} {
		start := time.Now()
		_, err := parseTombstone(data)
		took := time.Since(start)
		t.Logf("%-22s %6d bytes: %8v, %v", name, len(data), took.Round(time.Microsecond), err)
		if err != nil && len(err.Error()) > maxParseErrorBytes+len("…") {
			t.Errorf("%s: error of %d bytes", name, len(err.Error()))
		}
		if errors.Is(err, errParserPanic) {
			t.Errorf("%s: %v", name, err)
		}
		// Generous: the race detector and a loaded machine slow it down.
		if took > 5*time.Second {
			t.Errorf("%s: parsing %d bytes took %v", name, len(data), took)
		}
	}
}
