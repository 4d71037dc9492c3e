package main

// Unknown KUBEXIT_* variables: a warning for each (a typo is otherwise
// silently ignored), naming the nearest known variable when one is close.

import (
	"fmt"
	"slices"
	"strings"
)

// maxUnknownWarnings bounds unknownVariables' answer.
const maxUnknownWarnings = 20

// unknownVariables warns about each variable of environ (os.Environ's
// NAME=VALUE entries) whose name starts with KUBEXIT_, in any case, but is
// not a row of variables: a typo there is otherwise silently ignored
// (KUBEXIT_DEATH_DEP=main makes a sidecar that never stops). A warning names
// the variable, never its value, and the nearest known name when one is
// close. The answer is sorted and has one warning per name, at most
// maxUnknownWarnings of them, then one saying how many more there are.
// Only the table is known: the test harness's own KUBEXIT_* variables
// (KUBEXIT_K8S_TESTS...) are warned about too.
func unknownVariables(environ []string) []string {
	known := map[string]bool{}
	for _, v := range variables {
		known[v.Name] = true
	}
	var names []string
	seen := map[string]bool{}
	for _, kv := range environ {
		// An empty value counts as unset, for unknown names too.
		name, value, _ := strings.Cut(kv, "=")
		if value == "" || len(name) < len("KUBEXIT_") || !strings.EqualFold(name[:len("KUBEXIT_")], "KUBEXIT_") || known[name] || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	slices.Sort(names)
	var out []string
	for i, name := range names {
		if i == maxUnknownWarnings {
			out = append(out, fmt.Sprintf("and %d more unknown KUBEXIT_* variables, ignored", len(names)-i))
			break
		}
		shown := name
		if len(name) > 64 || strings.ContainsFunc(name, notNameChar) {
			shown = quoteCut(name, 64) // visible and short in a log line
		}
		if near := nearestVariable(name); near != "" {
			out = append(out, fmt.Sprintf("%s is not a kubexit variable (did you mean %s?); it is ignored", shown, near))
		} else {
			out = append(out, fmt.Sprintf("%s is not a kubexit variable; it is ignored", shown))
		}
	}
	return out
}

// notNameChar: r is not a letter, digit or '_', what a variable name
// usually is made of.
func notNameChar(r rune) bool {
	return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
}

// nearestVariable is the row of variables closest to name, when one is
// close: compared in upper case, by edit distance (at most 3, and at most
// half the length of the known name's part after KUBEXIT_, so that short
// names do not match everything), or with the same words in another order
// (KUBEXIT_DEPS_DEATH). Ties go to the first row.
func nearestVariable(name string) string {
	upper := strings.ToUpper(name)
	best, bestDist := "", 4
	for _, v := range variables {
		limit := min(3, (len(v.Name)-len("KUBEXIT_"))/2)
		d := limit + 1
		switch {
		case upper == v.Name:
			d = 0
		case sameWords(upper, v.Name):
			d = 1
		case len(upper)-len(v.Name) <= limit && len(v.Name)-len(upper) <= limit:
			d = editDistance(upper, v.Name)
		}
		if d <= limit && d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	return best
}

// sameWords: a and b have the same '_'-separated words, in any order.
func sameWords(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	wa, wb := strings.Split(a, "_"), strings.Split(b, "_")
	slices.Sort(wa)
	slices.Sort(wb)
	return slices.Equal(wa, wb)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
