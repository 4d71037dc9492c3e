package main

// The preflight: what kubexit needs before it starts anything, checked at
// once. `kubexit --check` prints the checks; KUBEXIT_PREFLIGHT=true logs them
// at start-up and does not start the child when one fails.

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// checkLevel grades one check.
type checkLevel int

const (
	checkOK   checkLevel = iota
	checkWarn            // worth fixing, but kubexit works
	checkFail            // kubexit cannot do its job; the message says what to fix
)

// check is one preflight check's result.
type check struct {
	Level   checkLevel
	Message string
}

// preflight checks the graveyard and, with birth deps, the Kubernetes API:
// that the pod can be read, and that its containers are the ones named.
func preflight(cfg config, env apiEnv) []check {
	var checks []check
	add := func(level checkLevel, format string, args ...any) {
		checks = append(checks, check{level, fmt.Sprintf(format, args...)})
	}
	if err := checkWritable(cfg.Graveyard); err != nil {
		add(checkFail, "graveyard %s is not writable: %v; mount a shared volume there (an emptyDir) writable by this container's user, or set KUBEXIT_GRAVEYARD", cfg.Graveyard, err)
	} else {
		add(checkOK, "graveyard %s is writable", cfg.Graveyard)
	}
	if len(cfg.BirthDeps) == 0 {
		return checks
	}

	client, err := newPodClient(env, cfg.PodName, cfg.Namespace, discardLogger())
	if err != nil {
		add(checkFail, "%v", err)
		return checks
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiRequestTimeout)
	defer cancel()
	p, err := client.get(ctx)
	if err != nil {
		if fatal := client.fatalError(err); fatal != nil {
			add(checkFail, "%v", fatal)
		} else {
			add(checkFail, "cannot reach the Kubernetes API (%s) to read pod %s: %s", client.src.desc, client, oneLine(err.Error()))
		}
		return checks
	}
	add(checkOK, "%s may get pod %s", client.src.desc, client)
	warning, err := checkPodContainers(p, cfg.BirthDeps, cfg.Name, client.namespace)
	if err != nil {
		add(checkFail, "%v", err)
	} else {
		add(checkOK, "birth deps %s are containers of the pod", strings.Join(cfg.BirthDeps, ", "))
	}
	if warning != "" {
		add(checkWarn, "%s", warning)
	}
	return checks
}

// failed tells whether any check failed.
func failed(checks []check) bool {
	for _, c := range checks {
		if c.Level == checkFail {
			return true
		}
	}
	return false
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
