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
// named siblings' tombstones says it died, sends SIGTERM to its child and
// SIGKILL after KUBEXIT_GRACE_PERIOD. A dep that is already dead when kubexit
// starts means the child is never started.
//
// With KUBEXIT_BIRTH_DEPS, kubexit does not start its child until the named
// containers of its pod are Ready, as read from the Kubernetes API.
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
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Exit statuses of kubexit itself; otherwise it exits with its child's status.
const (
	exitInternal = 1 // kubexit could not do its job (graveyard not writable, birth deps not ready)
	exitUsage    = 2 // bad arguments or KUBEXIT_* values
)

// run is kubexit's whole life; it returns the exit status. stdout is only
// for kubexit's own commands (--status, --help...): with a child, it is the
// child's alone.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] != "--" && strings.HasPrefix(args[0], "-") {
		return runOption(args, getenv, stdout, stderr)
	}
	cfg, cfgErr := parseConfig(getenv)
	log := newLogger(stderr, cfg)
	s := &supervisor{cfg: cfg, log: log}

	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	// With only death URLs to call, kubexit may run without a child.
	if len(args) == 0 && (cfgErr != nil || len(cfg.DeathURLs) == 0) {
		log.Error("no command given; usage: kubexit COMMAND [ARG...] (a command is optional only with KUBEXIT_DEATH_URLS)")
		s.recordDeath(exitUsage)
		return s.exit(exitUsage, "no command given")
	}
	if cfgErr != nil {
		var reasons []string
		for _, err := range unjoin(cfgErr) {
			log.Error("invalid configuration", "err", err)
			reasons = append(reasons, err.Error())
		}
		// Siblings may be waiting on this process: tell them it is dead.
		if cfg.Name != "" {
			s.recordDeath(exitUsage)
		}
		return s.exit(exitUsage, "invalid configuration: "+strings.Join(reasons, "; "))
	}
	s.noChild = len(args) == 0
	return s.run(args)
}

// supervisor runs one child and keeps its tombstone.
type supervisor struct {
	cfg  config
	log  *slog.Logger
	born *time.Time
	// noChild is set when kubexit runs without a command, only to call
	// KUBEXIT_DEATH_URLS when a death dep dies.
	noChild bool
	// deathCalls tracks the KUBEXIT_DEATH_URLS calls in flight; kubexit
	// lets them finish before it exits.
	deathCalls       sync.WaitGroup
	deathCallsFailed atomic.Bool
}

func (s *supervisor) run(args []string) int {
	// Subscribe before anything can block, so that a TERM during start-up is
	// seen and handled rather than killing kubexit without a tombstone.
	signals := make(chan os.Signal, 32)
	notifySignals(signals)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	removeStaleTemps(s.cfg.Graveyard, s.cfg.Name)

	if s.cfg.Preflight {
		var failures []string
		ok := preflight(s.cfg, func(line string) {
			if msg, failed := strings.CutPrefix(line, "FAIL: "); failed {
				s.log.Error("preflight: " + msg)
				failures = append(failures, msg)
			} else {
				s.log.Info("preflight " + line)
			}
		})
		if !ok {
			s.recordDeath(exitInternal)
			return s.exit(exitInternal, "not started: preflight failed: "+strings.Join(failures, "; "))
		}
	}

	deaths := make(chan death, 1)
	if len(s.cfg.DeathDeps) > 0 {
		w := newDeathWatcher(s.cfg.Graveyard, s.cfg.DeathDeps, s.cfg.PollInterval, s.cfg.DeathPolicy, s.log)
		// The original ignores tombstones written before it started and
		// would run its child forever; a dep already dead means no child.
		if d, ok := w.poll(); ok {
			return s.notStarted(d, "already dead")
		}
		s.log.Info("watching death deps", "deps", strings.Join(s.cfg.DeathDeps, ","), "graveyard", s.cfg.Graveyard,
			"poll_interval", s.cfg.PollInterval, "death_on", s.cfg.DeathPolicy.On)
		go w.run(ctx, deaths)
	}

	if len(s.cfg.BirthDeps) > 0 {
		if code, done := s.waitForBirthDeps(ctx, signals, deaths); done {
			return code
		}
	}

	if len(args) == 0 {
		return s.runWithoutChild(signals, deaths)
	}
	return s.runChild(args, signals, deaths)
}

