package tests

import (
	"testing"

	"github.com/rctdb/rctdb/bench"
)

// TestBenchFailoverQuick runs `ctdb-bench failover` once per case against
// rctdb and, when Debian's ctdbd is installed (make test installs it), the
// real ctdbd: on a fresh 3-node cluster of each in network namespaces, the
// holder of a public address (a non-leader, then the leader) is killed
// with SIGKILL. Every run must complete its measurements and checks (the
// address answers on exactly one survivor, never on two live nodes), and
// nothing of a run may be left. The times are logged, not judged.
func TestBenchFailoverQuick(t *testing.T) {
	var res struct {
		Rows []bench.FailoverRow                           `json:"rows"`
		Runs map[string]map[string][]bench.FailoverOutcome `json:"runs"`
	}
	targets := runBenchRuns(t, []string{"failover", "--runs=1", "--timeout=40s"}, &res)
	for _, c := range []string{bench.KillNonLeader, bench.KillLeader} {
		for _, target := range targets {
			runs := res.Runs[c][target]
			if len(runs) != 1 {
				t.Fatalf("kill %s, %s: %d runs, want 1", c, target, len(runs))
			}
			o := runs[0]
			switch {
			case !o.OK():
				t.Errorf("kill %s, %s: %s%s", c, target, o.Err, o.Failed)
			case (o.Victim == o.Leader) != (c == bench.KillLeader):
				t.Errorf("kill %s, %s: killed node %d, leader %d", c, target, o.Victim, o.Leader)
			case o.Answered <= 0 || o.AnsweredBy < 0 || uint32(o.AnsweredBy) == o.Victim:
				t.Errorf("kill %s, %s: answered by node %d after %v", c, target, o.AnsweredBy, o.Answered)
			}
			t.Logf("kill %s, %s: all OK %v after the start, balanced %v later; address on a survivor %v, answering %v after the kill",
				c, target, o.AllOK, o.Balanced, o.OnSurvivor, o.Answered)
		}
	}
	if len(targets) == 2 {
		for _, r := range res.Rows {
			switch {
			case r.Rctdb == nil || r.Ctdbd == nil:
				t.Errorf("%s: rctdb %v, ctdbd %v", r.Metric, r.Rctdb, r.Ctdbd)
			case r.Case != "" && r.Ratio == nil:
				// A start row has none when rctdb was balanced by the
				// time every node looked OK (a zero).
				t.Errorf("no ratio for %s: %s", r.Metric, r.Reason)
			}
		}
	}
}
