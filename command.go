package main

// The frame of kubexit's own commands (cli.go): each one's usage line and
// help, its flags parsed anywhere among its arguments, its usage errors, and
// the KUBEXIT_* variables it reads through the supervisor's parsers.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEcho is how much of an argument an error message repeats: enough to
// recognise it, not so much that a stray blob floods the pod log.
const maxEcho = 128

// quoteArg quotes an argument for an error message: "abc"… (70000 bytes).
func quoteArg(s string) string { return quoteCut(s, maxEcho) }

// clipMessage makes a message of the flag package, which repeats a bad
// flag's name raw, fit for a log: cut, with unprintable bytes escaped.
func clipMessage(s string) string {
	s = cut(s, 2*maxEcho)
	if !utf8.ValidString(strings.TrimSuffix(s, "…")) || strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		q := strconv.Quote(s)
		s = q[1 : len(q)-1]
	}
	return s
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "kubexit: %s\nusage: kubexit COMMAND [ARG...]  (kubexit -- COMMAND runs a command whose name starts with '-'; kubexit --help tells more)\n", msg)
	return exitUsage
}

// commandUsages is each command's usage line and what it does: the one
// source of a command's usage errors, its -h and --help.
var commandUsages = []struct{ name, usage, help string }{
	{"--status", "kubexit --status [-o table|json]", "show every tombstone in the graveyard"},
	{"--wait", "kubexit --wait born|died NAME [--timeout D]", "block until NAME's tombstone says born or died"},
	{"--install", "kubexit --install [DIR]", "in an init container: copy kubexit to DIR/kubexit, and open a new generation of the graveyard (a restart of all containers)"},
	{"--lint", "kubexit --lint FILE...", "check the kubexit wiring of manifests (- reads stdin): deps, the graveyard mount, grace periods, every KUBEXIT_* value"},
	{"--inject", "kubexit --inject [-f FILE|DIR|-]... [--image I] [--rbac] [--death-deps C=DEPS]... [--VARIABLE C=VALUE]... [--wrap C]... [--entrypoint C=CMD]... [--in-place|--diff]", "wire kubexit into manifests' pod templates (a build with -tags inject): the graveyard, an install init container, each container's command and KUBEXIT_* variables; idempotent"},
	{"--uninject", "kubexit --uninject [-f FILE|DIR|-]... [--in-place|--diff]", "take out what --inject wired, byte for byte"},
	{"--check", "kubexit --check [--strict]", "preflight: configuration, graveyard, Kubernetes API and RBAC (--strict: unknown KUBEXIT_* variables fail)"},
}

// commandUsage is the usage line of the command name.
func commandUsage(name string) string {
	for _, c := range commandUsages {
		if c.name == name {
			return c.usage
		}
	}
	panic("no usage line for " + name)
}

// command is one of kubexit's own commands: its flags and usage line.
type command struct {
	name, usage string
	flags       *flag.FlagSet
}

func newCommand(name string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by parse, with the usage
	return &command{name: name, usage: "usage: " + commandUsage(name), flags: fs}
}

// parse parses flags anywhere among the positional arguments (so that
// `--wait died main --timeout 5s` reads like `--wait --timeout 5s died main`)
// and returns the positional ones. done is set when the command must end
// with code: a bad argument (2), or -h (0, usage on stdout).
func (c *command) parse(args []string, stdout, stderr io.Writer) (positional []string, code int, done bool) {
	for {
		err := c.flags.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprintln(stdout, c.usage)
			return nil, 0, true
		case err != nil:
			return nil, c.fail(stderr, clipMessage(err.Error())), true
		}
		rest := c.flags.Args()
		if len(rest) == 0 {
			return positional, 0, false
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), 0, false
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// fail reports a usage error of the command, followed by its own usage
// line (not kubexit's, which does not apply).
func (c *command) fail(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "kubexit: %s: %s\n%s  (kubexit --help tells more)\n", c.name, msg, c.usage)
	return exitUsage
}

// commandEnv parses the KUBEXIT_* variables a command reads; a bad one is a
// usage error, as it is for the supervisor.
func commandEnv(getenv func(string) string, stderr io.Writer, names ...string) (config, int, bool) {
	cfg, err := parseVariables(getenv, lookupVariables(names...))
	if err != nil {
		for _, e := range unjoin(err) {
			fmt.Fprintf(stderr, "kubexit: invalid configuration: %v\n", e)
		}
		return cfg, exitUsage, false
	}
	return cfg, 0, true
}
