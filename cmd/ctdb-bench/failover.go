package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	base := c.Base
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "ctdb-bench-failover-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if removed, err := netrig.CleanupStale(); err != nil {
		log.Warn("failover: cleaning up the rigs of dead processes", "err", err)
	} else if len(removed) > 0 {
		log.Info("failover: removed the rigs of dead processes", "rigs", removed)
	}
	targets := []string{bench.Rctdb, bench.Ctdbd}
	if c.Only != "" {
		targets = []string{c.Only}
	}
	cases := slices.Compact(slices.Clone(c.Cases))
	res := &bench.FailoverResults{Runs: c.Runs, Targets: targets, Cases: cases}
	p := bench.FailoverParams{Port: c.Port, Quiet: c.Quiet, Timeout: c.Timeout, Log: log}
	failed := false
	total, done := len(cases)*c.Runs*len(targets), 0
	for run := 0; run < c.Runs; run++ {
		for _, cs := range cases {
			for k := range targets {
				if ctx.Err() != nil {
					break
				}
				t := targets[(k+run)%len(targets)]
				done++
				fmt.Fprintf(os.Stderr, "[%d/%d] kill %s, %s, run %d/%d\n", done, total, cs, t, run+1, c.Runs)
				p.KillLeader = cs == bench.KillLeader
				dir := filepath.Join(base, fmt.Sprintf("%s-%s-run%d", t, cs, run+1))
				o := c.runOnce(ctx, t, dir, p)
				res.Add(o)
				status := "ok"
				if !o.OK() {
					failed = true
					status = "FAILED: " + firstLineOf(o.Err+o.Failed)
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] kill %s, %s, run %d: balanced %v after all OK; answered on node %d %v after the kill; %s\n",
					done, total, cs, t, run+1, o.Balanced.Round(time.Millisecond), o.AnsweredBy, o.Answered.Round(time.Millisecond), status)
			}
		}
	}
	fmt.Printf("\n%s\n", strings.Join(os.Args[1:], " "))
	res.WriteTable(os.Stdout)
	if c.JSON != "" {
		if err := bench.WriteFailoverJSON(c.JSON, res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "interrupted: the table shows the runs that were made")
		failed = true
	}
	if failed || c.Base != "" {
		fmt.Fprintf(os.Stderr, "cluster state and logs of failed (with --keep: all; with --keep-slower: slow) runs kept in %s\n", base)
	} else {
		os.RemoveAll(base)
	}
	fmt.Fprintf(os.Stderr, "done in %.0fs\n", time.Since(start).Seconds())
	if failed {
		return 1
	}
	return 0
}

// runOnce builds a rig, runs the workload on a fresh cluster of daemon t
// in it, stops the cluster, checks that none of its processes is left and
// removes the rig. The directory is removed after a good run and kept,
// with the tail of each node's log printed, after a bad one.
func (c *failoverCmd) runOnce(ctx context.Context, t, dir string, p bench.FailoverParams) (o bench.FailoverOutcome) {
	o = bench.FailoverOutcome{Target: t, KillLeader: p.KillLeader, AnsweredBy: -1}
	dir, err := filepath.Abs(dir)
	if err != nil {
		o.Err = err.Error()
		return o
	}
	rig, err := netrig.New(failoverNodes)
	if err != nil {
		o.Err = err.Error()
		return o
	}
	var fc *failoverCluster
	defer func() {
		if fc != nil {
			if err := fc.stop(); err != nil {
				o.Err = joinMsg(o.Err, err.Error())
			}
		}
		if strays := strayProcesses(dir); len(strays) > 0 {
			o.Err = joinMsg(o.Err, fmt.Sprintf("processes of the cluster left after stopping it (killed now): %s", strings.Join(strays, ", ")))
		}
		if err := rig.Close(); err != nil {
			o.Err = joinMsg(o.Err, err.Error())
		}
		slow := c.KeepSlower > 0 && o.Answered > c.KeepSlower
		if o.OK() {
			if !c.Keep && !slow {
				os.RemoveAll(dir)
			}
			return
		}
		if fc != nil {
			printLogTails(fc.logs)
			fmt.Fprintf(os.Stderr, "logs: %s\n", fc.logs)
		}
	}()
	if t == bench.Rctdb {
		fc = rctdbInRig(dir, rig, failoverNodes, failoverAddrs, c.Rctdbd, c.RctdbLogLevel, strings.ReplaceAll(c.RctdbConf, `\n`, "\n"))
	} else if fc, err = ctdbdInRig(dir, rig, failoverNodes, failoverAddrs, !c.NoClusterLock); err != nil {
		o.Err = err.Error()
		return o
	}
	return bench.Failover(ctx, fc.FailoverCluster, p)
}
