package main

// The config type, which the parsers (configparse.go) fill from the table
// of variables (config.go).

import (
	"log/slog"
	"syscall"
	"time"
)

// config is everything kubexit reads from its KUBEXIT_* environment.
type config struct {
	Name      string
	Graveyard string

	DeathDeps   []string
	GracePeriod time.Duration
	// ExitZeroOnDeathDeps makes kubexit exit 0 when its child was
	// terminated because a death dep died (a Job's sidecar must not fail the Job).
	ExitZeroOnDeathDeps bool
	PollInterval        time.Duration
	// WatchedPollInterval is the safety poll where an inotify watch on the
	// graveyard wakes the poller at each change (watch.go's pace).
	WatchedPollInterval time.Duration
	DeathPolicy         deathPolicy
	// DeathURLs are called (DeathURLMethod) when a death dep dies, for
	// sidecars that cannot be wrapped but have a shutdown endpoint.
	DeathURLs      []string
	DeathURLMethod string
	// DeathQuorum is how many death deps must have died (as DeathPolicy
	// counts deaths) before the child is stopped; 0 means all of them.
	DeathQuorum int
	// RestartCodes are KUBEXIT_RESTART_CODES: the exit codes on which a
	// dep's container is restarted in place (restart.go).
	RestartCodes map[string]restartPlan
	// StopSignal is what a death dep's death sends the child (TERM unless
	// set, or the container's lifecycle.stopSignal where kubexit reads its
	// pod); StopSignalSet tells KUBEXIT_STOP_SIGNAL was given.
	StopSignal    syscall.Signal
	StopSignalSet bool

	// ShutdownAfter names siblings that must be gone before a stop signal
	// from outside is forwarded to the child; ShutdownTimeout bounds that hold.
	ShutdownAfter   []string
	ShutdownTimeout time.Duration

	// ProcessGroup starts the child in its own process group and signals
	// the whole group. Subreaper makes kubexit reap orphans (it does when it
	// is PID 1 anyway).
	ProcessGroup bool
	Subreaper    bool
	// Preflight runs the --check preflight at start-up; PreflightStrict
	// (KUBEXIT_PREFLIGHT=strict) fails it on an unknown KUBEXIT_* variable.
	Preflight, PreflightStrict bool

	// TerminationLog receives a one-line reason for kubexit's exit.
	// TerminationLogExplicit is false for the default path, which is only
	// written when it exists (Kubernetes mounts it in every container).
	TerminationLog         string
	TerminationLogExplicit bool

	BirthDeps         []string
	BirthProbes       []probe       // KUBEXIT_BIRTH_PROBES (probes.go)
	BirthTimeout      time.Duration // 0 waits forever
	ReadinessInterval time.Duration
	PodName           string
	Namespace         string

	LogFormat string // "text" or "json"
	LogLevel  slog.Level
	LogOff    bool
}
