package main

// What --status shows: every tombstone of the graveyard, judged as the
// death watcher judges it (graveyard.go), as a table or JSON.

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// statusRow is one tombstone as --status shows it.
type statusRow struct {
	Name     string     `json:"name"`
	Born     *time.Time `json:"born,omitempty"`
	Died     *time.Time `json:"died,omitempty"`
	ExitCode *int       `json:"exitCode,omitempty"`
	State    string     `json:"state"`           // born, died, not started, lost, restarting, earlier run, unknown, unreadable
	Error    string     `json:"error,omitempty"` // why it is unreadable
	// Holding is a stop signal that a born process holds for
	// KUBEXIT_SHUTDOWN_AFTER (shutdown.go).
	Holding *heldSignal `json:"holding,omitempty"`
}

// readGraveyard reads every tombstone in dir, sorted by birth (deaths
// without a birth by their death; unreadable ones last). A death that the
// kubelet undoes by a restart, as restarts tells, is "restarting".
func readGraveyard(dir string, restarts *restartKnowledge) ([]statusRow, error) {
	g := newGraveyardReader(dir)
	names, err := g.tombstoneNames()
	if err != nil {
		return nil, err
	}
	var rows []statusRow
	for _, name := range names {
		row := statusRow{Name: name}
		t, state, err := g.judge(name)
		row.Born, row.Died, row.ExitCode, row.State = t.Born, t.Died, t.ExitCode, state
		if err != nil {
			row.State, row.Error = "unreadable", oneLine(err.Error())
		}
		if row.State == stateBorn {
			row.Holding = g.hold(name)
		}
		if restartsOn(restarts, name, state, t) {
			row.State = stateRestarting
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

// restartsOn tells whether a death (state, t) is one that name's container
// restarts on: its exit code, 137 if lost.
func restartsOn(k *restartKnowledge, name, state string, t tombstone) bool {
	code := t.containerExitCode()
	switch {
	case k == nil:
		return false
	case state == stateLost:
		code = &lostExitCode
	case state != stateDied && state != stateNotStarted:
		return false
	}
	if k.restartedAll(name) {
		return true // its container runs again since a restart of all containers
	}
	if code == nil {
		return false
	}
	restarts, _, _ := k.undoes(name, *code)
	return restarts
}

// printStatusTable prints rows as --status's table.
func printStatusTable(w io.Writer, rows []statusRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
		// The age of the latest event: a reborn tombstone's Born.
		last := r.Born
		if r.Died != nil && (last == nil || r.Died.After(*last)) {
			last = r.Died
		}
		state := r.State
		if r.Holding != nil {
			state += fmt.Sprintf(", holding %s for %s (%s)", r.Holding.Signal, strings.Join(r.Holding.After, ","), age(now, &r.Holding.Since))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, state, shortTime(r.Born), shortTime(r.Died), exit, age(now, last))
	}
	tw.Flush()
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
