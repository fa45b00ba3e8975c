package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/internal/netrig"
)

// failoverCmd measures public-IP failover after kill -9 of an address's
// holder, on a fresh cluster of each daemon per run, each in a fresh
// network-namespace rig.
type failoverCmd struct {
	Runs          int           `help:"Runs per daemon and case, each on a fresh cluster in a fresh rig." default:"5"`
	Cases         []string      `help:"Whose daemon is killed: non-leader (the holder of an address that is not the leader), leader (the leader, which holds an address)." default:"non-leader,leader" sep:","`
	Port          uint16        `help:"Port of the listener on every node that the client connects to." default:"4445"`
	Quiet         time.Duration `help:"How long the addresses must have been balanced before the kill." default:"1.5s"`
	Timeout       time.Duration `help:"Bound on each wait: the cluster up and balanced, the address answering after the kill." default:"60s"`
	NoClusterLock bool          `help:"Run the real ctdbd without a cluster lock (default: a shared lock file, as production clusters have)."`
	Only          string        `help:"Run one daemon only (rctdb or ctdbd); no ratios then." enum:",rctdb,ctdbd" default:""`
	JSON          string        `name:"json" help:"Write the rows and every run as JSON to this file." type:"path"`
	Base          string        `help:"Directory for the clusters' state and logs (default: a new temporary one). A run's directory is removed when the run passed, kept when it failed." type:"path"`
	Keep          bool          `help:"Keep every run's directory (with --base), not only those of failed runs."`
	KeepSlower    time.Duration `help:"Also keep the directory of a run whose address answered later than this after the kill (0: no)." default:"0s"`
	Rctdbd        string        `help:"rctdb's ctdbd binary (default: the one beside ctdb-bench)." type:"path"`
	RctdbLogLevel string        `help:"Log level of the rctdb nodes (their logs stay with failed or --keep runs)." default:"NOTICE"`
	RctdbConf     string        `help:"Text appended to every rctdb node's ctdb.conf, \\n between lines (e.g. '[raft]\\nheartbeat timeout = 200ms')."`
}

// Each cluster: three nodes, one public address each when balanced.
const (
	failoverNodes = 3
	failoverAddrs = 3
)

// Validate checks the flags (kong calls it).
func (c *failoverCmd) Validate() error {
	if c.Runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	if len(c.Cases) == 0 {
		return errors.New("--cases must name at least one case")
	}
	for _, k := range c.Cases {
		if k != bench.KillNonLeader && k != bench.KillLeader {
			return fmt.Errorf("--cases: %q is neither %s nor %s", k, bench.KillNonLeader, bench.KillLeader)
		}
	}
	return nil
}

// run makes every run, prints the table and returns the exit status: 0
// only when every run completed and passed its checks and nothing of a
// run was left behind.
func (c *failoverCmd) run(ctx context.Context) int {
	b, err := newRigBench(c.Base, "ctdb-bench-failover-", c.Only)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cases := slices.Compact(slices.Clone(c.Cases))
	var labels []string
	for _, cs := range cases {
		labels = append(labels, "kill "+cs)
	}
	res := &bench.FailoverResults{Runs: c.Runs, Targets: b.targets, Cases: cases}
	p := bench.FailoverParams{Port: c.Port, Quiet: c.Quiet, Timeout: c.Timeout, Log: b.log}
	b.forEach(ctx, c.Runs, labels, func(round, k int, t string) (bench.Verdict, string) {
		p.KillLeader = cases[k] == bench.KillLeader
		o := c.runOnce(ctx, t, filepath.Join(b.base, fmt.Sprintf("%s-%s-run%d", t, cases[k], round+1)), p)
		res.Add(o)
		return o.Verdict, fmt.Sprintf("balanced %v after all OK; answered on node %d %v after the kill",
			o.Balanced.Round(time.Millisecond), o.AnsweredBy, o.Answered.Round(time.Millisecond))
	})
	return b.finish(ctx, res.WriteTable, c.JSON, func(path string) error { return bench.WriteFailoverJSON(path, res) })
}

// runOnce builds a rig, runs the workload on a fresh cluster of daemon t
// in it, stops the cluster, checks that none of its processes is left and
// removes the rig. The directory is removed after a good run and kept,
// with the tail of each node's log printed, after a bad one.
func (c *failoverCmd) runOnce(ctx context.Context, t, dir string, p bench.FailoverParams) (o bench.FailoverOutcome) {
	o = bench.FailoverOutcome{Target: t, KillLeader: p.KillLeader, AnsweredBy: -1}
	var fc *failoverCluster
	errs := inFreshRig(dir, func(dir string, rig *netrig.Rig) (*rigRun, error) {
		if t == bench.Rctdb {
			fc = rctdbInRig(dir, rig, failoverNodes, failoverAddrs, c.Rctdbd, c.RctdbLogLevel, strings.ReplaceAll(c.RctdbConf, `\n`, "\n"))
		} else {
			var err error
			if fc, err = ctdbdInRig(dir, rig, failoverNodes, failoverAddrs, !c.NoClusterLock, ""); err != nil {
				return nil, err
			}
		}
		keep := func() bool { return c.Keep || c.KeepSlower > 0 && o.Answered > c.KeepSlower }
		return &rigRun{logs: fc.logs, stop: fc.stop, ok: o.OK, keep: keep}, nil
	}, func() { o = bench.Failover(ctx, fc.FailoverCluster, p) })
	o.Err = joinMsg(o.Err, errs)
	return o
}
