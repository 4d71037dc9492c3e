package main

// kubexit's own commands. Since "kubexit CMD" runs CMD, they are options,
// which no program name can collide with: an argument list that starts with
// '-' is for kubexit itself, and "kubexit -- CMD" runs a CMD named "-x".
// Each command parses its arguments with a flag.FlagSet of its own, and the
// KUBEXIT_* variables it reads with the supervisor's parsers (config.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"
)

// runOption runs one of kubexit's own commands and returns the exit status.
// environ is the process's environment (os.Environ).
func runOption(args, environ []string, stdout, stderr io.Writer) int {
	getenv := envLookup(environ)
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
		return waitCommand(args[1:], getenv, stdout, stderr)
	case "--check":
		return checkCommand(args[1:], environ, stdout, stderr)
	case "--install":
		return installCommand(args[1:], getenv, stdout, stderr)
	case "--lint":
		return lintCommand(args[1:], os.Stdin, stdout, stderr)
	case "--inject", "--uninject":
		return injectCommand(args[0], args[1:], os.Stdin, stdout, stderr)
	}
	return usageError(stderr, "unknown option "+quoteArg(args[0]))
}

// checkCommand is "kubexit --check": the configuration, then the preflight.
func checkCommand(args, environ []string, stdout, stderr io.Writer) int {
	getenv := envLookup(environ)
	c := newCommand("--check")
	strict := c.flags.Bool("strict", false, "an unknown KUBEXIT_* variable fails the check")
	if pos, code, done := c.parse(args, stdout, stderr); done || len(pos) > 0 {
		if !done {
			code = c.fail(stderr, "takes no arguments")
		}
		return code
	}
	cfg, err := parseConfig(getenv)
	for _, e := range unjoin(err) {
		fmt.Fprintf(stdout, "FAIL: %v\n", e)
	}
	// KUBEXIT_PREFLIGHT=strict: --check judges as the start-up would.
	unknown := unknownChecks(environ, *strict || cfg.PreflightStrict)
	printChecks(stdout, unknown)
	if err != nil {
		return exitInternal
	}
	checks := preflight(cfg, apiEnv{getenv: getenv, saDir: serviceAccountDir})
	printChecks(stdout, checks)
	if failed(unknown) || failed(checks) {
		return exitInternal
	}
	return 0
}

// printChecks prints checks one a line: "ok: ...", "WARN: ...", "FAIL: ...".
func printChecks(w io.Writer, checks []check) {
	for _, ch := range checks {
		fmt.Fprintf(w, "%s: %s\n", [...]string{"ok", "WARN", "FAIL"}[ch.Level], ch.Message)
	}
}

// statusCommand is "kubexit --status [-o json|table]".
func statusCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("--status")
	var format string
	c.flags.StringVar(&format, "o", "table", "output format: table or json")
	c.flags.StringVar(&format, "output", "table", "the same as -o")
	if pos, code, done := c.parse(args, stdout, stderr); done || len(pos) > 0 {
		if !done {
			code = c.fail(stderr, "unexpected "+quoteArg(pos[0]))
		}
		return code
	}
	if format != "table" && format != "json" {
		return c.fail(stderr, "output format "+quoteArg(format)+"; want table or json")
	}
	cfg, code, ok := commandEnv(getenv, stderr, "KUBEXIT_GRAVEYARD", "KUBEXIT_RESTART_CODES", "KUBEXIT_POD_NAME", "KUBEXIT_NAMESPACE")
	if !ok {
		return code
	}
	rows, err := readGraveyard(cfg.Graveyard, statusRestarts(cfg, getenv, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "kubexit: cannot read the graveyard (KUBEXIT_GRAVEYARD=%s): %v\n", cfg.Graveyard, err)
		return exitInternal
	}
	switch {
	case format == "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(append([]statusRow{}, rows...))
	case len(rows) == 0:
		fmt.Fprintf(stdout, "no tombstones in %s\n", cfg.Graveyard)
	default:
		printStatusTable(stdout, rows, time.Now())
	}
	return 0
}

// installCommand is "kubexit --install [DIR]", for an init container: it
// copies this binary to DIR/kubexit (for images without kubexit), and opens
// a new generation of the graveyard when the graveyard is mounted here.
func installCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("--install")
	pos, code, done := c.parse(args, stdout, stderr)
	switch {
	case done:
		return code
	case len(pos) > 1:
		return c.fail(stderr, "takes at most one DIR")
	}
	cfg, code, ok := commandEnv(getenv, stderr, "KUBEXIT_GRAVEYARD")
	if !ok {
		return code
	}
	if len(pos) == 1 {
		if err := installBinary(pos[0]); err != nil {
			fmt.Fprintf(stderr, "kubexit: --install: %v\n", err)
			return exitInternal
		}
		fmt.Fprintf(stderr, "kubexit: installed %s\n", filepath.Join(pos[0], "kubexit"))
	}
	now := time.Now()
	if st, err := os.Stat(cfg.Graveyard); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "kubexit: no graveyard directory at %s here (KUBEXIT_GRAVEYARD); no generation opened: mount the graveyard in this init container if the pod may restart all its containers\n", cfg.Graveyard)
		return 0
	}
	if err := openGeneration(cfg.Graveyard, now); err != nil {
		fmt.Fprintf(stderr, "kubexit: --install: cannot open a new generation of the graveyard %s: %v\n", cfg.Graveyard, err)
		return exitInternal
	}
	fmt.Fprintf(stderr, "kubexit: new generation of the graveyard %s began %s\n", cfg.Graveyard, now.UTC().Format(time.RFC3339Nano))
	return 0
}

