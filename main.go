// Kubexit runs a command and ties its life to sibling containers of the same
// Kubernetes pod.
//
// Usage:
//
//	kubexit COMMAND [ARG...]
//	kubexit -- COMMAND [ARG...]
//
// Kubexit is configured only through KUBEXIT_* environment variables (see the
// README or config.go). It coordinates with its siblings through tombstones:
// small YAML files in a shared directory, the graveyard, one per wrapped
// process, named after it (KUBEXIT_NAME). Kubexit writes Born when it starts
// its child and Died and ExitCode when the child exits.
//
// With KUBEXIT_DEATH_DEPS, kubexit polls the graveyard and, when any of the
// named siblings' tombstones says it died (or KUBEXIT_DEATH_QUORUM of them),
// sends SIGTERM to its child and SIGKILL after KUBEXIT_GRACE_PERIOD. With
// KUBEXIT_SHUTDOWN_AFTER, it holds a stop signal from outside until the
// named siblings are gone. A dep that is already dead when kubexit
// starts means the child is never started.
//
// With KUBEXIT_BIRTH_DEPS, kubexit does not start its child until the named
// containers of its pod are Ready, as read from the Kubernetes API; with
// KUBEXIT_BIRTH_PROBES, until siblings' ports, HTTP endpoints or files
// answer, with no API access at all.
//
// Kubexit forwards signals to its child and exits with the child's status:
// its exit code, or 128+N when signal N killed it. It writes only to stderr;
// stdout belongs to the child.
//
// It is a drop-in replacement for the original kubexit (karlkfi/kubexit
// v0.3.2): same variables, defaults and tombstone format.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if isOption(args) {
		os.Exit(runOption(args, os.Environ(), os.Stdout, os.Stderr))
	}
	// Subscribe first, before any other work: until then a TERM kills
	// kubexit with no tombstone written. What remains of that window is the
	// Go runtime's start and the linked packages' initialisation, before main.
	signals := make(chan os.Signal, 32)
	notifySignals(signals)
	os.Exit(run(args, os.Environ(), signals, os.Stdout, quietStderr(os.Stderr)))
}

// isOption tells kubexit's own commands (--status, --help...) from a
// command to run: a first argument starting with '-', other than "--".
func isOption(args []string) bool {
	return len(args) > 0 && args[0] != "--" && strings.HasPrefix(args[0], "-")
}

// run is kubexit's whole life; it returns the exit status. stdout is only
// for kubexit's own commands (--status, --help...): with a child, it is the
// child's alone.
// environ is the process's environment (os.Environ); signals delivers the
// signals subscribed to (notifySignals).
func run(args, environ []string, signals <-chan os.Signal, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	getenv := envLookup(environ)
	cfg, cfgErr := parseConfig(getenv)
	s := &supervisor{
		cfg:       cfg,
		cfgErr:    cfgErr,
		log:       newLogger(stderr, cfg),
		api:       apiEnv{getenv: getenv, saDir: serviceAccountDir},
		deathURLs: defaultDeathURLTimings,
		noChild:   len(args) == 0,
	}
	return s.end(s.run(args, environ, signals, cfgErr))
}

