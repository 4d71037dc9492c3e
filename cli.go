package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// kubexit's own commands. Since "kubexit CMD" runs CMD, they are options,
// which no program name can collide with: an argument list that starts with
// '-' is for kubexit itself, and "kubexit -- CMD" runs a CMD named "-x".

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build info.
var version string

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// runOption runs one of kubexit's own commands and returns the exit status.
func runOption(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "-h", "-help", "--help":
		printHelp(stdout)
		return 0
	case "-version", "--version":
		fmt.Fprintf(stdout, "kubexit %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "--status":
		return statusCommand(args[1:], getenv, stdout, stderr)
	case "--wait":
		return waitCommand(args[1:], getenv, stderr)
	case "--check":
		if len(args) > 1 {
			return usageError(stderr, "--check takes no arguments")
		}
		cfg, err := parseConfig(getenv)
		ok := true
		for _, e := range unjoinOrNil(err) {
			fmt.Fprintf(stdout, "FAIL: %v\n", e)
			ok = false
		}
		if ok && !preflight(cfg, func(line string) { fmt.Fprintln(stdout, line) }) {
			ok = false
		}
		if !ok {
			return exitInternal
		}
		return 0
	}
	return usageError(stderr, fmt.Sprintf("unknown option %q", args[0]))
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "kubexit: %s\nusage: kubexit COMMAND [ARG...]  (kubexit -- COMMAND runs a command whose name starts with '-'; kubexit --help tells more)\n", msg)
	return exitUsage
}

func unjoinOrNil(err error) []error {
	if err == nil {
		return nil
	}
	return unjoin(err)
}

// statusRow is one tombstone as --status shows it.
type statusRow struct {
	Name     string     `json:"name"`
	Born     *time.Time `json:"born,omitempty"`
	Died     *time.Time `json:"died,omitempty"`
	ExitCode *int       `json:"exitCode,omitempty"`
	State    string     `json:"state"`           // born, died, not started, unreadable
	Error    string     `json:"error,omitempty"` // why it is unreadable
}

// readGraveyard reads every tombstone in dir, sorted by birth (deaths
// without a birth by their death; unreadable ones last).
func readGraveyard(dir string) ([]statusRow, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var rows []statusRow
	buf := make([]byte, 0, 512)
	for _, e := range entries {
		// Only tombstones: temporary files start with '.', and a name that
		// is not a container name is not kubexit's.
		if !e.Type().IsRegular() || validateName(e.Name()) != nil {
			continue
		}
		row := statusRow{Name: e.Name()}
		data, err := readTombstoneFile(filepath.Join(dir, e.Name()), buf)
		if err == nil {
			var t tombstone
			if t, err = parseTombstone(data); err == nil {
				row.Born, row.Died, row.ExitCode = t.Born, t.Died, t.ExitCode
			}
		}
		switch {
		case err != nil:
			row.State, row.Error = "unreadable", oneLine(err.Error())
		case row.Died != nil && row.Born == nil:
			row.State = "not started"
		case row.Died != nil && !row.Born.After(*row.Died):
			row.State = "died"
		default:
			row.State = "born"
		}
		rows = append(rows, row)
	}
	key := func(r statusRow) time.Time {
		switch {
		case r.Born != nil:
			return *r.Born
		case r.Died != nil:
			return *r.Died
		}
		return time.Unix(1<<40, 0) // unreadable: last
	}
	slices.SortStableFunc(rows, func(a, b statusRow) int { return key(a).Compare(key(b)) })
	return rows, nil
}

