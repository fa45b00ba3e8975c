package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/internal/netrig"
)

// healthCmd kills smbd on a node whose daemon lives on, and starts it
// again, on a fresh cluster of each daemon per run, each in a fresh
// network-namespace rig, every node running Debian's scripts for a Samba
// node.
type healthCmd struct {
	Runs            int           `help:"Runs per daemon, each on a fresh cluster in a fresh rig." default:"5"`
	MonitorInterval int           `help:"The MonitorInterval tunable (seconds), set on every node of both daemons." default:"15"`
	Timeout         time.Duration `help:"Bound on each wait beyond what the monitor cadence needs." default:"60s"`
	NoClusterLock   bool          `help:"Run the real ctdbd without a cluster lock (default: a shared lock file, as production clusters have)."`
	Only            string        `help:"Run one daemon only (rctdb or ctdbd); no ratios then." enum:",rctdb,ctdbd" default:""`
	JSON            string        `name:"json" help:"Write the rows and every run as JSON to this file." type:"path"`
	Base            string        `help:"Directory for the clusters' state and logs (default: a new temporary one). A run's directory is removed when the run passed, kept when it failed." type:"path"`
	Keep            bool          `help:"Keep every run's directory (with --base), not only those of failed runs."`
	Rctdbd          string        `help:"rctdb's ctdbd binary (default: the one beside ctdb-bench)." type:"path"`
	RctdbLogLevel   string        `help:"Log level of the rctdb nodes (their logs stay with failed or --keep runs)." default:"NOTICE"`
	StartAttempts   int           `help:"Fresh clusters a run may try when one never got every node OK and the addresses balanced after its start, before anything was measured (Samba's first smbd of a cluster can lose its version-claim race; a loaded machine can hold up either daemon's first monitor)." default:"1"`
}

// Validate checks the flags (kong calls it).
func (c *healthCmd) Validate() error {
	if c.Runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	if c.StartAttempts < 1 {
		return errors.New("--start-attempts must be at least 1")
	}
	if c.MonitorInterval < 1 {
		return errors.New("--monitor-interval must be at least 1 (seconds)")
	}
	return nil
}

// run makes every run, prints the table and returns the exit status: 0
// only when every run completed and passed its checks and nothing of a
// run was left behind.
func (c *healthCmd) run(ctx context.Context) int {
	b, err := newRigBench(c.Base, "ctdb-bench-health-", c.Only)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	res := &bench.HealthResults{Runs: c.Runs, Targets: b.targets}
	p := bench.HealthParams{MonitorInterval: time.Duration(c.MonitorInterval) * time.Second, Timeout: c.Timeout, Log: b.log}
	b.forEach(ctx, c.Runs, []string{""}, func(round, _ int, t string) (bench.Verdict, string) {
		var o bench.HealthOutcome
		for attempt := 1; ; attempt++ {
			dir := filepath.Join(b.base, fmt.Sprintf("%s-run%d", t, round+1))
			if attempt > 1 {
				dir += fmt.Sprintf("-attempt%d", attempt)
			}
			o = c.runOnce(ctx, t, dir, p)
			if !o.ColdStartFailed || attempt >= c.StartAttempts || ctx.Err() != nil {
				break
			}
			b.log.Warn("the cluster's cold start failed before anything was measured; the run takes a fresh cluster",
				"target", t, "run", round+1, "attempt", attempt, "err", o.Err, "kept", dir)
		}
		res.Add(o)
		return o.Verdict, fmt.Sprintf("UNHEALTHY everywhere %v and answered on node %d %v after the kill; healthy %v, holding an address %v after the start",
			o.Unhealthy.Round(time.Millisecond), o.AnsweredBy, o.Answered.Round(time.Millisecond),
			o.Healthy.Round(time.Millisecond), o.HoldsAgain.Round(time.Millisecond))
	})
	return b.finish(ctx, res.WriteTable, c.JSON, func(path string) error { return bench.WriteHealthJSON(path, res) })
}

// runOnce builds a rig, runs the workload on a fresh cluster of daemon t
// in it, stops the cluster, checks that none of its processes is left and
// removes the rig. The directory is removed after a good run and kept,
// with the tail of each node's log printed, after a bad one.
func (c *healthCmd) runOnce(ctx context.Context, t, dir string, p bench.HealthParams) (o bench.HealthOutcome) {
	o = bench.HealthOutcome{Target: t, AnsweredBy: -1}
	var hc *healthCluster
	errs := inFreshRig(dir, func(dir string, rig *netrig.Rig) (*rigRun, error) {
		var err error
		if t == bench.Rctdb {
			hc, err = rctdbHealthInRig(dir, rig, c.Rctdbd, c.RctdbLogLevel)
		} else {
			hc, err = ctdbdHealthInRig(dir, rig, !c.NoClusterLock)
		}
		if err != nil {
			return nil, err
		}
		return &rigRun{logs: hc.logs, stop: hc.stop, ok: o.OK, keep: func() bool { return c.Keep }}, nil
	}, func() { o = bench.Health(ctx, hc.HealthCluster, p) })
	o.Err = joinMsg(o.Err, errs)
	return o
}
