//go:build inject

package main

// kubexit --inject and --uninject: a manifest in, the same manifest with
// kubexit wired in (or out) on stdout, rewritten in place (--in-place), or
// shown as a diff (--diff). Built only with -tags inject: the YAML library
// that gives each node's place in the text would grow the binary that goes
// into every pod by 532,480 bytes, 4.7 % (docs/performance.md), and no pod
// needs it.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// injectInput is one manifest read: its name for messages, its path for
// --in-place ("" for stdin), its text.
type injectInput struct {
	name, path string
	text       []byte
}

// injectCommand is "kubexit --inject ..." and "kubexit --uninject ...".
func injectCommand(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand(name)
	j := &injector{uninject: name == "--uninject", named: map[string]bool{}}
	var files []string
	c.flags.Func("f", "a manifest: a file, a directory of them, or - for stdin (repeatable)", func(s string) error {
		files = append(files, s)
		return nil
	})
	inPlace := c.flags.Bool("in-place", false, "rewrite the files instead of writing to stdout")
	diff := c.flags.Bool("diff", false, "show what would change, as a unified diff")
	if !j.uninject {
		for _, f := range injectFlagNames() {
			set := func(arg string) error {
				s, err := parseSetting(f, arg)
				if err == nil {
					j.settings = addSetting(j.settings, s)
				}
				return err
			}
			if f == "rbac" {
				c.flags.BoolFunc(f, "", func(v string) error {
					if on, err := strconv.ParseBool(v); err != nil || !on {
						return err
					}
					return set("true")
				})
			} else {
				c.flags.Func(f, "", set)
			}
		}
	}
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if files = append(files, pos...); len(files) == 0 {
		files = []string{"-"}
	}
	if *inPlace && (*diff || slices.Contains(files, "-")) {
		return c.fail(stderr, "--in-place rewrites files: not with --diff, nor stdin")
	}
	inputs, err := readInputs(files, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "kubexit: %s: %v\n", name, err)
		return exitUsage
	}
	outputs, problems := j.run(inputs)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "kubexit: %s: %s\n", name, p)
		}
		fmt.Fprintf(stderr, "kubexit: %s: nothing written\n", name)
		return exitUsage
	}
	return writeOutputs(name, inputs, outputs, *inPlace, *diff, stdout, stderr)
}

// run does every input; problems name the file, document and container.
func (j *injector) run(inputs []injectInput) ([][]byte, []string) {
	var outputs [][]byte
	var problems []string
	asked := j.settings
	for _, in := range inputs {
		run := j
		if fc, ok := krmFunctionConfig(in.text); ok && !j.uninject { // its settings, then the flags'
			own, err := parseKeyedSettings(fc, "")
			if err != nil {
				problems = append(problems, in.name+": functionConfig: "+err.Error())
			}
			run = &injector{uninject: j.uninject, named: j.named, settings: append(own, j.settings...)}
			asked = append(asked, own...)
		}
		out, probs := run.stream(in.name, in.text)
		outputs, problems = append(outputs, out), append(problems, probs...)
	}
	for _, s := range asked {
		if s.container != "" && !j.named[s.container] && len(problems) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no pod template has a container %s", s, s.container))
		}
	}
	return outputs, problems
}

// krmFunctionConfig is the data of a KRM ResourceList's functionConfig (a
// ConfigMap: the settings, keyed by flag name), when text is one.
func krmFunctionConfig(text []byte) (map[string]string, bool) {
	var rl struct {
		Kind           string `yaml:"kind"`
		FunctionConfig struct {
			Data map[string]string `yaml:"data"`
		} `yaml:"functionConfig"`
	}
	if yaml.Unmarshal(text, &rl) != nil || rl.Kind != "ResourceList" {
		return nil, false
	}
	return rl.FunctionConfig.Data, true
}

// readInputs reads the files, the manifests of directories (*.yaml,
// *.yml, *.json, not their subdirectories), and stdin for "-".
func readInputs(files []string, stdin io.Reader) ([]injectInput, error) {
	var out []injectInput
	for _, f := range files {
		if f == "-" {
			b, err := readManifest("-", stdin)
			if err != nil {
				return nil, fmt.Errorf("stdin: %w", err)
			}
			out = append(out, injectInput{name: "stdin", text: b})
			continue
		}
		paths := []string{f}
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			entries, err := os.ReadDir(f)
			if err != nil {
				return nil, unwrapPath(err)
			}
			paths = nil
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
					paths = append(paths, filepath.Join(f, e.Name()))
				}
			}
		}
		for _, p := range paths {
			b, err := readManifest(p, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			out = append(out, injectInput{name: p, path: p, text: b})
		}
	}
	return out, nil
}

// writeOutputs writes the results: the changed files in place, a diff of
// each changed input, or every output on stdout, "---" between files.
func writeOutputs(name string, inputs []injectInput, outputs [][]byte, inPlace, diff bool, stdout, stderr io.Writer) int {
	for i, in := range inputs {
		switch {
		case inPlace:
			if bytes.Equal(in.text, outputs[i]) {
				continue
			}
			if err := rewriteManifest(in.path, outputs[i]); err != nil {
				fmt.Fprintf(stderr, "kubexit: %s: %v\n", name, err)
				return exitInternal
			}
			fmt.Fprintf(stderr, "kubexit: %s: rewrote %s\n", name, in.path)
		case diff:
			io.WriteString(stdout, unifiedDiff(in.name, string(in.text), string(outputs[i])))
		default:
			if i > 0 {
				if prev := outputs[i-1]; len(prev) > 0 && !bytes.HasSuffix(prev, []byte("\n")) {
					io.WriteString(stdout, "\n")
				}
				io.WriteString(stdout, "---\n")
			}
			stdout.Write(outputs[i])
		}
	}
	return 0
}

// rewriteManifest replaces the file at path with data, through a
// temporary file and a rename (replaceFile), keeping its mode: a failure
// leaves the old file whole.
func rewriteManifest(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return unwrapPath(err)
	}
	if err := replaceFile(filepath.Dir(path), filepath.Base(path), filepath.Base(path), st.Mode().Perm(), data); err != nil {
		return fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return nil
}