// installBinary copies the running binary to dir/kubexit, mode 0755,
// through a temporary file and a rename: a copy cut short is never run.
func installBinary(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary: %w", err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("cannot read this binary: %w", err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("DIR %s: %w (mount a volume there, an emptyDir shared with the containers that run kubexit)", dir, unwrapPath(err))
	}
	removeStaleTemps(dir, "kubexit") // a copy killed midway
	tmp, err := os.CreateTemp(dir, tempPrefix("kubexit")+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, "kubexit"))
}

// lintCommand is "kubexit --lint FILE...".
func lintCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("--lint")
	files, code, done := c.parse(args, stdout, stderr)
	switch {
	case done:
		return code
	case len(files) == 0:
		return c.fail(stderr, "want FILE... (- reads stdin)")
	}
	found := 0
	for _, f := range files {
		data, err := readManifest(f, stdin)
		if err == nil {
			var problems []string
			problems, err = lintManifest(data)
			for _, p := range problems {
				fmt.Fprintf(stdout, "%s: %s\n", f, p)
			}
			found += len(problems)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kubexit: --lint: %s: %v\n", f, err)
			return exitInternal
		}
	}
	if found > 0 {
		return exitInternal
	}
	return 0
}

// statusRestarts is what --status knows of restarts: KUBEXIT_RESTART_CODES
// and, where KUBEXIT_POD_NAME is set, the pod's spec (read within
// statusAPIBound; what cannot be read is said on stderr).
func statusRestarts(cfg config, getenv func(string) string, stderr io.Writer) *restartKnowledge {
	k := &restartKnowledge{codes: cfg.RestartCodes}
	if cfg.PodName == "" {
		return k
	}
	client, err := newPodClient(apiEnv{getenv: getenv, saDir: serviceAccountDir}, cfg.PodName, cfg.Namespace, discardLogger())
	if err != nil {
		fmt.Fprintf(stderr, "kubexit: --status: the pod's restart rules are not read: %v\n", err)
		return k
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusAPIBound)
	defer cancel()
	k.pod = fetchPodFacts(ctx, client, discardLogger())
	<-k.pod.ready
	if k.pod.err != nil {
		fmt.Fprintf(stderr, "kubexit: --status: the pod's restart rules are not read: %v\n", k.pod.err)
	}
	return k
}

// statusAPIBound bounds --status's read of the pod: an answer for a person
// at a terminal.
const statusAPIBound = 5 * time.Second

// waitCommand is "kubexit --wait born|died NAME [--timeout D]": it blocks
// until NAME's tombstone says so, for preStop hooks and init containers.
func waitCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("--wait")
	timeout := c.flags.Duration("timeout", 0, "give up after this long (0: never)")
	pos, code, done := c.parse(args, stdout, stderr)
	switch {
	case done:
		return code
	case len(pos) != 2 || pos[0] != "born" && pos[0] != "died":
		return c.fail(stderr, "want born or died, and a NAME")
	case *timeout < 0:
		return c.fail(stderr, fmt.Sprintf("--timeout %v is negative", *timeout))
	}
	state, name := pos[0], pos[1]
	if err := validateName(name); err != nil || name == "" {
		return c.fail(stderr, "NAME "+quoteArg(name)+": must be a container name")
	}
	cfg, code, ok := commandEnv(getenv, stderr, "KUBEXIT_GRAVEYARD", "KUBEXIT_POLL_INTERVAL")
	if !ok {
		return code
	}
	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	last, ok := awaitTombstone(ctx, cfg.Graveyard, name, state, cfg.PollInterval)
	if !ok {
		fmt.Fprintf(stderr, "kubexit: %s not %s after %v (%s in %s)\n", name, state, *timeout, last, cfg.Graveyard)
		return exitInternal
	}
	return 0
}

// awaitTombstone reads name's tombstone in dir every interval until it says
// state: "born" (it has Born), or "died" (died, not started, or lost; born
// again is alive). When ctx ends first, it returns what it saw last.
func awaitTombstone(ctx context.Context, dir, name, state string, interval time.Duration) (last string, ok bool) {
	tick := newPollTicker(ctx, interval, discardLogger())
	defer tick.stop()
	g := newGraveyardReader(dir)
	for {
		g.refresh()
		t, now, err := g.judge(name)
		switch {
		case err == nil && now == stateEarlier:
			last = "tombstone of an earlier run of the pod: " + t.String()
		case err == nil:
			if state == "born" && t.Born != nil || state == "died" && now != stateBorn && now != stateUnknown {
				return "", true
			}
			last = "tombstone: " + t.String()
		case errors.Is(err, fs.ErrNotExist):
			last = "no tombstone yet"
		default:
			last = "tombstone not readable: " + oneLine(err.Error())
		}
		if !tick.wait(ctx) {
			return last, false
		}
	}
}

// printHelp prints usage, every variable with its default, and exit codes.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `kubexit runs a command and ties its life to sibling containers of its pod.

Usage:
  kubexit COMMAND [ARG...]        run COMMAND under kubexit's supervision
  kubexit -- COMMAND [ARG...]     the same, for a COMMAND whose name starts with '-'
  kubexit                         with KUBEXIT_DEATH_URLS only: wait for a death dep, call the URLs
`)
	for _, c := range commandUsages {
		if len(c.usage) < 32 {
			fmt.Fprintf(w, "  %-32s%s\n", c.usage, c.help)
		} else {
			fmt.Fprintf(w, "  %s\n  %32s%s\n", c.usage, "", c.help)
		}
	}
	fmt.Fprint(w, `  kubexit --help | --version

Environment (an empty value counts as unset):
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range variables {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.shown(), v.Help)
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
