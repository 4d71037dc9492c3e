package main

// Deaths as the death watcher reports them: one dep's death, the set that
// makes up KUBEXIT_DEATH_QUORUM, and how logs and messages tell them.

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// Values of KUBEXIT_DEATH_ON: which deaths of a death dep count.
const (
	deathOnAny     = "any"     // every Died (the original's behaviour)
	deathOnSuccess = "success" // only a Died with ExitCode 0
	deathOnFinal   = "final"   // a Died that stays, without a new Born, for the settle time
)

// deathPolicy is KUBEXIT_DEATH_ON and KUBEXIT_DEATH_SETTLE.
type deathPolicy struct {
	On     string
	Settle time.Duration
}

// death is a death dep's death, as its tombstone tells it. A lost death
// (its kubexit ended without recording one: its lock is free) has the
// tombstone's Born and ExitCode 137, as if killed: the real status is unknown.
type death struct {
	Dep       string
	Tombstone tombstone
	Lost      bool
}

// lostExitCode is the status reported for a lost death: killed (128+SIGKILL).
var lostExitCode = signalStatus(syscall.SIGKILL)

// cause names the death for messages: "death dep main died", or how it was
// lost.
func (d death) cause() string {
	if d.Lost {
		return "death dep " + d.Dep + " died without a word (its kubexit ended without recording a death, as when killed)"
	}
	return "death dep " + d.Dep + " died"
}

// String describes the death for logs and messages.
func (d death) String() string {
	if d.Lost {
		return d.Tombstone.String() + " (lost: its kubexit ended without recording a death; status unknown)"
	}
	return d.Tombstone.String()
}

// deathSet is the death deps' deaths that made up KUBEXIT_DEATH_QUORUM, in
// KUBEXIT_DEATH_DEPS order: with a quorum of 1 (the default), the first dep
// found dead; with more, every dep whose death counted when the quorum was
// met. One death is told exactly as before quorums existed.
type deathSet struct {
	List   []death
	Quorum int // KUBEXIT_DEATH_QUORUM; 0 means all
	Deps   int // how many death deps there are
}

// single tells a lone death (a quorum of 1) from a quorum of more.
func (ds deathSet) single() bool { return len(ds.List) == 1 }

// names lists the deps, the lost ones marked: "a, b (lost)".
func (ds deathSet) names() string {
	var b strings.Builder
	for i, d := range ds.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Dep)
		if d.Lost {
			b.WriteString(" (lost)")
		}
	}
	return b.String()
}

// describe says that the deps died, how ("died", "already dead"): "death
// dep main already dead", or for a quorum of more than one "death deps a,
// b already dead (KUBEXIT_DEATH_QUORUM=2 of 3)", lost ones marked.
func (ds deathSet) describe(how string) string {
	if ds.single() {
		return "death dep " + ds.List[0].Dep + " " + how
	}
	q := quorumText(ds.Quorum, ds.Deps)
	for _, d := range ds.List {
		if d.Lost {
			q += "; lost: its kubexit ended without recording a death, as when killed"
			break
		}
	}
	return "death deps " + ds.names() + " " + how + " (" + q + ")"
}

// cause names the deaths for messages: death.cause() for one, else every
// dep of the quorum.
func (ds deathSet) cause() string {
	if ds.single() {
		return ds.List[0].cause()
	}
	return ds.describe("died")
}

// headline is the start of a log message about the deaths: "death dep
// died" for one (the dep is an attribute), else the deps named.
func (ds deathSet) headline() string {
	if ds.single() {
		return "death dep died"
	}
	return ds.describe("died")
}

// String describes the deaths' tombstones for logs: death.String() for
// one, else "a: ...; b: ...".
func (ds deathSet) String() string {
	if ds.single() {
		return ds.List[0].String()
	}
	var b strings.Builder
	for i, d := range ds.List {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Dep + ": " + d.String())
	}
	return b.String()
}

// logAttrs are the log attributes of the deaths: dep and tombstone for
// one; deps, quorum and tombstones for more.
func (ds deathSet) logAttrs() []any {
	if ds.single() {
		return []any{"dep", ds.List[0].Dep, "tombstone", ds.String()}
	}
	deps := make([]string, len(ds.List))
	for i, d := range ds.List {
		deps[i] = d.Dep
	}
	return []any{"deps", strings.Join(deps, ","), "quorum", quorumValue(ds.Quorum, ds.Deps), "tombstones", ds.String()}
}

// quorumValue is a quorum as logs show it: "2 of 3", or "all".
func quorumValue(quorum, deps int) string {
	if quorum <= 0 {
		return "all"
	}
	return fmt.Sprintf("%d of %d", quorum, deps)
}

// quorumText is a quorum as messages show it: "KUBEXIT_DEATH_QUORUM=2 of
// 3", or "KUBEXIT_DEATH_QUORUM=all".
func quorumText(quorum, deps int) string {
	return "KUBEXIT_DEATH_QUORUM=" + quorumValue(quorum, deps)
}
