//go:build inject

package main

import (
	"strings"
	"testing"
)

// Odd but valid layouts: each is either wired and unwired byte for byte,
// or refused with a message; never written wrong.
func TestInjectOddLayouts(t *testing.T) {
	job := func(containers string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n" + containers
	}
	for _, c := range []struct {
		name, in string
		refused  string // "": must round-trip
	}{
		{"indented lists", job("      containers:\n        - name: main\n          command:\n            - sh\n        - name: side\n          command: [sh]\n"), ""},
		{"dash alone on its line", job("      containers:\n      -\n        name: main\n        command: [sh]\n      -\n        name: side\n        command: [sh]\n"), ""},
		{"comments between items", job("      containers:\n      # main\n      - name: main\n        command: [sh]   # the work\n\n      # side\n      - name: side\n        command: [sh]\n"), ""},
		{"flow containers over lines", job("      containers: [\n        {name: main, command: [sh]},\n        {name: side, command: [sh]}\n      ]\n"), ""},
		{"a literal block in args", job("      containers:\n      - name: main\n        command: [sh, -c]\n        args:\n        - |\n          echo a\n\n          echo b\n      - name: side\n        command: [sh]\n"), ""},
		{"no final line break", strings.TrimSuffix(job("      containers:\n      - name: main\n        command: [sh]\n      - name: side\n        command: [sh]\n"), "\n"), ""},
		{"quoted keys", job("      \"containers\":\n      - \"name\": main\n        'command': [sh]\n      - name: side\n        command: [sh]\n"), ""},
		{"unicode before a flow entry", job("      containers:\n      - {name: main, image: \"é/ü:1\", command: [sh]}\n      - {name: side, command: [sh]}\n"), ""},
		{"an anchor used twice", job("      containers:\n      - &c {name: main, command: [sh]}\n      - name: side\n        command: [sh]\n      initContainers: [*c]\n"), "goes through a YAML anchor or alias (&c)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"--inject", "--death-deps", "side=main"}
			out, errText, code := runInject(args, []byte(c.in))
			if c.refused != "" {
				if code != exitUsage || out != "" || !strings.Contains(errText, c.refused) {
					t.Fatalf("want a refusal saying %q; exit %d, stderr %s, stdout:\n%s", c.refused, code, errText, out)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s\ninput:\n%s", code, errText, c.in)
			}
			if back, errText, _ := runInject([]string{"--uninject"}, []byte(out)); back != c.in {
				t.Fatalf("uninject: %s\n%s", errText, unifiedDiff("in", c.in, back))
			}
			if again, _, _ := runInject(args, []byte(out)); again != out {
				t.Fatalf("inject twice:\n%s", unifiedDiff("once", out, again))
			}
		})
	}
}