// run is kubexit's life as a state machine. Each phase either goes on to the
// next or returns the outcome that ends the life:
//
//	configure → preflight → graveyard → watch death deps →
//	wait for birth deps → run the child, or without one wait for a
//	death dep → (end)
func (s *supervisor) run(args, environ []string, signals <-chan os.Signal, cfgErr error) outcome {
	unknown := unknownChecks(environ, s.cfg.PreflightStrict)
	for _, c := range unknown {
		if c.Level == checkFail {
			s.log.Error("preflight: " + c.Message)
		} else {
			s.log.Warn(c.Message)
		}
	}
	if o := s.configure(cfgErr); o != nil {
		return *o
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Before anything is written or removed under this name.
	if held, born := lockHolder(s.cfg.Graveyard, s.cfg.Name); held {
		o := s.refuseName(born)
		return *o
	}
	removeStaleTemps(s.cfg.Graveyard, s.cfg.Name)
	os.Remove(filepath.Join(s.cfg.Graveyard, holdFileName(s.cfg.Name))) // a killed kubexit's
	if slices.Contains(s.cfg.ShutdownAfter, s.cfg.Name) {
		s.log.Warn("KUBEXIT_SHUTDOWN_AFTER names this process itself; a process cannot wait for itself, the name is ignored", "name", s.cfg.Name)
	}
	if o := s.preflight(unknown); o != nil {
		return *o
	}
	if o := s.useGraveyard(); o != nil {
		return *o
	}
	s.facts = s.readPodFacts(ctx)
	deaths, o := s.watchDeathDeps(ctx)
	if o != nil {
		return *o
	}
	if o := s.waitForBirthDeps(ctx, signals, deaths); o != nil {
		return *o
	}
	if s.noChild {
		return s.runWithoutChild(signals, deaths)
	}
	return s.runChild(args, signals, deaths)
}

// end is the epilogue of every life, the same steps in the same order: let
// the death URL calls finish, record the death, apply
// KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS, write the termination message. It returns
// kubexit's exit status.
func (s *supervisor) end(o outcome) int {
	s.deathCalls.Wait()
	code := o.status
	if o.cause == causeDeathDep && s.cfg.ExitZeroOnDeathDeps && code != 0 {
		s.log.Info("exiting 0 instead of the child's status: terminated because a death dep died", "child_exit_code", code)
		code = 0
	}
	s.recordDeath(o.status, code)
	s.log.Debug("exiting", "exit_code", code, "cause", o.cause.String(), "reason", o.reason)
	s.writeTerminationMessage(code, o.reason)
	return code
}

// configure ends a life whose configuration is unusable.
func (s *supervisor) configure(cfgErr error) *outcome {
	// With only death URLs to call, kubexit may run without a child.
	if s.noChild && (cfgErr != nil || len(s.cfg.DeathURLs) == 0) {
		s.log.Error("no command given; usage: kubexit COMMAND [ARG...] (a command is optional only with KUBEXIT_DEATH_URLS)")
		return &outcome{exitUsage, "no command given", causeFailure}
	}
	if cfgErr == nil {
		return nil
	}
	var reasons []string
	for _, err := range unjoin(cfgErr) {
		s.log.Error("invalid configuration", "err", err)
		reasons = append(reasons, err.Error())
	}
	// The epilogue still writes a tombstone when the name is valid:
	// siblings may be waiting on this process.
	return &outcome{exitUsage, "invalid configuration: " + strings.Join(reasons, "; "), causeFailure}
}

// refuseName ends a life whose KUBEXIT_NAME another live kubexit holds
// (its life lock, lock.go): two containers given one name. The other's
// tombstone, lock and hold file are its own, so nothing is written; exit 2,
// as for a name that depends on itself. born is what the lock file says of
// the holder ("" if nothing). A kubexit restarted in place is not refused:
// its old process is dead, and the kernel freed the lock.
func (s *supervisor) refuseName(born string) *outcome {
	s.nameInUse = true
	path := filepath.Join(s.cfg.Graveyard, lockFileName(s.cfg.Name))
	holder := "a live process"
	if born != "" {
		holder = "a live kubexit born " + born
	}
	s.log.Error("KUBEXIT_NAME is in use in the graveyard: "+holder+" holds its lock (two containers with one KUBEXIT_NAME?); not starting, nothing written",
		"graveyard", s.cfg.Graveyard, "lock_file", path, "holder_born", born)
	return &outcome{exitUsage, fmt.Sprintf("not started: KUBEXIT_NAME %s is in use in the graveyard %s: %s holds %s", s.cfg.Name, s.cfg.Graveyard, holder, path), causeFailure}
}

// useGraveyard ends a life whose graveyard cannot be used from the start:
// it cannot be created, is not a directory, or this user may not create
// files in it. One line says so, naming KUBEXIT_GRAVEYARD; nothing else is
// tried in it, so no lock, birth or death adds its own line about the same
// cause. A graveyard that fails later (a full filesystem while the child
// runs) is reported where it fails.
func (s *supervisor) useGraveyard() *outcome {
	err := graveyardUsable(s.cfg.Graveyard)
	if err == nil {
		return nil
	}
	s.noGraveyard = true
	what := "not starting the child"
	if s.noChild {
		what = "not watching the death deps"
	}
	s.log.Error("cannot use the graveyard; "+what, "graveyard", s.cfg.Graveyard, "err", err, "fix", graveyardFix)
	return &outcome{exitInternal, fmt.Sprintf("not started: cannot use the graveyard %s: %v", s.cfg.Graveyard, err), causeFailure}
}

// watchDeathDeps looks at the death deps once and, unless one is dead
// already, watches them in the background: their deaths arrive on the
// channel it returns.
func (s *supervisor) watchDeathDeps(ctx context.Context) (<-chan deathSet, *outcome) {
	deaths := make(chan deathSet, 1)
	if len(s.cfg.DeathDeps) == 0 {
		return deaths, nil
	}
	w := newDeathWatcher(s.cfg.Graveyard, s.cfg.DeathDeps, s.cfg.PollInterval, s.cfg.DeathPolicy, s.log)
	w.quorum = s.cfg.DeathQuorum
	w.watched = s.cfg.WatchedPollInterval
	w.restarts = &restartKnowledge{codes: s.cfg.RestartCodes, pod: s.facts}
	// The original ignores tombstones written before it started and
	// would run its child forever; a dep already dead means no child.
	d, ok := w.poll()
	if !ok && w.pendingSpec {
		// A death that the pod's spec may undo: judged once it is read,
		// rather than starting a child to stop it at once.
		w.restarts.wait(ctx)
		d, ok = w.poll()
	}
	if ok {
		return nil, s.notStarted(d, "already dead")
	}
	attrs := []any{"deps", shortList(s.cfg.DeathDeps, 20), "graveyard", s.cfg.Graveyard,
		"poll_interval", s.cfg.PollInterval, "death_on", s.cfg.DeathPolicy.On}
	if s.cfg.DeathQuorum != 1 {
		attrs = append(attrs, "quorum", quorumValue(s.cfg.DeathQuorum, len(s.cfg.DeathDeps)))
	}
	s.log.Info("watching death deps", attrs...)
	go w.run(ctx, deaths)
	return deaths, nil
}

// runWithoutChild is kubexit as a watcher container: no child, it waits for
// a death dep to die and calls KUBEXIT_DEATH_URLS.
func (s *supervisor) runWithoutChild(signals <-chan os.Signal, deaths <-chan deathSet) outcome {
	if o := s.recordBirthOrEnd(); o != nil {
		return *o
	}
	s.log.Info("no command: waiting for a death dep to die, then calling the death URLs", "urls", strings.Join(s.cfg.DeathURLs, ","))
	for {
		select {
		case d := <-deaths:
			return s.deathWithoutChild(d)
		case sig := <-signals:
			if terminating(sig) {
				return outcome{signalStatus(sig.(syscall.Signal)), "received " + signalName(sig), causeSignal}
			}
		}
	}
}

// runChild starts the child and supervises it until it exits.
func (s *supervisor) runChild(args []string, signals <-chan os.Signal, deaths <-chan deathSet) outcome {
	if o := s.pending(signals, deaths); o != nil {
		return *o
	}
	// Not found or not executable: no child, so no Born.
	if _, err := exec.LookPath(args[0]); err != nil {
		return s.startFailed(args[0], err)
	}
	// Born is recorded before the child starts, so that a graveyard kubexit
	// cannot write stops it before there is a child to account for.
	if o := s.recordBirthOrEnd(); o != nil {
		return *o
	}
	reaper, sigchld := becomeReaper(s.cfg.Subreaper, s.log)
	c, err := startChild(args, s.cfg.ProcessGroup, s.log)
	if err != nil {
		return s.startFailed(args[0], err)
	}
	s.log.Info("child started", "pid", c.pid(), "command", args[0], "process_group", s.cfg.ProcessGroup, "reaper", reaper)
	return s.supervise(c, c.wait(reaper, sigchld), signals, deaths)
}

// recordBirthOrEnd records Born (recordBirth), or returns the outcome that
// ends the life: a name another live kubexit holds is refused (refuseName),
// any other failure is exit 1.
func (s *supervisor) recordBirthOrEnd() *outcome {
	err := s.recordBirth()
	if errors.Is(err, errLockHeld) {
		_, born := lockHolder(s.cfg.Graveyard, s.cfg.Name)
		return s.refuseName(born)
	}
	if err == nil {
		return nil
	}
	what, reason := "cannot record birth; not starting the child", "not started: cannot record birth: "
	if s.noChild {
		what, reason = "cannot record birth", "cannot record birth: "
	}
	s.log.Error(what, "err", err)
	return &outcome{exitInternal, reason + err.Error(), causeFailure}
}

// pending is the outcome of a death or a terminating signal that arrived
// while kubexit was getting ready: it wins, and there is no child.
func (s *supervisor) pending(signals <-chan os.Signal, deaths <-chan deathSet) *outcome {
	for {
		select {
		case d := <-deaths:
			return s.notStarted(d, "died before the child started")
		case sig := <-signals:
			if o := s.signalBeforeStart(sig); o != nil {
				return o
			}
		default:
			return nil
		}
	}
}

// supervise forwards signals to the running child, terminates it when a
// death dep dies (KILL after the grace period), and returns when it exits.
func (s *supervisor) supervise(c *child, exited <-chan childEnd, signals <-chan os.Signal, deaths <-chan deathSet) outcome {
	var (
		killedBy string // the deaths that terminated the child: deathSet.cause()
		killed   bool   // the grace period ran out: SIGKILL sent
		grace    <-chan time.Time
		hold     = newShutdownHold(s.cfg, s.log) // a stop signal held for KUBEXIT_SHUTDOWN_AFTER
	)
	hold.checkNames(neverBornCheck)
	defer hold.stop()
	for {
		select {
		case end := <-exited:
			o := s.childExited(c, end, killedBy, killed)
			o.reason += hold.outcome()
			return o
		case sig := <-signals:
			if !hold.take(sig) {
				s.forward(c, sig)
			}
		case end := <-hold.ended:
			hold.release(end)
			s.forward(c, hold.sig)
		case ds := <-deaths:
			killedBy = ds.cause()
			sig := s.stopSignal()
			s.log.Info(ds.headline()+"; terminating the child", append(ds.logAttrs(), "signal", signalName(sig), "grace_period", s.cfg.GracePeriod)...)
			s.callDeathURLs(ds)
			c.stop(sig)
			grace = time.After(s.cfg.GracePeriod)
		case <-grace:
			grace, killed = nil, true
			s.log.Warn("child still running after the grace period; killing it", "grace_period", s.cfg.GracePeriod)
			c.signal(syscall.SIGKILL)
		}
	}
}

// forward relays a signal to the child.
func (s *supervisor) forward(c *child, sig os.Signal) {
	s.log.Info("forwarding signal to the child", "signal", signalName(sig))
	send := c.signal
	if sig == syscall.SIGTERM {
		send = func(syscall.Signal) error { return c.terminate() }
	}
	if err := send(sig.(syscall.Signal)); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("cannot forward signal", "signal", signalName(sig), "err", err)
	}
	if isJobControl(sig) {
		// Stop with the child; the SIGCONT that resumes kubexit is
		// forwarded to the child like any other signal.
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	}
}

