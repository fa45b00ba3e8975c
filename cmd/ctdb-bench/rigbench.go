package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/internal/netrig"
)

// What the commands that run fresh clusters in network-namespace rigs
// (failover, health) share: their base directory, one run's rig and its
// ending, and the end of the command.

// rigBench is a command's series of runs, each of one daemon on a fresh
// cluster in a fresh rig; only the command's goroutine uses it.
type rigBench struct {
	start   time.Time
	log     *slog.Logger
	base    string
	named   bool     // the user named base: it stays
	targets []string // the daemons, in the first run's order
	failed  bool
}

// newRigBench makes the progress logger and the directory of the runs
// (base, or a new temporary one named from prefix), and removes the rigs
// that processes which died without cleaning up left behind. only, if
// set, is the one daemon to run.
func newRigBench(base, prefix, only string) (*rigBench, error) {
	b := &rigBench{start: time.Now(), base: base, named: base != "", targets: []string{bench.Rctdb, bench.Ctdbd}}
	if only != "" {
		b.targets = []string{only}
	}
	b.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if base == "" {
		var err error
		if b.base, err = os.MkdirTemp("", prefix); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	if removed, err := netrig.CleanupStale(); err != nil {
		b.log.Warn("cleaning up the rigs of dead processes", "err", err)
	} else if len(removed) > 0 {
		b.log.Info("removed the rigs of dead processes", "rigs", removed)
	}
	return b, nil
}

// forEach makes runs rounds; in each, every case (named by its label,
// "" if the command has none) on every daemon, the daemons' order turning
// from one round to the next so that neither always goes first. It stops
// when ctx ends. run makes one and returns its verdict and a line on it;
// forEach says on the standard error which run starts and how it went.
func (b *rigBench) forEach(ctx context.Context, runs int, cases []string, run func(round, c int, target string) (bench.Verdict, string)) {
	total, done := runs*len(cases)*len(b.targets), 0
	for round := range runs {
		for c, label := range cases {
			for k := range b.targets {
				if ctx.Err() != nil {
					return
				}
				t := b.targets[(k+round)%len(b.targets)]
				if label != "" {
					t = label + ", " + t
				}
				done++
				fmt.Fprintf(os.Stderr, "[%d/%d] %s, run %d/%d\n", done, total, t, round+1, runs)
				v, line := run(round, c, b.targets[(k+round)%len(b.targets)])
				status := "ok"
				if !v.OK() {
					b.failed = true
					status = "FAILED: " + firstLineOf(v.Err+v.Failed)
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] %s, run %d: %s; %s\n", done, total, t, round+1, line, status)
			}
		}
	}
}

// finish prints the command line and the table, writes the JSON if asked
// (to jsonPath), says whether the command was interrupted, removes the
// base directory unless a run failed or the user named it, says how long
// it all took, and returns the exit status: 0 only when every run passed.
func (b *rigBench) finish(ctx context.Context, table func(io.Writer), jsonPath string, writeJSON func(string) error) int {
	fmt.Printf("\n%s\n", strings.Join(os.Args[1:], " "))
	table(os.Stdout)
	if jsonPath != "" {
		if err := writeJSON(jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, err)
			b.failed = true
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "interrupted: the table shows the runs that were made")
		b.failed = true
	}
	if b.failed || b.named {
		fmt.Fprintf(os.Stderr, "cluster state and logs of failed (and of kept) runs in %s\n", b.base)
	} else {
		os.RemoveAll(b.base)
	}
	fmt.Fprintf(os.Stderr, "done in %.0fs\n", time.Since(b.start).Seconds())
	if b.failed {
		return 1
	}
	return 0
}

// rigRun is a cluster built in a rig for one run, as inFreshRig ends it.
type rigRun struct {
	logs string       // glob of its nodes' logs, printed after a bad run
	stop func() error // stops the cluster and everything it started
	// ok says whether the run passed, keep whether its directory stays
	// although it passed; both are asked after the run.
	ok   func() bool
	keep func() bool
}

// inFreshRig runs one run in a fresh rig of failoverNodes nodes: build
// lays out a cluster in dir (made absolute) and rig, work runs the
// workload on it; then the cluster is stopped, whatever of it is still
// running is killed and named, and the rig removed. The directory is
// removed after a good run, unless keep, and kept after a bad one, with
// the tail of each node's log printed. It returns what went wrong apart
// from the workload ("" if nothing).
func inFreshRig(dir string, build func(dir string, rig *netrig.Rig) (*rigRun, error), work func()) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err.Error()
	}
	rig, err := netrig.New(failoverNodes)
	if err != nil {
		return err.Error()
	}
	run, err := build(dir, rig)
	var msg string
	if err != nil {
		msg = err.Error()
	} else {
		work()
		if err := run.stop(); err != nil {
			msg = joinMsg(msg, err.Error())
		}
	}
	if strays := strayProcesses(dir); len(strays) > 0 {
		msg = joinMsg(msg, fmt.Sprintf("processes of the cluster left after stopping it (killed now): %s", strings.Join(strays, ", ")))
	}
	if err := rig.Close(); err != nil {
		msg = joinMsg(msg, err.Error())
	}
	if run == nil {
		return msg
	}
	if msg == "" && run.ok() {
		if !run.keep() {
			os.RemoveAll(dir)
		}
		return ""
	}
	printLogTails(run.logs)
	fmt.Fprintf(os.Stderr, "logs: %s\n", run.logs)
	return msg
}
