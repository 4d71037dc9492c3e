package main

// Exit statuses: kubexit's own, and its child's as a shell reports them
// (the exit code; 128+N when signal N ended it; 126 and 127 when it could
// not be started). Every 128+N of kubexit's is signalStatus.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
)

// Exit statuses of kubexit itself; otherwise it exits with its child's status.
const (
	exitInternal = 1 // kubexit could not do its job (graveyard not writable, birth deps not ready)
	exitUsage    = 2 // bad arguments or KUBEXIT_* values
)

// Exit statuses of a child that could not be started, as a shell's.
const (
	exitCannotExecute = 126 // the command exists but cannot be executed
	exitNotFound      = 127 // the command does not exist
)

// signalStatus is the status of a process that signal sig ended, or of
// kubexit ended by it before its child started: 128+N, as sh, tini and
// dumb-init report it and as Kubernetes podFailurePolicy rules expect.
func signalStatus(sig syscall.Signal) int { return 128 + int(sig) }

// exitStatus turns a finished child into the status a shell would report:
// its exit code, or 128+N when signal N killed it.
func exitStatus(ps *os.ProcessState) int { return processEnd(ps).code }

func waitStatusCode(ws syscall.WaitStatus) int { return waitStatusEnd(ws).code }

// childEnd is how a child ended: its status as exitStatus gives it and,
// only when a signal killed it, that signal. A child's own exit 137 is
// status 137 too, but no SIGKILL.
type childEnd struct {
	code   int
	signal syscall.Signal // 0: the child exited by itself
}

// waitStatusEnd is how a child that wait4 reported ended.
func waitStatusEnd(ws syscall.WaitStatus) childEnd {
	if ws.Signaled() {
		return childEnd{signalStatus(ws.Signal()), ws.Signal()}
	}
	return childEnd{code: ws.ExitStatus()}
}

// processEnd is waitStatusEnd for a finished os/exec child.
func processEnd(ps *os.ProcessState) childEnd {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return waitStatusEnd(ws)
	}
	return childEnd{code: ps.ExitCode()}
}

// startFailureStatus maps a failure to start the child to a shell's status:
// 127 when the command does not exist, 126 when it exists but cannot be
// executed.
func startFailureStatus(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotExecute
}

// describeStatus says how the child ended: "3", "137" (its own exit 137),
// or "143 (SIGTERM)" when SIGTERM killed it.
func describeStatus(end childEnd) string {
	if end.signal != 0 {
		return fmt.Sprintf("%d (%s)", end.code, signalName(end.signal))
	}
	return fmt.Sprint(end.code)
}