// waitForBirthDeps blocks until the birth deps are ready. While it waits, a
// death dep dying or a terminating signal means the child never starts;
// done is then true and code is kubexit's exit status.
func (s *supervisor) waitForBirthDeps(ctx context.Context, signals <-chan os.Signal, deaths <-chan death) (code int, done bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- waitForBirthDeps(ctx, s.cfg, s.log) }()
	for {
		select {
		case err := <-result:
			if err != nil {
				s.log.Error("cannot wait for birth deps; not starting the child", "err", err)
				s.recordDeath(exitInternal)
				return s.exit(exitInternal, "not started: "+err.Error()), true
			}
			return 0, false
		case d := <-deaths:
			return s.notStarted(d, "died while waiting for birth deps"), true
		case sig := <-signals:
			if code, stop := s.signalBeforeStart(sig); stop {
				return code, true
			}
		}
	}
}

// signalBeforeStart handles a signal that arrived before the child started:
// a terminating one ends kubexit (128+N, with a tombstone), others are dropped.
func (s *supervisor) signalBeforeStart(sig os.Signal) (code int, stop bool) {
	if !terminating(sig) {
		s.log.Debug("signal dropped: no child yet", "signal", sig.String())
		return 0, false
	}
	code = 128 + int(sig.(syscall.Signal))
	s.log.Warn("signal received before the child started; not starting it", "signal", sig.String(), "exit_code", code)
	s.recordDeath(code)
	return s.exit(code, fmt.Sprintf("not started: received %s", signalName(sig))), true
}

// notStarted ends kubexit, without a child, because a death dep is dead: it
// exits as if the child had been terminated by SIGTERM for that reason (143,
// or 0 with KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS).
//
// Without a child (only KUBEXIT_DEATH_URLS to call), this is the normal end:
// kubexit calls the URLs and exits 0, or 1 if a call failed.
func (s *supervisor) notStarted(d death, how string) int {
	if s.noChild {
		return s.deathWithoutChild(d)
	}
	code := 128 + int(syscall.SIGTERM)
	s.log.Warn(fmt.Sprintf("death dep %s %s; not starting the child", d.Dep, how), "dep", d.Dep, "tombstone", d.Tombstone.String())
	s.callDeathURLs(d)
	s.waitDeathCalls()
	s.recordDeath(code)
	return s.exit(s.exitAfterDeathDep(code), fmt.Sprintf("not started: death dep %s %s", d.Dep, how))
}

// deathWithoutChild ends a kubexit that has no child when a death dep died.
func (s *supervisor) deathWithoutChild(d death) int {
	s.log.Info("death dep died", "dep", d.Dep, "tombstone", d.Tombstone.String())
	s.callDeathURLs(d)
	code, reason := 0, fmt.Sprintf("death dep %s died; death URLs called", d.Dep)
	if !s.waitDeathCalls() {
		code, reason = exitInternal, fmt.Sprintf("death dep %s died; a death URL call failed", d.Dep)
		if s.cfg.ExitZeroOnDeathDeps {
			code = 0
		}
	}
	s.recordDeath(code)
	return s.exit(code, reason)
}

func (s *supervisor) exitAfterDeathDep(code int) int {
	if s.cfg.ExitZeroOnDeathDeps && code != 0 {
		s.log.Info("exiting 0 instead of the child's status: terminated because a death dep died", "child_exit_code", code)
		return 0
	}
	return code
}

