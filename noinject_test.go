//go:build !inject

package main

import (
	"bytes"
	"strings"
	"testing"
)

// The binary that goes into pods has no --inject, and says where it is.
func TestInjectNotInPodBuild(t *testing.T) {
	var stderr bytes.Buffer
	code := runOption([]string{"--inject", "-f", "x.yaml"}, nil, &bytes.Buffer{}, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "go build -tags inject") {
		t.Fatalf("exit %d, %s", code, stderr.String())
	}
}
