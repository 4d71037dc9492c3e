package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"
)

func TestEarlierGeneration(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	before, after := since.Add(-time.Nanosecond), since.Add(time.Nanosecond)
	code := 42
	for _, tc := range []struct {
		what  string
		t     tombstone
		since time.Time
		want  bool
	}{
		{"no generation", tombstone{Born: &before}, time.Time{}, false},
		{"born before", tombstone{Born: &before}, since, true},
		{"died before", tombstone{Born: &before, Died: &before, ExitCode: &code}, since, true},
		{"not started before", tombstone{Died: &before, ExitCode: &code}, since, true},
		{"born after", tombstone{Born: &after}, since, false},
		{"born before, died after", tombstone{Born: &before, Died: &after, ExitCode: &code}, since, false},
		{"born at the start", tombstone{Born: &since}, since, false},
		{"no time", tombstone{ExitCode: &code}, since, false},
	} {
		if got := earlierGeneration(tc.t, tc.since); got != tc.want {
			t.Errorf("%s: earlier %v, want %v", tc.what, got, tc.want)
		}
	}
}

// After a restart of all containers, every reader takes the last run's
// files for none: a Died, a lost Born (its kubexit was killed: a free
// lock), a hold file. This run's files are judged as ever.
func TestGraveyardEarlierRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-time.Minute)
	writeFile(t, dir, "main", strings.Replace(diedYAML, "ExitCode: 0", "ExitCode: 42", 1))
	fd, err := holdLifeLock(dir, "proxy", old)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTombstone(dir, "proxy", tombstone{Born: &old}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // killed by the restart
	writeFile(t, dir, holdFileName("proxy"), string(heldSignal{Signal: "SIGTERM", Since: old, After: []string{"main"}}.content()))

	g := newGraveyardReader(dir)
	if _, state, _ := g.judge("proxy"); state != stateLost && lockUsable(dir) {
		t.Fatalf("before the generation, proxy is %s, want lost", state)
	}
	if err := openGeneration(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	g = newGraveyardReader(dir)
	for _, name := range []string{"main", "proxy"} {
		if _, state, err := g.judge(name); state != stateEarlier || err != nil {
			t.Errorf("%s: %s, %v; want %s", name, state, err, stateEarlier)
		}
	}
	if h := g.hold("proxy"); h != nil {
		t.Errorf("the earlier run's hold file is read: %+v", h)
	}
	if missing := g.neverBorn([]string{"main", "proxy", "db"}); strings.Join(missing, ",") != "main,proxy,db" {
		t.Errorf("never born: %v, want main, proxy, db", missing)
	}
	w, logs := testWatcher(dir, "main", "proxy")
	expectPoll(t, w, false, "the earlier run's Died and lost Born")
	if n := strings.Count(logs.String(), "earlier run of the pod"); n != 2 {
		t.Errorf("%d notes of earlier tombstones, want 2:\n%s", n, logs)
	}

	// This run: main is born, then dies.
	now := time.Now()
	if err := writeTombstone(dir, "main", tombstone{Born: &now}); err != nil {
		t.Fatal(err)
	}
	if _, state, _ := g.judge("main"); state != stateBorn {
		t.Errorf("main of this run: %s, want born", state)
	}
	expectPoll(t, w, false, "main born in this run")
	end, code := now.Add(time.Millisecond), 0
	if err := writeTombstone(dir, "main", tombstone{Born: &now, Died: &end, ExitCode: &code}); err != nil {
		t.Fatal(err)
	}
	if d := expectPoll(t, w, true, "main died in this run"); d.Dep != "main" {
		t.Errorf("death %v", d)
	}
}

// lockUsable tells whether dir's filesystem lets a free lock mean a death.
func lockUsable(dir string) bool { ok, _ := lockTrusted(dir); return ok }

// A marker that cannot be read is no generation; the reader says why.
func TestGenerationUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, generationFileName, "Began: yesterday\n")
	g := newGraveyardReader(dir)
	if since, err := g.generation(); !since.IsZero() || err == nil {
		t.Errorf("generation %v, %v; want none, with an error", since, err)
	}
	writeFile(t, dir, "main", diedYAML)
	if _, state, _ := g.judge("main"); state != stateDied {
		t.Errorf("main: %s, want died", state)
	}
	// A graveyard not there yet is asked again later.
	later := filepath.Join(t.TempDir(), "later")
	g = newGraveyardReader(later)
	g.generation()
	os.Mkdir(later, 0o755)
	openGeneration(later, time.Now())
	if since, err := g.generation(); since.IsZero() || err != nil {
		t.Errorf("generation of a graveyard made later: %v, %v", since, err)
	}
}

// Tombstones stay readable by the original kubexit: keys it does not know
// are ignored by its reader (sigs.k8s.io/yaml into its struct), and by ours.
func TestTombstoneUnknownKeysIgnored(t *testing.T) {
	t.Parallel()
	data := []byte("Born: \"2026-12-07T06:00:00.5Z\"\nDied: \"2026-12-07T06:00:08Z\"\nExitCode: 42\nGeneration: \"2026-12-07T05:59:59Z\"\nRestarts: 1\n")
	var orig originalTombstone
	if err := yaml.Unmarshal(data, &orig); err != nil || orig.ExitCode == nil || *orig.ExitCode != 42 || orig.Died == nil {
		t.Errorf("the original's reader: %+v, %v", orig, err)
	}
	ours, err := parseTombstone(data)
	if err != nil || ours.state() != stateDied || *ours.ExitCode != 42 {
		t.Errorf("ours: %v, %v", ours, err)
	}
}
