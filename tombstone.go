package main

// Tombstones: their format (the original kubexit's, byte for byte), and
// reading one leniently. Writing them is graveyardwrite.go's.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

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
	stateUnknown    = "unknown"     // neither Born nor Died (only ExitCode): not kubexit's, and not dead
	stateEarlier    = "earlier run" // written before the graveyard's generation began (generation.go): as if not there
	stateRestarting = "restarting"  // died, and its container's restart policy restarts it (restart.go)
)

// state is what the tombstone alone says: born, died, not started or
// unknown. A Born later than Died is a restarted process, alive again.
func (t tombstone) state() string {
	switch {
	case t.Born == nil && t.Died == nil:
		return stateUnknown
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
// Content over maxTombstoneSize is refused unparsed, and a panic of the YAML
// parser is an error too: a sibling's file must not crash kubexit. Unlike
// the original, a time outside the years 0000-9999 in UTC is refused.
func parseTombstone(data []byte) (t tombstone, err error) {
	if len(data) > maxTombstoneSize {
		return t, fmt.Errorf("larger than %d bytes", maxTombstoneSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return t, errors.New("empty")
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = tombstone{}, fmt.Errorf("%w: %v", errParserPanic, r)
		}
	}()
	if err := yaml.Unmarshal(data, &t); err != nil {
		return tombstone{}, cutError{err}
	}
	// A document that parses but says nothing (a scalar, a list, unknown
	// keys) is not a tombstone yet.
	if t.Born == nil && t.Died == nil && t.ExitCode == nil {
		return t, errors.New("no Born, Died or ExitCode")
	}
	// RFC 3339 has years 0000 to 9999, but an offset can move a time out of
	// them in UTC ("0000-01-01T00:00:00+01:00"): such a time could be
	// neither written back as a tombstone nor shown in JSON.
	for _, f := range []struct {
		key string
		t   *time.Time
	}{{"Born", t.Born}, {"Died", t.Died}} {
		if f.t != nil && (f.t.UTC().Year() < 0 || f.t.UTC().Year() > 9999) {
			return tombstone{}, fmt.Errorf("%s %s is outside the years 0000-9999 in UTC", f.key, f.t.Format(time.RFC3339Nano))
		}
	}
	return t, nil
}

// errParserPanic marks a panic of the YAML parser, turned into an error.
var errParserPanic = errors.New("YAML parser failed")

// maxParseErrorBytes bounds the message of a parse error: the parser quotes
// the content it refuses ("parsing time \"...\""), which may be 64 KB.
const maxParseErrorBytes = 200

// cutError is an error whose message is cut at maxParseErrorBytes.
type cutError struct{ err error }

func (e cutError) Error() string {
	s := e.err.Error()
	if len(s) <= maxParseErrorBytes {
		return s
	}
	n := maxParseErrorBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (e cutError) Unwrap() error { return e.err }

// readTombstoneFile reads up to maxTombstoneSize bytes of a tombstone into buf
// (reused between polls). It uses plain system calls rather than os.File:
// a poller opens this file several times a second for the pod's whole life,
// and os.File adds a netpoller registration, fcntl calls and a finalizer to
// each open.
//
// Only a regular file's content counts. A symbolic link is followed (a user
// may link a tombstone), but whatever is opened is refused, before any read,
// unless it is a regular file: a FIFO (its data is for another reader), a
// device (/dev/zero, a terminal), a directory. O_NONBLOCK keeps the open of a
// FIFO from blocking; opening one for reading consumes nothing. (A socket
// cannot be opened at all: ENXIO.)
func readTombstoneFile(path string, buf []byte) ([]byte, error) {
	buf = buf[:0]
	fd, err := openRetry(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return buf, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	// FUSE (sshfs, bindfs) caches a file's size for its attribute timeout
	// (1 s) and cuts reads short to it: a tombstone that grew from Born to
	// Died would read truncated, so unparsable, until then. Fetch fresh
	// attributes first (one extra round trip on FUSE and NFS; nothing on a
	// local filesystem); the same call tells the file's type. fstat where
	// statx is missing (Linux before 4.11, some sandboxes).
	var stx unix.Statx_t
	var mode uint32
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_FORCE_SYNC, unix.STATX_TYPE|unix.STATX_SIZE, &stx); err == nil && stx.Mask&unix.STATX_TYPE != 0 {
		mode = uint32(stx.Mode)
	} else {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return buf, &fs.PathError{Op: "fstat", Path: path, Err: err}
		}
		mode = st.Mode
	}
	if mode&unix.S_IFMT != unix.S_IFREG {
		return buf, &fs.PathError{Op: "read", Path: path, Err: notRegularFile(mode)}
	}
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
