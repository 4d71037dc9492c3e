package main

// The child: starting it, signalling it (or its process group), waiting for
// it, and reaping orphans as PID 1 or a subreaper.

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// child is the process kubexit supervises.
type child struct {
	cmd *exec.Cmd
	// group is set with KUBEXIT_PROCESS_GROUP: the child leads its own
	// process group and every signal goes to the whole group.
	group bool
	log   *slog.Logger
}

// startChild starts args[0] with kubexit's stdio, environment and cwd.
//
// The child is SIGKILLed by the kernel if kubexit dies first (Pdeathsig),
// as tini -p arranges: outside PID 1 (a pod with shareProcessNamespace, a
// shell that runs kubexit) a SIGKILLed kubexit would otherwise leave it
// running unsupervised, its death never recorded. KILL, because no one is
// left to escalate a TERM. The signal comes when the thread that forked the
// child exits (go.dev/issue/27505); the Go runtime ends a thread only when
// a goroutine locked to it returns, and kubexit locks none. It reaches the
// child alone, not its own children, and the kernel drops it when the
// child execs a set-user-ID program.
func startChild(args []string, group bool, log *slog.Logger) (*child, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, group: group, log: log}, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// terminate is stop with SIGTERM.
func (c *child) terminate() error { return c.stop(syscall.SIGTERM) }

// stop sends sig (a stop signal) and then, when the child (with a process group,
// any member of it) is stopped, SIGCONT, as container runtimes and systemd
// do: a stopped child (SIGSTOP) would not act on the TERM until continued,
// and would burn the whole grace period. A running child gets no CONT: a
// child that traps both would see a CONT it has no reason for, and
// possibly before the stop signal.
func (c *child) stop(sig syscall.Signal) error {
	err := c.signal(sig)
	if err == nil && c.stopped() {
		c.signal(syscall.SIGCONT)
	}
	return err
}

// stopped tells whether the child, or with a process group any process of
// it, is stopped (state T, or t for a tracer's stop, in /proc/PID/stat).
// Where /proc cannot be read it says yes: a CONT too many is better than a
// stopped child left to the KILL.
func (c *child) stopped() bool {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return true
	}
	if !c.group {
		state, _, ok := procStat(strconv.Itoa(c.pid()))
		return ok && isStoppedState(state)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if state, pgrp, ok := procStat(e.Name()); ok && pgrp == c.pid() && isStoppedState(state) {
			return true
		}
	}
	return false
}

func isStoppedState(state byte) bool { return state == 'T' || state == 't' }

// procStat reads the state and the process group of process pid from
// /proc/PID/stat; ok is false when it is gone. The fields are read after the
// last ')', which ends the command name (itself free to hold any byte).
func procStat(pid string) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:])) // state, ppid, pgrp, ...
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0][0], pgrp, err == nil
}

// signal sends sig to the child, or to its process group.
func (c *child) signal(sig syscall.Signal) error {
	if c.group {
		// The group outlives its leader: grandchildren may still run.
		err := syscall.Kill(-c.pid(), sig)
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return err
	}
	return c.cmd.Process.Signal(sig)
}

// wait returns a channel that delivers how the child ended (its exit status,
// 128+N for signal N, and the signal) once. Without a reaper it is os/exec's own wait on the child.
// As a reaper (PID 1, or KUBEXIT_SUBREAPER), kubexit waits for any process
// on each SIGCHLD: orphans that the kernel re-parented to kubexit are reaped
// and dropped, and the child's status is delivered when its turn comes, so
// reaping never steals it.
func (c *child) wait(reaper bool, sigchld <-chan os.Signal) <-chan childEnd {
	exited := make(chan childEnd, 1)
	if !reaper {
		go func() {
			err := c.cmd.Wait()
			if c.cmd.ProcessState == nil {
				c.log.Error("cannot wait for the child", "err", err)
				exited <- childEnd{code: exitInternal}
				return
			}
			exited <- processEnd(c.cmd.ProcessState)
		}()
		return exited
	}
	go func() {
		for {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if err == syscall.EINTR {
					continue
				}
				if err != nil || pid <= 0 {
					break // ECHILD: nothing left; 0: nothing exited yet
				}
				if pid == c.pid() {
					exited <- waitStatusEnd(ws)
					return
				}
				c.log.Debug("reaped an orphan", "pid", pid, "exit_code", waitStatusCode(ws))
			}
			<-sigchld
		}
	}()
	return exited
}

// becomeReaper makes kubexit reap orphans when it is PID 1 (the kernel
// re-parents them to it anyway), a subreaper by inheritance, or when asked to (KUBEXIT_SUBREAPER: the
// kernel re-parents this process tree's orphans to kubexit instead of PID 1).
// It returns whether kubexit reaps, and the SIGCHLD channel to reap on.
func becomeReaper(asked bool, log *slog.Logger) (bool, <-chan os.Signal) {
	inherited := isChildSubreaper()
	if os.Getpid() != 1 && !asked && !inherited {
		return false, nil
	}
	if os.Getpid() != 1 && !inherited {
		if err := setChildSubreaper(); err != nil {
			log.Warn("cannot become a subreaper; orphans will not be reaped by kubexit", "err", err)
			return false, nil
		}
	}
	// Subscribing to SIGCHLD changes nothing for the child: exec resets a
	// handled signal to its default, which for SIGCHLD is to ignore it.
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	return true, sigchld
}

// isChildSubreaper tells whether kubexit is a subreaper already: a parent
// may set the bit before it execs kubexit (exec keeps it), and then orphans
// come to kubexit, which must reap them.
func isChildSubreaper() bool {
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

func setChildSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}
