package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/bench"
)

// TestBenchRecoveryQuick runs `ctdb-bench recovery` once with 10,000
// records against rctdb and, when Debian's ctdbd is installed (make test
// installs it), the real ctdbd: on a fresh 3-node cluster of each, a node
// that is not the leader is killed with SIGKILL while clients on the other
// two fetch-lock and increment 10,000 keys. On both daemons the survivors
// must recover, no client may give up, and every record must hold its last
// confirmed value; no process of either cluster may be left. The times are
// logged, not judged.
func TestBenchRecoveryQuick(t *testing.T) {
	var res struct {
		Rows []bench.RecoveryRow                        `json:"rows"`
		Runs map[int]map[string][]bench.RecoveryOutcome `json:"runs"`
	}
	rctdb, ctdbd := loopbackNodes(t), loopbackNodes(t)
	targets := runBenchRuns(t, []string{"recovery", "--records=10000", "--runs=1", "--after=1s", "--timeout=60s",
		"--rctdb-addr=" + rctdb.first, "--ctdbd-prefix=" + ctdbd.prefix}, &res)
	for _, target := range targets {
		runs := res.Runs[10000][target]
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs, want 1", target, len(runs))
		}
		o := runs[0]
		switch {
		case !o.OK():
			t.Errorf("%s: %s%s", target, o.Err, o.Failed)
		case o.Thawed <= 0 || o.GenAfter == o.GenBefore:
			t.Errorf("%s: no recovery measured: thawed %v, generation %d -> %d", target, o.Thawed, o.GenBefore, o.GenAfter)
		case o.Leader == o.Victim:
			t.Errorf("%s: the leader (node %d) was killed", target, o.Leader)
		case o.Ops == 0 || o.Counts.KeptWritten != 10000:
			t.Errorf("%s: %d client updates, %d keys with their last value; want every one of 10000", target, o.Ops, o.Counts.KeptWritten)
		}
		t.Logf("%s: node %d killed (leader %d); recovery seen %v, all thawed %v, clients resumed %v after the kill; %d updates, %d errors retried",
			target, o.Victim, o.Leader, o.Detected, o.Thawed, o.Resumed, o.Ops, o.ClientErrors)
	}
	for _, r := range res.Rows {
		if r.Metric != "kill -> thawed" {
			continue
		}
		if len(targets) == 2 && (r.Ratio == nil || r.Reason != "") {
			t.Errorf("no ratio for kill -> thawed: %s", r.Reason)
		}
		if r.Ratio != nil {
			t.Logf("kill -> thawed: ctdbd / rctdb = %.2f", *r.Ratio)
		}
	}
}

// processesUnder lists the processes that belong to a cluster under dir:
// rctdb's daemons name their configuration there, the real ctdbd and its
// helpers carry CTDB_BASE there.
func processesUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if strings.Contains(string(cmdline), dir+"/") || strings.Contains(string(environ), "CTDB_BASE="+dir+"/") {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