// runWithoutChild is kubexit as a watcher container: no child, it waits for
// a death dep to die and calls KUBEXIT_DEATH_URLS.
func (s *supervisor) runWithoutChild(signals <-chan os.Signal, deaths <-chan death) int {
	now := time.Now()
	s.born = &now
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, tombstone{Born: s.born}); err != nil {
		s.log.Error("cannot record birth", "err", err)
		return s.exit(exitInternal, "cannot record birth: "+err.Error())
	}
	s.log.Info("no command: waiting for a death dep to die, then calling the death URLs", "urls", strings.Join(s.cfg.DeathURLs, ","))
	for {
		select {
		case d := <-deaths:
			return s.deathWithoutChild(d)
		case sig := <-signals:
			if terminating(sig) {
				code := 128 + int(sig.(syscall.Signal))
				s.recordDeath(code)
				return s.exit(code, "received "+signalName(sig))
			}
		}
	}
}

// runChild starts the child, supervises it and returns kubexit's exit status.
func (s *supervisor) runChild(args []string, signals <-chan os.Signal, deaths <-chan death) int {
	// A dep that died, or a terminating signal that arrived, while kubexit
	// was getting ready wins: no child.
	for pending := true; pending; {
		select {
		case d := <-deaths:
			return s.notStarted(d, "died before the child started")
		case sig := <-signals:
			if code, stop := s.signalBeforeStart(sig); stop {
				return code
			}
		default:
			pending = false
		}
	}

	// Not found or not executable: no child, so no Born.
	if _, err := exec.LookPath(args[0]); err != nil {
		return s.startFailed(args[0], err)
	}

	// Born is recorded before the child starts, so that a graveyard kubexit
	// cannot write stops it before there is a child to account for.
	now := time.Now()
	s.born = &now
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, tombstone{Born: s.born}); err != nil {
		s.log.Error("cannot record birth; not starting the child", "err", err)
		return s.exit(exitInternal, "not started: cannot record birth: "+err.Error())
	}

	reaper, sigchld := becomeReaper(s.cfg.Subreaper, s.log)
	c, err := startChild(args, s.cfg.ProcessGroup, s.log)
	if err != nil {
		return s.startFailed(args[0], err)
	}
	s.log.Info("child started", "pid", c.pid(), "command", args[0], "process_group", s.cfg.ProcessGroup, "reaper", reaper)
	exited := c.wait(reaper, sigchld)

	var (
		killedBy string // the death dep whose death terminated the child
		killed   bool   // the grace period ran out: SIGKILL sent
		grace    <-chan time.Time
	)
	for {
		select {
		case code := <-exited:
			attrs := []any{"exit_code", code}
			if code > 128 && code < 128+65 {
				attrs = append(attrs, "signal", signalName(syscall.Signal(code-128)))
			}
			s.log.Info("child exited", attrs...)
			if c.group {
				// Leftovers of the child's process group go with it.
				c.signal(syscall.SIGTERM)
			}
			s.recordDeath(code)
			s.waitDeathCalls()
			switch {
			case killed:
				return s.exit(s.exitAfterDeathDep(code), fmt.Sprintf("child killed after the grace period (%v) because death dep %s died", s.cfg.GracePeriod, killedBy))
			case killedBy != "":
				return s.exit(s.exitAfterDeathDep(code), fmt.Sprintf("child terminated because death dep %s died; it exited %s", killedBy, describeStatus(code)))
			}
			return s.exit(code, "child exited "+describeStatus(code))

		case sig := <-signals:
			if sig == syscall.SIGPIPE {
				continue
			}
			s.log.Info("forwarding signal to the child", "signal", sig.String())
			if err := c.signal(sig.(syscall.Signal)); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.log.Warn("cannot forward signal", "signal", sig.String(), "err", err)
			}
			if isJobControl(sig) {
				// Stop with the child; the SIGCONT that resumes kubexit is
				// forwarded to the child like any other signal.
				syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			}

		case d := <-deaths:
			killedBy = d.Dep
			s.log.Info("death dep died; terminating the child", "dep", d.Dep, "tombstone", d.Tombstone.String(), "grace_period", s.cfg.GracePeriod)
			s.callDeathURLs(d)
			c.signal(syscall.SIGTERM)
			grace = time.After(s.cfg.GracePeriod)

		case <-grace:
			grace, killed = nil, true
			s.log.Warn("child still running after the grace period; killing it", "grace_period", s.cfg.GracePeriod)
			c.signal(syscall.SIGKILL)
		}
	}
}

