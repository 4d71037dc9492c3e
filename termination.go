package main

// The epilogue's messages: the termination message Kubernetes shows in the
// container's status, and why no tombstone could be written.

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// whyNoTombstone says which of KUBEXIT_NAME and KUBEXIT_GRAVEYARD leaves no
// tombstone to write, and why: unset, or invalid (the parser's reason).
func whyNoTombstone(cfg config, cfgErr error) string {
	var reasons []string
	for _, v := range []struct{ name, value string }{{"KUBEXIT_NAME", cfg.Name}, {"KUBEXIT_GRAVEYARD", cfg.Graveyard}} {
		if v.value != "" {
			continue
		}
		why := v.name + " is unset"
		for _, err := range unjoin(cfgErr) {
			var ce *configError
			if errors.As(err, &ce) && ce.Var == v.name && ce.Value != "" {
				why = "invalid " + err.Error()
				break
			}
		}
		reasons = append(reasons, why)
	}
	return strings.Join(reasons, "; ")
}

// writeTerminationMessage writes the reason for kubexit's exit, one line, to
// the termination log: Kubernetes shows it in the container's status as its
// termination message.
func (s *supervisor) writeTerminationMessage(code int, reason string) {
	path := s.cfg.TerminationLog
	if path == "" {
		return
	}
	msg := oneLine(fmt.Sprintf("kubexit: exit %d: %s", code, reason))
	if len(msg) > maxTerminationMessage {
		msg = msg[:maxTerminationMessage-3] + "..."
	}
	err := writeNonBlocking(path, s.cfg.TerminationLogExplicit, []byte(msg+"\n"))
	// The default path is only written where Kubernetes provides it.
	if err != nil && (s.cfg.TerminationLogExplicit || !errors.Is(err, os.ErrNotExist)) {
		s.log.Warn("cannot write the termination message", "path", path, "err", err)
	}
}

// maxTerminationMessage is what Kubernetes keeps of a termination message.
const maxTerminationMessage = 4096
