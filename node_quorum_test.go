package main

import (
	"strings"
	"testing"
	"time"
)

// examples/two-mains-job.yaml: two main containers of 3 s and 8 s, and a
// shipper with both as death deps and KUBEXIT_DEATH_QUORUM=all. The shipper
// outlives the first main, is terminated right after the second, exits 0
// (KUBEXIT_EXIT_ZERO_ON_DEATH_DEPS), and the Job is Complete.
func TestNodeQuorumJob(t *testing.T) {
	n := runExample(t, needNode(t), "two-mains-job.yaml", nil)
	cond, j, p := n.waitJobDone(t, "two-mains")
	expectJobSucceeded(t, cond, j, p)

	extract := expectTerm(t, p, "extract", 0, "Completed", "kubexit: exit 0: child exited 0")
	transform := expectTerm(t, p, "transform", 0, "Completed", "kubexit: exit 0: child exited 0")
	shipper := expectTerm(t, p, "shipper", 0, "Completed",
		"kubexit: exit 0: child terminated because death deps extract, transform died (KUBEXIT_DEATH_QUORUM=all); it exited 143 (SIGTERM)")
	extractTS := n.expectTombstone(t, "extract", 0)
	transformTS := n.expectTombstone(t, "transform", 0)
	shipperTS := n.expectTombstone(t, "shipper", 143)

	// The shipper outlived the first main by about the 5 s between the two
	// mains' lengths, and ended right after the second: container times
	// (1 s resolution) and tombstones (ns).
	within(t, "extract finished -> shipper finished (containers)", extract.FinishedAt, shipper.FinishedAt, 3*time.Second, 30*time.Second)
	within(t, "transform finished -> shipper finished (containers)", transform.FinishedAt, shipper.FinishedAt, 0, 5*time.Second)
	if extractTS.Died != nil && transformTS.Died != nil && shipperTS.Died != nil {
		within(t, "extract's child died -> shipper's child died (tombstones)", *extractTS.Died, *shipperTS.Died, 3*time.Second, 30*time.Second)
		within(t, "transform's child died -> shipper's child died (tombstones)", *transformTS.Died, *shipperTS.Died, 0, 2*time.Second)
	}

	log := n.logs(p.Metadata.Name, "shipper")
	for _, want := range []string{
		"death dep extract died; 1 of 2 deaths needed (KUBEXIT_DEATH_QUORUM=all); waiting for transform",
		"death deps extract, transform died (KUBEXIT_DEATH_QUORUM=all); terminating the child",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("shipper's log lacks %q:\n%s", want, log)
		}
	}
}
