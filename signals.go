package main

// Signals: which ones are forwarded to the child, which end kubexit before
// the child starts, the subscription to them, and their names.

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardedSignals are relayed to the child as they arrive: every signal a
// wrapper can forward, as tini and dumb-init do. A signal sent with kill is
// about the child: even SIGSEGV, SIGILL or SIGABRT, which would otherwise
// crash a Go program, are delivered to kubexit's channel when another
// process sends them (the Go runtime tells them from kubexit's own faults
// by si_code; a real fault of kubexit's still crashes it, and its lock,
// lock.go, tells its siblings).
//
// SIGPIPE too, as tini and dumb-init do. The Go runtime does not say who
// sent a signal, so kubexit keeps its own writes from raising one: a log
// line to a broken stderr raises none (noSIGPIPEWriter). One that comes is
// then from another process, or, rarely, from a network write of kubexit's
// (a death URL call on a connection the server reset, while the child is
// being terminated anyway), and that one is forwarded too.
//
// Not here, each for a reason: SIGCHLD (about kubexit's own children: it
// reaps them), SIGURG (the Go runtime's goroutine preemption), SIGPROF (the
// Go runtime takes it for its profiler, always: a Go program never receives
// it; measured by TestEverySignalForwarded's first version), SIGKILL and SIGSTOP
// (cannot be caught), and signals 32 to 34, which the Go runtime keeps for
// itself (32 and 33 are the C library's thread signals, 34 the runtime's
// per-thread system calls; measured: a Go program subscribed to them dies
// of 32 and 34 and never sees 33). The C library's SIGRTMIN is 34, so
// SIGRTMIN+1 (35) to SIGRTMAX (64) are forwarded.
var forwardedSignals = append([]os.Signal{
	syscall.SIGTERM,
	syscall.SIGINT,
	syscall.SIGHUP,
	syscall.SIGQUIT,
	syscall.SIGUSR1,
	syscall.SIGUSR2,
	syscall.SIGWINCH,
	syscall.SIGALRM,
	syscall.SIGCONT,
	syscall.SIGILL,
	syscall.SIGTRAP,
	syscall.SIGABRT,
	syscall.SIGBUS,
	syscall.SIGFPE,
	syscall.SIGSEGV,
	syscall.SIGSYS,
	syscall.SIGSTKFLT,
	syscall.SIGXCPU,
	syscall.SIGXFSZ,
	syscall.SIGVTALRM,
	syscall.SIGIO,
	syscall.SIGPWR,
	syscall.SIGPIPE,
}, realtimeSignals()...)

// realtimeSignals are SIGRTMIN+1 (35, as the C library numbers it) to
// SIGRTMAX (64): the real-time signals a Go program can receive.
func realtimeSignals() []os.Signal {
	var sigs []os.Signal
	for s := 35; s <= 64; s++ {
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}

// jobControlSignals are forwarded, and then kubexit stops itself, as
// dumb-init does, so that a shell's fg and bg keep working when kubexit runs
// interactively. The SIGCONT that resumes kubexit is forwarded in turn.
var jobControlSignals = []os.Signal{syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}

func isJobControl(sig os.Signal) bool {
	switch sig {
	case syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
		return true
	}
	return false
}

// terminatingSignals end kubexit when they arrive before the child has
// started: the child is not started, and kubexit exits 128+N.
func terminating(sig os.Signal) bool {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT:
		return true
	}
	return false
}

// notifySignals subscribes to the forwarded signals that are not ignored.
//
// A signal that kubexit's parent set to SIG_IGN is left alone: subscribing
// would install a handler, and exec resets handled signals to SIG_DFL, so the
// child would lose the ignored disposition it should inherit (nohup's SIGHUP,
// for example). Such a signal would not reach kubexit anyway.
//
// Subscribing to SIGPIPE also makes a write of kubexit's to a broken stdout
// or stderr return EPIPE instead of killing kubexit, which must outlive its
// child to record its death.
func notifySignals(ch chan<- os.Signal) {
	ignored := ignoredAtStart()
	var sigs []os.Signal
	for _, s := range append(forwardedSignals, jobControlSignals...) {
		if !signal.Ignored(s) && !ignored[s.(syscall.Signal)] {
			sigs = append(sigs, s)
		}
	}
	signal.Notify(ch, sigs...)
}

// ignoredAtStart reads which signals are ignored (SigIgn in
// /proc/self/status). signal.Ignored knows only about the signals the Go
// runtime looked at when it started; TSTP, TTIN and TTOU it leaves alone, so
// their inherited disposition is still what the kernel says.
func ignoredAtStart() map[syscall.Signal]bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	mask, err := statusSignalMask(string(data), "SigIgn")
	if err != nil {
		return nil
	}
	ignored := map[syscall.Signal]bool{}
	for i := 0; i < 64; i++ {
		if mask&(1<<i) != 0 {
			ignored[syscall.Signal(i+1)] = true
		}
	}
	return ignored
}

// statusSignalMask reads the signal mask line key (SigIgn, SigBlk, SigCgt,
// SigPnd) of /proc/PID/status text: bit N-1 stands for signal N.
func statusSignalMask(status, key string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
		}
	}
	return 0, fmt.Errorf("no %s line in /proc/PID/status", key)
}

// signalName is "SIGTERM" for syscall.SIGTERM.
func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return name
		}
	}
	return sig.String()
}
