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
	// A generation dated in the future would hide every tombstone: ignored.
	future := t.TempDir()
	openGeneration(future, time.Now().Add(time.Hour))
	writeFile(t, future, "main", diedYAML)
	g = newGraveyardReader(future)
	if since, err := g.generation(); !since.IsZero() || err == nil || !strings.Contains(err.Error(), "after this process started; ignored") {
		t.Errorf("a future generation: %v, %v", since, err)
	}
	if _, state, _ := g.judge("main"); state != stateDied {
		t.Errorf("main under a future generation: %s, want died", state)
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
	data := []byte("Born: \"2026-12-07T06:00:00.5Z\"\nContainerExitCode: 0\nDied: \"2026-12-07T06:00:08Z\"\nExitCode: 42\nGeneration: \"2026-12-07T05:59:59Z\"\n")
	var orig originalTombstone
	if err := yaml.Unmarshal(data, &orig); err != nil || orig.ExitCode == nil || *orig.ExitCode != 42 || orig.Died == nil {
		t.Errorf("the original's reader: %+v, %v", orig, err)
	}
	ours, err := parseTombstone(data)
	if err != nil || ours.state() != stateDied || *ours.ExitCode != 42 || *ours.containerExitCode() != 0 {
		t.Errorf("ours: %v, %v", ours, err)
	}
}

// ContainerExitCode is written as sigs.k8s.io/yaml would write the struct
// (keys sorted), only where kubexit's status differs from its child's.
func TestTombstoneContainerExitCode(t *testing.T) {
	t.Parallel()
	born, died := time.Unix(1700000000, 5).UTC(), time.Unix(1700000008, 0).UTC()
	child, container := 143, 0
	ts := tombstone{Born: &born, Died: &died, ExitCode: &child, ContainerExitCode: &container}
	want, err := yaml.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.marshal(); string(got) != string(want) {
		t.Errorf("marshal =\n%s\nsigs.k8s.io/yaml =\n%s", got, want)
	}
	// A dep terminated by its own death dep, with the exit-zero switch:
	// the kubelet sees 0, which OnFailure does not restart.
	dir := t.TempDir()
	if err := writeTombstone(dir, "proxy", ts); err != nil {
		t.Fatal(err)
	}
	w, _ := testWatcher(dir, "proxy")
	w.restarts = &restartKnowledge{pod: readyFacts(`{"restartPolicy":"OnFailure","containers":[{"name":"proxy"}]}`)}
	expectPoll(t, w, true, "exit 143, container exit 0, under OnFailure")
	ts.ContainerExitCode = nil
	writeTombstone(dir, "proxy", ts)
	expectPoll(t, w, false, "exit 143 alone, under OnFailure")
}

// Temporary files of an --install killed midway are removed by the next.
func TestInstallRemovesStaleTemps(t *testing.T) {
	t.Parallel()
	bin, graveyard := t.TempDir(), t.TempDir()
	writeFile(t, bin, tempPrefix("kubexit")+"123", "half a binary")
	writeFile(t, graveyard, tempPrefix(generationFileName)+"456", "Began:")
	writeFile(t, graveyard, tempPrefix("generation")+"789", "a container's") // not ours
	if err := installBinary(bin); err != nil {
		t.Fatal(err)
	}
	if err := openGeneration(graveyard, time.Now()); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{bin: "kubexit", graveyard: ".generation .generation.tmp-789"} {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s holds %q, want %q", dir, got, want)
		}
	}
}
