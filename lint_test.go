package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every example the project ships passes its own lint.
func TestLintExamples(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("examples/*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d examples found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := lintManifest(data)
		if err != nil || len(problems) > 0 {
			t.Errorf("%s: %v\n%s", f, err, strings.Join(problems, "\n"))
		}
	}
}

// Documents of every odd shape are read without a panic: what is not a
// pod template, or not the shape the API gives one, is passed over.
func TestLintOddDocuments(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"", "---\n---\n", "just a string", "[1, 2]", "kind: Pod", "kind: Pod\nspec: 3",
		"kind: Pod\nspec: {containers: 3}", "kind: Pod\nspec: {containers: [{command: 3}]}",
		"kind: Job\nspec: {template: 3}", "kind: List\nitems: [3, {kind: Pod}]", "kind: CronJob\nspec: {jobTemplate: {spec: null}}",
		"kind: Pod\nmetadata: 3\nspec: {containers: [{name: a, command: [kubexit, x]}]}",
		`{"kind": "Pod", "spec": {"containers": [{"name": "a", "command": ["/kubexit", "x"], "env": [{"name": "KUBEXIT_NAME", "value": "a"}]}]}}`,
	} {
		if _, err := lintManifest([]byte(doc)); err != nil && !strings.Contains(err.Error(), "document") {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// Mangled examples (bytes cut, repeated, swapped: a fixed seed, so a
// failure repeats) never make --lint panic, and every problem it reports
// names its document.
func TestLintMangledManifests(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("examples/*.yaml")
	r := rand.New(rand.NewPCG(7, 23))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			m := mangle(r, data)
			problems, _ := lintManifest(m)
			for _, p := range problems {
				if !strings.HasPrefix(p, "document ") {
					t.Fatalf("%q: problem %q names no document", m, p)
				}
			}
		}
	}
}

// mangle is data with one to four random changes: a range cut, a range
// repeated, two bytes swapped.
func mangle(r *rand.Rand, data []byte) []byte {
	m := slices.Clone(data)
	for range 1 + r.IntN(4) {
		i, j := r.IntN(len(m)), r.IntN(len(m))
		switch r.IntN(3) {
		case 0:
			m = append(m[:min(i, j)], m[max(i, j):]...)
		case 1:
			m = slices.Insert(m, i, m[min(i, j):min(max(i, j), min(i, j)+64)]...)
		default:
			m[i], m[j] = m[j], m[i]
		}
		if len(m) == 0 {
			m = []byte("x")
		}
	}
	return m
}