// callDeathURLs starts calling KUBEXIT_DEATH_URLS, if any, for d.
func (s *supervisor) callDeathURLs(d death) {
	if len(s.cfg.DeathURLs) == 0 {
		return
	}
	s.deathCalls.Add(1)
	go func() {
		defer s.deathCalls.Done()
		if err := callDeathURLs(context.Background(), s.cfg.DeathURLs, s.cfg.DeathURLMethod, s.log.With("dep", d.Dep)); err != nil {
			s.deathCallsFailed.Store(true)
		}
	}()
}

// waitDeathCalls waits for the death URL calls in flight; false if any failed.
func (s *supervisor) waitDeathCalls() bool {
	s.deathCalls.Wait()
	return !s.deathCallsFailed.Load()
}

// startFailed records and reports a child that could not be started.
func (s *supervisor) startFailed(command string, err error) int {
	code := startFailureStatus(err)
	s.log.Error("cannot start the child", "command", command, "err", err, "exit_code", code)
	s.recordDeath(code)
	return s.exit(code, fmt.Sprintf("cannot start %s: %v", command, err))
}

// recordDeath writes Died and ExitCode (keeping Born if the child was born).
// A failure is logged, not fatal: kubexit still exits with the child's status.
func (s *supervisor) recordDeath(code int) {
	if s.cfg.Name == "" {
		return
	}
	now := time.Now()
	t := tombstone{Born: s.born, Died: &now, ExitCode: &code}
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, t); err != nil {
		s.log.Error("cannot record death", "err", err)
	}
}

// exit writes the reason for kubexit's exit, one line, to the termination
// log (Kubernetes shows it in the container's status as its termination
// message) and returns code.
func (s *supervisor) exit(code int, reason string) int {
	path := s.cfg.TerminationLog
	if path == "" {
		return code
	}
	flags := os.O_WRONLY | os.O_TRUNC
	if s.cfg.TerminationLogExplicit {
		flags |= os.O_CREATE
	}
	// The default path is only written where Kubernetes provides it.
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if s.cfg.TerminationLogExplicit {
			s.log.Warn("cannot write the termination message", "path", path, "err", err)
		}
		return code
	}
	msg := oneLine(fmt.Sprintf("kubexit: exit %d: %s", code, reason))
	if len(msg) > maxTerminationMessage {
		msg = msg[:maxTerminationMessage-3] + "..."
	}
	if _, err := f.WriteString(msg + "\n"); err != nil {
		s.log.Warn("cannot write the termination message", "path", path, "err", err)
	}
	f.Close()
	return code
}

// maxTerminationMessage is what Kubernetes keeps of a termination message.
const maxTerminationMessage = 4096

// describeStatus says what an exit status means: "3", or "143 (SIGTERM)".
func describeStatus(code int) string {
	if code > 128 && code < 128+65 {
		return fmt.Sprintf("%d (%s)", code, signalName(syscall.Signal(code-128)))
	}
	return fmt.Sprint(code)
}

// newLogger logs to stderr only (stdout is the child's). Text lines start
// with "kubexit: " so they stand out among the child's.
func newLogger(w io.Writer, cfg config) *slog.Logger {
	if cfg.LogOff {
		return slog.New(slog.DiscardHandler)
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts).WithAttrs([]slog.Attr{slog.String("logger", "kubexit")})
	} else {
		h = slog.NewTextHandler(&prefixWriter{w: w, prefix: []byte("kubexit: ")}, opts)
	}
	l := slog.New(h)
	if cfg.Name != "" {
		l = l.With("name", cfg.Name)
	}
	return l
}

// prefixWriter prepends a prefix to each write; slog writes one record, one
// line, per call.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(p.prefix)+len(b))
	line = append(append(line, p.prefix...), b...)
	if _, err := p.w.Write(line); err != nil {
		return 0, err
	}
	return len(b), nil
}

// unjoin splits an errors.Join result back into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
