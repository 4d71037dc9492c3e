package main

// The preflight: what kubexit needs before it starts anything, checked at
// once. `kubexit --check` prints the checks; KUBEXIT_PREFLIGHT=true logs them
// at start-up and does not start the child when one fails.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// checkLevel grades one check.
type checkLevel int

const (
	checkOK   checkLevel = iota
	checkWarn            // worth fixing, but kubexit works
	checkFail            // kubexit cannot do its job; the message says what to fix
)

// check is one preflight check's result.
type check struct {
	Level   checkLevel
	Message string
}

// preflight checks the graveyard and, with birth deps, the Kubernetes API:
// that the pod can be read, and that its containers are the ones named.
func preflight(cfg config, env apiEnv) []check {
	var checks []check
	add := func(level checkLevel, format string, args ...any) {
		checks = append(checks, check{level, fmt.Sprintf(format, args...)})
	}
	if err := checkWritable(cfg.Graveyard); err != nil {
		add(checkFail, "graveyard %s is not writable: %v; %s", cfg.Graveyard, err, graveyardFix)
	} else {
		add(checkOK, "graveyard %s is writable", cfg.Graveyard)
	}
	if msg := checkRoom(cfg.Graveyard); msg != "" {
		add(checkWarn, "%s", msg)
	}
	if slices.Contains(cfg.ShutdownAfter, cfg.Name) {
		add(checkWarn, "KUBEXIT_SHUTDOWN_AFTER names this process itself (%s); it cannot wait for itself, so the name is ignored", cfg.Name)
	}
	if cycle := shutdownCycle(cfg); cycle != nil {
		add(checkWarn, "KUBEXIT_SHUTDOWN_AFTER: the hold files show a cycle of holds, %s, each waiting for the next to be gone; "+
			"the first kubexit of it to see it forwards its stop signal at once, which breaks it, and which one that is is not fixed (only siblings holding a stop signal show what they wait for)", strings.Join(cycle, " -> "))
	}
	checks = append(checks, checkProbes(cfg.BirthProbes)...)
	return append(checks, checkPod(cfg, env)...)
}

// checkPod reads the pod where kubexit needs it (birth deps) or uses it
// (death deps with KUBEXIT_POD_NAME: restart rules, the stop signal), and
// checks what it says. Without birth deps, a pod that cannot be read is a
// warning: death deps work without it.
func checkPod(cfg config, env apiEnv) []check {
	var checks []check
	add := func(level checkLevel, format string, args ...any) {
		checks = append(checks, check{level, fmt.Sprintf(format, args...)})
	}
	needed := len(cfg.BirthDeps) > 0
	if !needed && (cfg.PodName == "" || len(cfg.DeathDeps) == 0) {
		return nil
	}
	failing, without := checkFail, ""
	if !needed {
		failing, without = checkWarn, "; the death deps' restart rules and the container's stop signal are not read from it"
	}
	client, err := newPodClient(env, cfg.PodName, cfg.Namespace, discardLogger())
	if err != nil {
		add(failing, "%v%s", err, without)
		return checks
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiRequestTimeout)
	defer cancel()
	p, err := client.get(ctx)
	if err != nil {
		if fatal := client.fatalError(err); fatal != nil {
			add(failing, "%v%s", fatal, without)
		} else {
			add(failing, "cannot reach the Kubernetes API (%s) to read pod %s: %s%s", client.src.desc, client, oneLine(err.Error()), without)
		}
		return checks
	}
	add(checkOK, "%s may get pod %s", client.src.desc, client)
	if needed {
		warning, err := checkPodContainers(p, cfg.BirthDeps, cfg.Name, client.namespace)
		if err != nil {
			add(checkFail, "%v", err)
		} else {
			add(checkOK, "birth deps %s are containers of the pod", strings.Join(cfg.BirthDeps, ", "))
		}
		if warning != "" {
			add(checkWarn, "%s", warning)
		}
	}
	return append(checks, checkRestarts(cfg, p.Spec)...)
}

// checkRestarts checks the stop signal and the restart rules that the pod's
// spec gives against the configuration and the graveyard.
func checkRestarts(cfg config, spec podSpec) []check {
	if len(cfg.DeathDeps) == 0 {
		return nil
	}
	var checks []check
	f := &podFacts{}
	f.read(spec)
	if want := f.stopSignals[cfg.Name]; want != "" && cfg.StopSignalSet && unix.SignalNum(want) != cfg.StopSignal {
		checks = append(checks, check{checkWarn, fmt.Sprintf("KUBEXIT_STOP_SIGNAL is %s, but container %s's lifecycle.stopSignal is %s: the kubelet stops it with %s, a death dep's death with %s", signalName(cfg.StopSignal), cfg.Name, want, want, signalName(cfg.StopSignal))})
	}
	if _, err := readGeneration(cfg.Graveyard); f.restartsAll && errors.Is(err, fs.ErrNotExist) {
		checks = append(checks, check{checkWarn, fmt.Sprintf("the pod restarts all its containers on some exits (a RestartAllContainers rule), but the graveyard %s has no generation: after such a restart, tombstones of the earlier run may be taken for this run's; run `kubexit --install` in an init container that mounts the graveyard", cfg.Graveyard)})
	}
	return checks
}

