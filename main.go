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
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// Exit statuses of kubexit itself; otherwise it exits with its child's status.
const (
	exitInternal = 1 // kubexit could not do its job (graveyard not writable, birth deps not ready)
	exitUsage    = 2 // bad arguments or KUBEXIT_* values
)

// run is kubexit's whole life; it returns the exit status.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, cfgErr := parseConfig(getenv)
	log := newLogger(stderr, cfg)

	switch {
	case len(args) > 0 && args[0] == "--":
		args = args[1:]
	case len(args) > 0 && strings.HasPrefix(args[0], "-"):
		log.Error(fmt.Sprintf("unknown option %q; usage: kubexit COMMAND [ARG...] (kubexit -- COMMAND runs a command whose name starts with '-')", args[0]))
		return exitUsage
	}
	if len(args) == 0 {
		log.Error("no command given; usage: kubexit COMMAND [ARG...]")
		return exitUsage
	}
	if cfgErr != nil {
		for _, err := range unjoin(cfgErr) {
			log.Error("invalid configuration", "err", err)
		}
		// Siblings may be waiting on this process: tell them it is dead.
		if cfg.Name != "" {
			s := &supervisor{cfg: cfg, log: log}
			s.recordDeath(exitUsage)
		}
		return exitUsage
	}

	s := &supervisor{cfg: cfg, log: log}
	return s.run(args)
}

// supervisor runs one child and keeps its tombstone.
type supervisor struct {
	cfg  config
	log  *slog.Logger
	born *time.Time
}

func (s *supervisor) run(args []string) int {
	// Subscribe before anything can block, so that a TERM during start-up is
	// seen and handled rather than killing kubexit without a tombstone.
	signals := make(chan os.Signal, 32)
	notifySignals(signals)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	removeStaleTemps(s.cfg.Graveyard, s.cfg.Name)

	deaths := make(chan death, 1)
	if len(s.cfg.DeathDeps) > 0 {
		w := newDeathWatcher(s.cfg.Graveyard, s.cfg.DeathDeps, s.cfg.PollInterval, s.log)
		// The original ignores tombstones written before it started and
		// would run its child forever; a dep already dead means no child.
		if d, ok := w.poll(); ok {
			return s.notStarted(fmt.Sprintf("death dep %s already dead", d.Dep), "dep", d.Dep, "tombstone", d.Tombstone.String())
		}
		s.log.Info("watching death deps", "deps", strings.Join(s.cfg.DeathDeps, ","), "graveyard", s.cfg.Graveyard, "poll_interval", s.cfg.PollInterval)
		go w.run(ctx, deaths)
	}

	if len(s.cfg.BirthDeps) > 0 {
		if code, done := s.waitForBirthDeps(ctx, signals, deaths); done {
			return code
		}
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
				return exitInternal, true
			}
			return 0, false
		case d := <-deaths:
			return s.notStarted(fmt.Sprintf("death dep %s died while waiting for birth deps", d.Dep), "dep", d.Dep, "tombstone", d.Tombstone.String()), true
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
	return code, true
}

// notStarted ends kubexit, without a child, because a death dep is dead: it
// exits as if the child had been terminated by SIGTERM for that reason (143,
// or 0 with KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS).
func (s *supervisor) notStarted(reason string, attrs ...any) int {
	code := 128 + int(syscall.SIGTERM)
	s.log.Warn(reason+"; not starting the child", attrs...)
	s.recordDeath(code)
	return s.exitAfterDeathDep(code)
}

func (s *supervisor) exitAfterDeathDep(code int) int {
	if s.cfg.ExitZeroOnDeathDeps && code != 0 {
		s.log.Info("exiting 0 instead of the child's status: terminated because a death dep died", "child_exit_code", code)
		return 0
	}
	return code
}

// runChild starts the child, supervises it and returns kubexit's exit status.
func (s *supervisor) runChild(args []string, signals <-chan os.Signal, deaths <-chan death) int {
	// A dep that died, or a terminating signal that arrived, while kubexit
	// was getting ready wins: no child.
	for pending := true; pending; {
		select {
		case d := <-deaths:
			return s.notStarted(fmt.Sprintf("death dep %s died before the child started", d.Dep), "dep", d.Dep, "tombstone", d.Tombstone.String())
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
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	// Born is recorded before the child starts, so that a graveyard kubexit
	// cannot write stops it before there is a child to account for.
	now := time.Now()
	s.born = &now
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, tombstone{Born: s.born}); err != nil {
		s.log.Error("cannot record birth; not starting the child", "err", err)
		return exitInternal
	}

	if err := cmd.Start(); err != nil {
		return s.startFailed(args[0], err)
	}
	s.log.Info("child started", "pid", cmd.Process.Pid, "command", args[0])

	exited := make(chan *os.ProcessState, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState
	}()

	var (
		terminatedByDep bool
		grace           <-chan time.Time
	)
	for {
		select {
		case ps := <-exited:
			code := exitInternal
			if ps != nil {
				code = exitStatus(ps)
			}
			s.log.Info("child exited", "exit_code", code, "status", ps.String())
			s.recordDeath(code)
			if terminatedByDep {
				return s.exitAfterDeathDep(code)
			}
			return code

		case sig := <-signals:
			if sig == syscall.SIGPIPE {
				continue
			}
			s.log.Info("forwarding signal to the child", "signal", sig.String())
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.log.Warn("cannot forward signal", "signal", sig.String(), "err", err)
			}

		case d := <-deaths:
			terminatedByDep = true
			s.log.Info("death dep died; terminating the child", "dep", d.Dep, "tombstone", d.Tombstone.String(), "grace_period", s.cfg.GracePeriod)
			cmd.Process.Signal(syscall.SIGTERM)
			grace = time.After(s.cfg.GracePeriod)

		case <-grace:
			grace = nil
			s.log.Warn("child still running after the grace period; killing it", "grace_period", s.cfg.GracePeriod)
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
}

// startFailed records and reports a child that could not be started.
func (s *supervisor) startFailed(command string, err error) int {
	code := startFailureStatus(err)
	s.log.Error("cannot start the child", "command", command, "err", err, "exit_code", code)
	s.recordDeath(code)
	return code
}

// recordDeath writes Died and ExitCode (keeping Born if the child was born).
// A failure is logged, not fatal: kubexit still exits with the child's status.
func (s *supervisor) recordDeath(code int) {
	now := time.Now()
	t := tombstone{Born: s.born, Died: &now, ExitCode: &code}
	if err := writeTombstone(s.cfg.Graveyard, s.cfg.Name, t); err != nil {
		s.log.Error("cannot record death", "err", err)
	}
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
