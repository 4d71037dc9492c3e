//go:build !inject

package main

import (
	"fmt"
	"io"
)

// injectCommand, in the binary that goes into pods, says where --inject
// is: a build with -tags inject (inject.go), kept out of this one for size.
func injectCommand(name string, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "kubexit: %s is not in this build, which is the one for pods: build kubexit with it by go build -tags inject (the YAML library it needs would make every pod's kubexit 0.5 MB, 4.7 %%, larger)\n", name)
	return exitUsage
}
