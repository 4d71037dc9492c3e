package main

// Kubexit's log: log/slog records on stderr only, as text lines that start
// with "kubexit: " or as JSON, written without raising SIGPIPE.

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newLogger logs to stderr only (stdout is the child's). Text lines start
// with "kubexit: " so they stand out among the child's.
func newLogger(w io.Writer, cfg config) *slog.Logger {
	if cfg.LogOff {
		return discardLogger()
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

// quietStderr is the writer of kubexit's log lines on f (its stderr) when
// f allows raw writes: a write to a broken pipe fails with EPIPE and raises
// no SIGPIPE that kubexit would take for one sent to it and forward
// (noSIGPIPEWriter). Otherwise f itself.
func quietStderr(f *os.File) io.Writer {
	rc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return noSIGPIPEWriter{rc}
}

// noSIGPIPEWriter writes with SIGPIPE blocked on the writing thread. The
// kernel sends the SIGPIPE of a write to a broken pipe to the thread that
// wrote; blocked, it stays pending there, and is taken back before the mask
// is restored. So it never reaches kubexit's signal channel, where it would
// be forwarded to the child (signals.go: a SIGPIPE sent by another process
// is). The raw write also keeps os.File from raising one of its own on
// EPIPE for stderr.
type noSIGPIPEWriter struct{ rc syscall.RawConn }

func (w noSIGPIPEWriter) Write(p []byte) (int, error) {
	runtime.LockOSThread() // the signal mask is the thread's
	defer runtime.UnlockOSThread()
	var pipe, old unix.Sigset_t
	pipe.Val[0] = 1 << (uint(syscall.SIGPIPE) - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &pipe, &old); err != nil {
		return 0, fmt.Errorf("block SIGPIPE: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	n, werr := 0, error(nil)
	err := w.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := unix.Write(int(fd), p[n:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false // wait until writable (a non-blocking stderr)
			case err != nil:
				werr = err
				return true
			}
			n += m
		}
		return true
	})
	if werr == unix.EPIPE {
		// Take back the SIGPIPE this write left pending on this thread
		// (a zero timeout: it never waits).
		var zero unix.Timespec
		unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&pipe)), 0, uintptr(unsafe.Pointer(&zero)), sigsetSize, 0, 0)
	}
	if werr == nil {
		werr = err
	}
	return n, werr
}

// sigsetSize is the kernel's signal set size (_NSIG/8) on every Linux
// architecture kubexit is built for.
const sigsetSize = 8
