package tests

import (
	"testing"

	"github.com/rctdb/rctdb/bench"
)

// TestBenchHealthQuick runs `ctdb-bench health` once against rctdb and,
// when Debian's ctdbd is installed (make test installs it), the real
// ctdbd, with MonitorInterval 5: on a fresh 3-node cluster of each in
// network namespaces, every node running Debian's scripts for a Samba node
// and its own smbd, the smbd of an address's holder is killed with
// SIGKILL and later started again. Every run must complete its
// measurements and checks (the node UNHEALTHY everywhere and its address
// answering SMB on another node, then healthy and holding an address
// again; never an address on two nodes; smbd on every node at the end),
// and nothing of a run may be left. The times are logged, not judged.
// A failed cold start is tried once more on a fresh cluster; one of the
// real ctdbd that fails again leaves the comparison out, rctdb's never.
func TestBenchHealthQuick(t *testing.T) {
	var res struct {
		Rows []bench.FailoverRow              `json:"rows"`
		Runs map[string][]bench.HealthOutcome `json:"runs"`
	}
	// A cluster that never got every node OK after its cold start (for
	// either daemon: Samba's first smbd can lose its version claim, a
	// loaded machine can hold up a first monitor) gets a fresh cluster
	// once; what the test judges comes after the start.
	targets := runBenchRuns(t, []string{"health", "--runs=1", "--monitor-interval=5", "--timeout=60s", "--start-attempts=2"}, &res)
	for _, target := range targets {
		runs := res.Runs[target]
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs, want 1", target, len(runs))
		}
		o := runs[0]
		switch {
		case target == bench.Ctdbd && o.ColdStartFailed:
			// The reference is not what this test judges: Debian's
			// ctdbd failed its startup event on every fresh cluster
			// (50.samba starting smbd) beside two other make test runs.
			t.Logf("ctdbd: no cluster of the real ctdbd got every node OK after its start (%s); its comparison is left out", o.Err)
			continue
		case !o.OK():
			t.Errorf("%s: %s%s", target, o.Err, o.Failed)
		case o.Victim == o.Leader:
			t.Errorf("%s: smbd killed on the leader %d", target, o.Leader)
		case o.Unhealthy <= 0 || o.Answered <= 0 || o.AnsweredBy < 0 || uint32(o.AnsweredBy) == o.Victim:
			t.Errorf("%s: UNHEALTHY after %v, answered by node %d after %v", target, o.Unhealthy, o.AnsweredBy, o.Answered)
		case o.Healthy <= 0 || o.HoldsAgain <= 0:
			t.Errorf("%s: healthy after %v, holding an address after %v", target, o.Healthy, o.HoldsAgain)
		}
		t.Logf("%s: smbd killed on node %d: UNHEALTHY everywhere after %v, %s answering SMB on node %d after %v; started again: healthy after %v, holding an address after %v",
			target, o.Victim, o.Unhealthy, o.Addr, o.AnsweredBy, o.Answered, o.Healthy, o.HoldsAgain)
	}
	if len(targets) == 2 && !res.Runs[bench.Ctdbd][0].ColdStartFailed {
		for _, r := range res.Rows {
			if r.Rctdb == nil || r.Ctdbd == nil {
				t.Errorf("%s: rctdb %v, ctdbd %v", r.Metric, r.Rctdb, r.Ctdbd)
			}
		}
	}
}