// recordBirth takes this process's life lock, then writes Born: once Born
// is there, a free lock means that the process is gone (lock.go). A lock
// another live process holds (one taken since start-up's look) is
// errLockHeld, and nothing is written. A lock that the filesystem does not
// grant within lockCallBound does not hold the child's start back: Born is
// written, and the lock is taken when the filesystem answers (lockTakenLate).
func (s *supervisor) recordBirth() error {
	now := time.Now()
	l := startLifeLock(filepath.Join(s.cfg.Graveyard, lockFileName(s.cfg.Name)), now)
	switch done, err := l.taken(); {
	case !done:
		s.log.Warn("this process's lock is not taken yet: the graveyard's filesystem has not answered (an NFS server in its grace period?); going on without it: until it is taken, siblings cannot tell if this kubexit is killed before it records a death",
			"graveyard", s.cfg.Graveyard, "waited", lockCallBound)
		go s.lockTakenLate(l)
	case errors.Is(err, errLockHeld):
		return err
	case err != nil:
		s.log.Warn("cannot hold this process's lock file; if kubexit is killed before it records a death, its siblings will not learn of it", "err", err)
	}
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, tombstone{Born: &now}); err != nil {
		return err
	}
	s.born = &now
	return nil
}

// lockTakenLate says how the lock that recordBirth went on without ended.
func (s *supervisor) lockTakenLate(l *lifeLock) {
	<-l.done
	took := time.Since(l.start).Round(time.Millisecond)
	switch {
	case errors.Is(l.err, errLockHeld):
		s.log.Error("this process's lock, answered late, is held by another process: another container with the same KUBEXIT_NAME?", "err", l.err, "after", took)
	case l.err != nil:
		s.log.Warn("cannot hold this process's lock file; if kubexit is killed before it records a death, its siblings will not learn of it", "err", l.err, "after", took)
	default:
		s.log.Info("this process's lock is taken: from now on its siblings can tell if this kubexit is killed before it records a death", "after", took)
	}
}

// recordDeath writes Died and ExitCode, the child's status (keeping Born if
// the child was born), and ContainerExitCode when kubexit exits with another.
// A failure is logged, not fatal: kubexit still exits with its status.
func (s *supervisor) recordDeath(code, exit int) {
	if s.noGraveyard || s.nameInUse {
		return // said at start-up
	}
	if s.cfg.Name == "" || s.cfg.Graveyard == "" {
		s.log.Warn("no tombstone written: " + whyNoTombstone(s.cfg, s.cfgErr))
		return
	}
	now := time.Now()
	t := tombstone{Born: s.born, Died: &now, ExitCode: &code}
	if exit != code {
		t.ContainerExitCode = &exit
	}
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, t); err != nil {
		s.log.Error("cannot record death", "err", err)
	}
}
