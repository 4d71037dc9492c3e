package main

// Generations of a graveyard. A restart of all of a pod's containers
// (RestartAllContainers, KEP-5532; a new pod sandbox) keeps its volumes, so
// the graveyard still holds the last run's tombstones: a Died that no longer
// means anything, a Born whose kubexit the restart killed (a free lock: lost).
// Such a restart runs the init containers again before any other container,
// and one of them, `kubexit --install`, opens a new generation: it writes the
// time it ran to <graveyard>/.generation. A tombstone whose every time is
// earlier was written in an earlier run, and every reader takes it for no
// tombstone at all: not born yet in this run. Times compare safely: the
// containers of a pod share the node's clock, and the init container runs
// after every container of the last run was killed and before any of the new
// one starts. Tombstones themselves do not change, so the original kubexit
// and older versions read them as before, and their tombstones are judged
// by their times as ours are (docs/lifecycle.md#generations).

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// generationFileName is the marker's name: a leading '.', as every file of
// kubexit's that is not a tombstone (graveyard.go).
const generationFileName = ".generation"

// openGeneration writes a new generation marker in dir, beginning at now.
func openGeneration(dir string, now time.Time) error {
	content := fmt.Appendf(nil, "Began: %q\n", now.UTC().Format(time.RFC3339Nano))
	// Temporary files named after ".generation" (no container name starts
	// with '.'); those of a writer killed midway go first.
	removeStaleTemps(dir, generationFileName)
	return replaceFile(dir, generationFileName, generationFileName, 0o644, content)
}

// readGeneration reads dir's generation marker: when the current generation
// began, or the zero time when there is none (fs.ErrNotExist).
func readGeneration(dir string) (time.Time, error) {
	data, err := readTombstoneFile(filepath.Join(dir, generationFileName), make([]byte, 0, 128))
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Began: "); ok {
			t, err := time.Parse(time.RFC3339Nano, strings.Trim(v, `"`))
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: %w", generationFileName, err)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: no Began line", generationFileName)
}

// earlierGeneration tells whether tombstone t was written before the
// generation that began at since (zero: no generation, nothing is
// earlier): its latest time is before since. A tombstone with no time
// (only ExitCode) is not dated, so not earlier.
func earlierGeneration(t tombstone, since time.Time) bool {
	if since.IsZero() {
		return false
	}
	latest := t.Born
	if t.Died != nil && (latest == nil || t.Died.After(*latest)) {
		latest = t.Died
	}
	return latest != nil && latest.Before(since)
}
