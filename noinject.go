//go:build !inject

package main

import (
	"fmt"
	"io"
	"slices"
)

// injectCommand, in the binary that goes into pods, says where --inject
// is: a build with -tags inject (inject.go), kept out of this one for size.
func injectCommand(name string, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fmt.Fprintln(stdout, "usage: "+commandUsage(name))
		return 0
	}
	fmt.Fprintf(stderr, "kubexit: %s is not in this build, which is the one for pods: build kubexit with it by go build -tags inject (the YAML library it needs would make every pod's kubexit 0.5 MB, 4.7 %%, larger)\n", name)
	return exitUsage
}
