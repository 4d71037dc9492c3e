package main

// Small helpers that several files share. This file is the bottom of the
// package's layering: it uses nothing else of kubexit's.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build info.
var version string

// versionString is version, else the main module's version as stamped by the
// Go toolchain, else "dev" (a build from a work tree).
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// userAgent names kubexit, its version and platform in HTTP requests.
func userAgent() string {
	return "kubexit/" + versionString() + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// sleepCtx sleeps for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// oneLine keeps a message on one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// unjoin splits an errors.Join result back into its parts; nil for nil.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Bounds of splitList's problems: at most listShownItems items are quoted per
// reason and listShownReasons distinct reasons listed, so that a list of any
// length (a variable can hold 128 KB) is refused in a few KB.
const (
	listShownItems   = 3
	listShownReasons = 5
	listItemBytes    = 80  // an item is quoted up to this many bytes
	listReasonBytes  = 300 // a reason is cut at this many bytes
)

// splitList splits a comma list: spaces around items are trimmed, empty
// items and duplicates dropped. Items that check refuses are left out, and
// problems says why, bounded whatever the list's length: items refused for
// the same reason are merged into one problem (`item "x": why`, or
// `items "x" (2 times), "y" and 7 more: why`), at most listShownReasons
// reasons are listed, then how many others there are.
func splitList(raw string, check func(string) error) (items, problems []string) {
	seen := map[string]int{} // item: how many times it appears; refused ones only count
	var groups []*refusal
	byReason := map[string]*refusal{}
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if n, ok := seen[item]; ok {
			if n > 0 {
				seen[item] = n + 1
			}
			continue
		}
		err := check(item)
		if err == nil {
			seen[item] = 0
			items = append(items, item)
			continue
		}
		seen[item] = 1
		reason := cut(err.Error(), listReasonBytes)
		g := byReason[reason]
		if g == nil {
			g = &refusal{reason: reason}
			byReason[reason] = g
			groups = append(groups, g)
		}
		if len(g.items) < listShownItems {
			g.items = append(g.items, item)
		}
		g.n++
	}
	for i, g := range groups {
		if i == listShownReasons {
			rest := 0
			for _, g := range groups[i:] {
				rest += g.n
			}
			problems = append(problems, fmt.Sprintf("and %d more items, refused for %d other reasons", rest, len(groups)-i))
			break
		}
		problems = append(problems, g.String(seen))
	}
	return items, problems
}

// refusal is the items of a list refused for one reason.
type refusal struct {
	reason string
	items  []string // the first listShownItems distinct items
	n      int      // distinct items refused for reason
}

// String is `item "x": why`, or `items "x" (2 times), "y" and 7 more: why`;
// seen counts each item's appearances.
func (g *refusal) String(seen map[string]int) string {
	var b strings.Builder
	if g.n == 1 {
		b.WriteString("item ")
	} else {
		b.WriteString("items ")
	}
	for j, item := range g.items {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteCut(item, listItemBytes))
		if n := seen[item]; n > 1 {
			fmt.Fprintf(&b, " (%d times)", n)
		}
	}
	if more := g.n - len(g.items); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	b.WriteString(": ")
	b.WriteString(g.reason)
	return b.String()
}

// cut returns s, or its first max bytes (not splitting a UTF-8 sequence)
// and "…" when it is longer.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && i > max-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// quoteCut quotes s (Go syntax, so control characters are visible), or its
// first max bytes and its length when it is longer: "abc"… (70000 bytes).
func quoteCut(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(strings.TrimSuffix(cut(s, max), "…")), len(s))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// envLookup is getenv over an environment list (NAME=VALUE entries, as
// os.Environ returns them); the first entry of a name wins, as in os.Getenv.
func envLookup(environ []string) func(string) string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := env[k]; !dup {
				env[k] = v
			}
		}
	}
	return func(name string) string { return env[name] }
}

// shortList joins items with commas for a log line, at most max of them:
// "a,b,c and 97 more".
func shortList(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ","), len(items)-max)
}
