package main

// Low-level file helpers: plain system calls retried on EINTR, full reads
// and writes at an offset, and a write that never blocks. They use nothing
// else of kubexit's.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openRetry is open(2), retried on EINTR, always with O_NOCTTY: kubexit as
// PID 1 is a session leader without a controlling terminal, and opening a
// terminal (a tombstone linked to one) would otherwise make it kubexit's.
func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_NOCTTY, mode)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// preadFull reads len(b) bytes at off, or up to the end of the file.
func preadFull(fd int, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(fd, b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// pwriteFull writes all of b at off.
func pwriteFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		m, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[m:], off+int64(m)
	}
	return nil
}

// fsyncRetry is fsync(2), retried on EINTR; its error names path.
func fsyncRetry(fd int, path string) error {
	for {
		err := unix.Fsync(fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "fsync", Path: path, Err: err}
		}
		return nil
	}
}

// ftruncateRetry is ftruncate(2), retried on EINTR.
func ftruncateRetry(fd int, size int64) error {
	for {
		if err := unix.Ftruncate(fd, size); err != unix.EINTR {
			return err
		}
	}
}

// notRegularFile is the error for a file that is not a regular file, naming
// its type.
func notRegularFile(mode uint32) error {
	kind, ok := fileTypeNames[mode&unix.S_IFMT]
	if !ok {
		kind = "unknown type"
	}
	return fmt.Errorf("not a regular file (%s)", kind)
}

// fileTypeNames names the file types other than a regular file.
var fileTypeNames = map[uint32]string{
	unix.S_IFIFO:  "fifo",
	unix.S_IFCHR:  "character device",
	unix.S_IFBLK:  "block device",
	unix.S_IFSOCK: "socket",
	unix.S_IFDIR:  "directory",
	unix.S_IFLNK:  "symbolic link",
}

// writeNonBlocking replaces path's content with data (creating the file if
// create is set) without ever blocking: kubexit writes it on its way out,
// and a termination log that is a FIFO with no reader, or a full pipe,
// must not keep it from exiting. Plain system calls: an os.File would wait
// in the network poller for a FIFO to become writable.
func writeNonBlocking(path string, create bool, data []byte) error {
	flags := syscall.O_WRONLY | syscall.O_TRUNC | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC
	if create {
		flags |= syscall.O_CREAT
	}
	fd, err := openRetry(path, flags, 0o644)
	if err != nil {
		if err == syscall.ENXIO {
			return &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("a FIFO with no reader: %w", err)}
		}
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	for len(data) > 0 {
		n, err := syscall.Write(fd, data)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	return nil
}

// fileExists tells whether path exists (a link is followed).
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unwrapPath is err without the path a PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
