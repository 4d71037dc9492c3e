package main

// Small helpers that several files share. This file is the bottom of the
// package's layering: it uses nothing else of kubexit's.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
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

// splitList splits a comma list: spaces around items are trimmed, empty
// items and duplicates dropped. Items that check refuses are left out, and
// each is named, once, in problems ("item %q: why").
func splitList(raw string, check func(string) error) (items, problems []string) {
	seen := map[string]bool{}
	for _, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" || seen[item] {
			continue
		}
		seen[item] = true
		if err := check(item); err != nil {
			problems = append(problems, fmt.Sprintf("item %q: %v", item, err))
			continue
		}
		items = append(items, item)
	}
	return items, problems
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