// preflight runs the --check checks with KUBEXIT_PREFLIGHT, and ends the life
// when one fails, or (strict) when unknown, the checks of unknown KUBEXIT_*
// variables logged at start-up, holds a failure.
func (s *supervisor) preflight(unknown []check) *outcome {
	if !s.cfg.Preflight {
		return nil
	}
	var failures []string
	for _, c := range unknown {
		if c.Level == checkFail {
			failures = append(failures, c.Message)
		}
	}
	for _, c := range preflight(s.cfg, s.api) {
		switch c.Level {
		case checkOK:
			s.log.Info("preflight ok: " + c.Message)
		case checkWarn:
			s.log.Warn("preflight: " + c.Message)
		default:
			s.log.Error("preflight: " + c.Message)
			failures = append(failures, c.Message)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	// A graveyard that failed was said among the checks: no tombstone.
	s.noGraveyard = graveyardUsable(s.cfg.Graveyard) != nil
	return &outcome{exitInternal, "not started: preflight failed: " + strings.Join(failures, "; "), causeFailure}
}

// checkProbes tries each birth probe once (all at once, each within
// probeAttemptTimeout) and says what it saw. A probe not passing yet is a
// warning, never a failure: at start-up the sibling is usually not serving
// yet, which is what the wait is for, and with KUBEXIT_PREFLIGHT a failure
// would end the container before it could wait. A probe that cannot be
// written is refused earlier, as an invalid configuration.
func checkProbes(probes []probe) []check {
	if len(probes) == 0 {
		return nil
	}
	failing := map[string]error{}
	for _, s := range newProber().round(context.Background(), probes) {
		failing[s.Probe.Raw] = s.Err
	}
	var checks []check
	for _, p := range probes {
		if err := failing[p.Raw]; err != nil {
			checks = append(checks, check{checkWarn, fmt.Sprintf("birth probe %s not passing yet: %v; the child will wait for it (KUBEXIT_BIRTH_TIMEOUT)", p, err)})
		} else {
			checks = append(checks, check{checkOK, fmt.Sprintf("birth probe %s passes", p)})
		}
	}
	return checks
}

// unknownChecks reports the unknown KUBEXIT_* variables of environ: each a
// WARN (it is ignored), or with strict a FAIL.
func unknownChecks(environ []string, strict bool) []check {
	var checks []check
	for _, w := range unknownVariables(environ) {
		if !strict {
			checks = append(checks, check{checkWarn, w})
			continue
		}
		w = strings.TrimSuffix(strings.TrimSuffix(w, "; it is ignored"), ", ignored")
		checks = append(checks, check{checkFail, w + "; refused in strict mode"})
	}
	return checks
}

// failed tells whether any check failed.
func failed(checks []check) bool {
	for _, c := range checks {
		if c.Level == checkFail {
			return true
		}
	}
	return false
}

// checkWritable creates and removes a temporary file in dir (creating dir
// as a tombstone write would).
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".kubexit-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Below these, the graveyard has little room (checkRoom). Each kubexit
// needs, at its peak, three blocks and three inodes: its tombstone, its lock
// file and the temporary file of a tombstone write, until the rename frees
// the old tombstone's. 64 KiB is 16 blocks of 4 KiB (tmpfs pages, ext4 and
// xfs blocks) and 16 inodes: the files of five containers writing at once.
const (
	minGraveyardBytes  = 64 << 10
	minGraveyardInodes = 16
)

// checkRoom tells, with the numbers, when the filesystem of dir has little
// room left: under minGraveyardBytes available to this user, or under
// minGraveyardInodes free inodes where it counts them (btrfs and an
// unlimited tmpfs report none at all). Available blocks are those of a user
// without CAP_SYS_RESOURCE (a container's root usually lacks it), so not
// ext4's reserve. "" when there is room, or when statfs cannot tell.
func checkRoom(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return ""
	}
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	free := st.Bavail * unit
	lowInodes := st.Files > 0 && st.Ffree < minGraveyardInodes
	if free >= minGraveyardBytes && !lowInodes {
		return ""
	}
	inodes := "inodes not counted"
	if st.Files > 0 {
		inodes = fmt.Sprintf("%d of %d inodes free", st.Ffree, st.Files)
	}
	return fmt.Sprintf("graveyard %s has little room: %s of %s free, %s (kubexit wants %s and %d inodes): "+
		"without a block and an inode for a new file, a first Born cannot be written (and the child is not started), "+
		"and Died only by rewriting the tombstone in place; give the volume more room (an emptyDir's sizeLimit)",
		dir, formatBytes(free), formatBytes(st.Blocks*unit), inodes, formatBytes(minGraveyardBytes), minGraveyardInodes)
}

// formatBytes renders a size in B, KiB, MiB, GiB or TiB: "0 B", "1.5 KiB",
// "12 KiB" (one decimal under 10 of a unit, when it is not whole).
func formatBytes(n uint64) string {
	const units = "KMGT"
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v, i = v/1024, i+1
	}
	if v < 10 && v != float64(int(v)) {
		return fmt.Sprintf("%.1f %ciB", v, units[i])
	}
	return fmt.Sprintf("%d %ciB", int(v), units[i])
}