// statusCommand is "kubexit --status [-o json|table]".
func statusCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	format := "table"
	for len(args) > 0 {
		switch {
		case args[0] == "-o" && len(args) > 1:
			format, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "-o="), strings.HasPrefix(args[0], "--output="):
			format, args = args[0][strings.IndexByte(args[0], '=')+1:], args[1:]
		default:
			return usageError(stderr, fmt.Sprintf("--status: unexpected %q; usage: kubexit --status [-o json]", args[0]))
		}
	}
	if format != "table" && format != "json" {
		return usageError(stderr, fmt.Sprintf("--status: output format %q; want table or json", format))
	}
	dir := graveyardFrom(getenv)
	rows, err := readGraveyard(dir)
	if err != nil {
		fmt.Fprintf(stderr, "kubexit: cannot read the graveyard (KUBEXIT_GRAVEYARD=%s): %v\n", dir, err)
		return exitInternal
	}
	if format == "json" {
		if rows == nil {
			rows = []statusRow{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return 0
	}
	if len(rows) == 0 {
		fmt.Fprintf(stdout, "no tombstones in %s\n", dir)
		return 0
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tBORN\tDIED\tEXIT\tAGE")
	for _, r := range rows {
		if r.State == "unreadable" {
			fmt.Fprintf(tw, "%s\tunreadable\t-\t-\t-\t-\t(%s)\n", r.Name, r.Error)
			continue
		}
		exit := "-"
		if r.ExitCode != nil {
			exit = fmt.Sprint(*r.ExitCode)
		}
		last := r.Born
		if r.Died != nil {
			last = r.Died
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, shortTime(r.Born), shortTime(r.Died), exit, age(now, last))
	}
	tw.Flush()
	return 0
}

func shortTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// age is how long ago t was, rounded for reading: 45s, 3m12s, 2h5m, 3d4h.
func age(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	d := now.Sub(*t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return strings.TrimSuffix(d.Round(time.Second).String(), "0s")
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func graveyardFrom(getenv func(string) string) string {
	if v := getenv("KUBEXIT_GRAVEYARD"); v != "" {
		return filepath.Clean(v)
	}
	return defaultGraveyard
}

// waitCommand is "kubexit --wait born|died NAME [--timeout D]": it blocks
// until NAME's tombstone says so, for preStop hooks and init containers.
func waitCommand(args []string, getenv func(string) string, stderr io.Writer) int {
	const usage = "usage: kubexit --wait born|died NAME [--timeout DURATION]"
	var positional []string
	var timeout time.Duration
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--timeout" && i+1 < len(args):
			i++
			d, err := time.ParseDuration(args[i])
			if err != nil || d < 0 {
				return usageError(stderr, fmt.Sprintf("--wait: --timeout %q is not a duration; %s", args[i], usage))
			}
			timeout = d
		case strings.HasPrefix(a, "--timeout="):
			d, err := time.ParseDuration(strings.TrimPrefix(a, "--timeout="))
			if err != nil || d < 0 {
				return usageError(stderr, fmt.Sprintf("--wait: %q is not a duration; %s", a, usage))
			}
			timeout = d
		case strings.HasPrefix(a, "-"):
			return usageError(stderr, fmt.Sprintf("--wait: unknown option %q; %s", a, usage))
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) != 2 || positional[0] != "born" && positional[0] != "died" {
		return usageError(stderr, "--wait: "+usage)
	}
	state, name := positional[0], positional[1]
	if err := validateName(name); err != nil || name == "" {
		return usageError(stderr, fmt.Sprintf("--wait: NAME %q: must be a container name", name))
	}
	interval := defaultPollInterval
	if v := getenv("KUBEXIT_POLL_INTERVAL"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			interval = d
		}
	}
	dir := graveyardFrom(getenv)
	path := filepath.Join(dir, name)

	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	buf := make([]byte, 0, 512)
	last := "no tombstone yet"
	for {
		data, err := readTombstoneFile(path, buf)
		switch {
		case err == nil:
			if t, perr := parseTombstone(data); perr == nil {
				if state == "born" && t.Born != nil || state == "died" && t.Died != nil {
					return 0
				}
				last = "tombstone: " + t.String()
			} else {
				last = "tombstone not readable: " + oneLine(perr.Error())
			}
		case errors.Is(err, fs.ErrNotExist):
			last = "no tombstone yet"
		default:
			last = oneLine(err.Error())
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "kubexit: %s not %s after %v (%s in %s)\n", name, state, timeout, last, dir)
			return exitInternal
		case <-tick.C:
		}
	}
}

// preflight checks what kubexit needs before it starts anything and reports
// each check through report, one line each, "ok: ..." or "FAIL: ... (what
// to fix)". It returns whether all passed.
func preflight(cfg config, report func(string)) bool {
	ok := true
	fail := func(format string, args ...any) {
		ok = false
		report("FAIL: " + fmt.Sprintf(format, args...))
	}

	if err := checkWritable(cfg.Graveyard); err != nil {
		fail("graveyard %s is not writable: %v; mount a shared volume there (an emptyDir) writable by this container's user, or set KUBEXIT_GRAVEYARD", cfg.Graveyard, err)
	} else {
		report("ok: graveyard " + cfg.Graveyard + " is writable")
	}
	if len(cfg.BirthDeps) == 0 {
		return ok
	}

	ns, err := podNamespace(cfg.Namespace)
	if err != nil {
		fail("%v", err)
		return false
	}
	rc, src, err := loadRESTConfig()
	if err != nil {
		fail("%v", err)
		return false
	}
	w, err := newBirthWaiter(cfg, ns, rc, src, discardLogger())
	if err != nil {
		fail("%v", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), readinessRequestTimeout)
	defer cancel()
	pod, err := w.getPod(ctx)
	if err != nil {
		if fatal := w.fatalError(err); fatal != nil {
			fail("%v", fatal)
		} else {
			fail("cannot reach the Kubernetes API (%s) to read pod %s/%s: %s", src.desc, ns, cfg.PodName, oneLine(err.Error()))
		}
		return false
	}
	report(fmt.Sprintf("ok: %s may get pod %s/%s", src.desc, ns, cfg.PodName))
	if err := checkPodContainers(pod, cfg, ns); err != nil {
		fail("%v", err)
		return false
	}
	report("ok: birth deps " + strings.Join(cfg.BirthDeps, ", ") + " and KUBEXIT_NAME " + cfg.Name + " are containers of the pod")
	return ok
}

// checkWritable creates and removes a temporary file in dir (creating dir
// as a tombstone write would).
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".kubexit-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// printHelp prints usage, every variable with its default, and exit codes.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `kubexit runs a command and ties its life to sibling containers of its pod.

Usage:
  kubexit COMMAND [ARG...]        run COMMAND under kubexit's supervision
  kubexit -- COMMAND [ARG...]     the same, for a COMMAND whose name starts with '-'
  kubexit                         with KUBEXIT_DEATH_URLS only: wait for a death dep, call the URLs
  kubexit --status [-o json]      show every tombstone in the graveyard
  kubexit --wait born|died NAME [--timeout D]
                                  block until NAME's tombstone says born or died
  kubexit --check                 preflight: configuration, graveyard, Kubernetes API and RBAC
  kubexit --help | --version

Environment (an empty value counts as unset):
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range variables {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Meaning)
	}
	tw.Flush()
	fmt.Fprint(w, `
Exit status:
  the child's    its exit code, or 128+N when signal N killed it
  143            a death dep was dead before the child started (0 with KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS)
  127, 126       the command was not found, or cannot be executed
  128+N          kubexit got terminating signal N before the child started
  2              bad arguments or KUBEXIT_* values
  1              birth deps not ready, the graveyard not writable, a failed --check or --wait,
                 a failed death URL call without a child
`)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
