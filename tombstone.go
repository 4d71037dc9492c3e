package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"
)

// A tombstone is the file <graveyard>/<name> through which a wrapped process
// tells its siblings that it was born and that it died. The format is the
// original kubexit's, byte for byte, so old and new binaries share a graveyard:
//
//	Born: "2026-11-25T23:21:14.604215824Z"
//	Died: "2026-11-25T23:21:14.610530456Z"
//	ExitCode: 0
//
// Keys are omitted while empty; a tombstone with only Died is one whose child
// never started.
type tombstone struct {
	Born     *time.Time `json:",omitempty"`
	Died     *time.Time `json:",omitempty"`
	ExitCode *int       `json:",omitempty"`
}

// States of a tombstone, as the watcher, --status and --wait judge it.
const (
	stateBorn       = "born"        // Born, and no Died since
	stateDied       = "died"        // Died after Born
	stateNotStarted = "not started" // Died without Born: the child never started
	stateLost       = "lost"        // born, and its kubexit ended without recording a death (lock.go)
)

// state is what the tombstone alone says: born, died or not started. A
// Born later than Died is a restarted process, alive again.
func (t tombstone) state() string {
	switch {
	case t.Died == nil:
		return stateBorn
	case t.Born == nil:
		return stateNotStarted
	case t.Born.After(*t.Died):
		return stateBorn
	}
	return stateDied
}

// maxTombstoneSize bounds what a reader loads: a tombstone is under 100 bytes,
// and a dep must not make kubexit read a huge file every poll.
const maxTombstoneSize = 64 << 10

// marshal renders the tombstone exactly as the original does (sigs.k8s.io/yaml
// of the struct above, which sorts keys and quotes RFC 3339 timestamps), in UTC.
func (t tombstone) marshal() []byte {
	var b bytes.Buffer
	if t.Born != nil {
		fmt.Fprintf(&b, "Born: %q\n", t.Born.UTC().Format(time.RFC3339Nano))
	}
	if t.Died != nil {
		fmt.Fprintf(&b, "Died: %q\n", t.Died.UTC().Format(time.RFC3339Nano))
	}
	if t.ExitCode != nil {
		fmt.Fprintf(&b, "ExitCode: %d\n", *t.ExitCode)
	}
	if b.Len() == 0 {
		return []byte("{}\n")
	}
	return b.Bytes()
}

// parseTombstone reads a tombstone as leniently as the original (which uses
// sigs.k8s.io/yaml too): YAML or JSON, keys in any case, timestamps with any
// UTC offset. Empty or unparsable content is an error: the caller treats it
// as "not readable yet" (a writer may be midway through a non-atomic write).
func parseTombstone(data []byte) (tombstone, error) {
	var t tombstone
	if len(bytes.TrimSpace(data)) == 0 {
		return t, errors.New("empty")
	}
	if err := yaml.Unmarshal(data, &t); err != nil {
		return t, err
	}
	// A document that parses but says nothing (a scalar, a list, unknown
	// keys) is not a tombstone yet.
	if t.Born == nil && t.Died == nil && t.ExitCode == nil {
		return t, errors.New("no Born, Died or ExitCode")
	}
	return t, nil
}

// writeTombstone replaces <dir>/<name> atomically: a temporary file in the same
// directory, fsync, mode 0644, rename. A reader sees the old content or the
// new, never a part. A missing graveyard is created (0755).
func writeTombstone(dir, name string, t tombstone) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create graveyard: %w", err)
	}
	// The leading dot keeps temporary files out of the name space of
	// tombstones: a container name never starts with '.'.
	tmp, err := os.CreateTemp(dir, tempPrefix(name)+"*")
	if err != nil {
		return fmt.Errorf("write tombstone: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(t.marshal()); err != nil {
		return fmt.Errorf("write tombstone %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write tombstone %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write tombstone %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write tombstone %s: %w", tmp.Name(), err)
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("write tombstone: %w", err)
	}
	// Make the rename itself durable where the filesystem allows it; some
	// (FUSE, NFS) refuse fsync on a directory, which costs nothing here.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func tempPrefix(name string) string { return "." + name + ".tmp-" }

// removeStaleTemps deletes temporary files that an earlier kubexit of the
// same name left when it was killed between create and rename.
func removeStaleTemps(dir, name string) {
	matches, _ := filepath.Glob(filepath.Join(dir, tempPrefix(name)+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// readTombstoneFile reads up to maxTombstoneSize bytes of a tombstone into buf
// (reused between polls). It uses plain system calls rather than os.File:
// a poller opens this file several times a second for the pod's whole life,
// and os.File adds a netpoller registration, fcntl calls and a finalizer to
// each open. O_NONBLOCK keeps a FIFO put in the graveyard from blocking it.
func readTombstoneFile(path string, buf []byte) ([]byte, error) {
	fd, err := openRetry(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	// FUSE (sshfs, bindfs) caches a file's size for its attribute timeout
	// (1 s) and cuts reads short to it: a tombstone that grew from Born to
	// Died would read truncated, so unparsable, until then. Fetch fresh
	// attributes first (one extra round trip on FUSE and NFS; nothing on a
	// local filesystem). Errors do not matter: the read decides.
	var stx unix.Statx_t
	unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_FORCE_SYNC, unix.STATX_SIZE, &stx)
	buf = buf[:0]
	for {
		if len(buf) > maxTombstoneSize {
			return buf, fmt.Errorf("%s: larger than %d bytes", path, maxTombstoneSize)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return buf, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// openRetry is open(2), retried on EINTR.
func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, mode)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// String renders a tombstone on one line for logs.
func (t tombstone) String() string {
	var parts []string
	if t.Born != nil {
		parts = append(parts, "born "+t.Born.UTC().Format(time.RFC3339Nano))
	}
	if t.Died != nil {
		parts = append(parts, "died "+t.Died.UTC().Format(time.RFC3339Nano))
	}
	if t.ExitCode != nil {
		parts = append(parts, "exit code "+strconv.Itoa(*t.ExitCode))
	}
	return strings.Join(parts, ", ")
}
