//go:build inject

package main

// --diff's unified diff: a line script from the longest common
// subsequence, then hunks with 3 lines of context. Manifests are small
// enough for the quadratic table.

import (
	"fmt"
	"slices"
	"strings"
)

// diffLine is one line of an edit script: ' ', '-' or '+', its text, and
// how many lines of a and b come before it.
type diffLine struct {
	op   byte
	text string
	i, j int
}

// unifiedDiff is the unified diff (3 lines of context) from a to b, "" if
// they are the same.
func unifiedDiff(name, a, b string) string {
	if a == b {
		return ""
	}
	script := diffScript(strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n"))
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s (kubexit)\n", name, name)
	for k := 0; k < len(script); {
		if script[k].op == ' ' {
			k++
			continue
		}
		// A hunk: 3 lines before the change, on while another change comes
		// within 6 lines, 3 lines after.
		start, end := max(0, k-3), k
		for end < len(script) && slices.ContainsFunc(script[end:min(end+7, len(script))], func(l diffLine) bool { return l.op != ' ' }) {
			end++
		}
		end = min(len(script), end+3)
		writeHunk(&out, script[start:end])
		k = end
	}
	return out.String()
}

// diffScript turns x into y in a shortest script of kept, removed and added
// lines.
func diffScript(x, y []string) []diffLine {
	// lcs[i][j]: the length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var script []diffLine
	for i, j := 0, 0; i < len(x) || j < len(y); {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			script, i, j = append(script, diffLine{' ', x[i], i, j}), i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			script, j = append(script, diffLine{'+', y[j], i, j}), j+1
		default:
			script, i = append(script, diffLine{'-', x[i], i, j}), i+1
		}
	}
	return script
}

// writeHunk writes one hunk: its "@@" line, then its lines.
func writeHunk(out *strings.Builder, hunk []diffLine) {
	var na, nb int
	for _, l := range hunk {
		if l.op != '+' {
			na++
		}
		if l.op != '-' {
			nb++
		}
	}
	fmt.Fprintf(out, "@@ -%d,%d +%d,%d @@\n", hunk[0].i+1, na, hunk[0].j+1, nb)
	for _, l := range hunk {
		out.WriteString(string(l.op) + strings.TrimSuffix(l.text, "\n") + "\n")
	}
}
