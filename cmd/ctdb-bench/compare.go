package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rctdb/rctdb/bench"
)

type compareCmd struct {
	paramFlags  `embed:""`
	Quick       bool     `help:"Every workload once, briefly (1 s): the whole comparison in under a minute."`
	Nodes       int      `help:"Nodes per cluster." default:"3"`
	Runs        int      `help:"Runs of each workload on each daemon (default 3; with --quick 1)."`
	Workloads   []string `help:"Workloads to run (default all): ${workloads}." sep:","`
	Only        string   `help:"Run one daemon only (rctdb or ctdbd); no ratios then." enum:",rctdb,ctdbd" default:""`
	JSON        string   `name:"json" help:"Write the rows as a JSON list to this file." type:"path"`
	SVG         string   `name:"svg" help:"Write one SVG plot per workload into this directory." type:"path"`
	Base        string   `help:"Directory for the clusters' state and logs (default: a new temporary one, removed after a clean run)." type:"path"`
	RctdbAddr   string   `help:"First loopback address of the rctdb nodes." default:"127.81.0.1"`
	CtdbdPrefix string   `help:"The real ctdbd nodes listen on PREFIX.1, PREFIX.2, ..." default:"127.82.0"`
	Rctdbd      string   `help:"rctdb's ctdbd binary (default: the one beside ctdb-bench)." type:"path"`
}

// run starts the clusters, compares, reports and stops the clusters
// whatever happens (errors, Ctrl-C). The exit status is 0 only when every
// run of every workload completed and passed its checks.
func (c *compareCmd) run(ctx context.Context, duration time.Duration) int {
	start := time.Now()
	runs := c.Runs
	if runs == 0 {
		runs = 3
		if c.Quick {
			runs = 1
		}
	}
	d := durationOr(duration, 5*time.Second)
	if c.Quick && duration == 0 {
		d = time.Second
	}
	p := c.params(d)
	workloads, err := selectWorkloads(c.Workloads)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	base, cleanBase, err := c.baseDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var clusters []*cluster
	failed := false
	defer func() {
		for i := len(clusters) - 1; i >= 0; i-- {
			if err := clusters[i].stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				failed = true
			}
		}
		if failed || !cleanBase {
			fmt.Fprintf(os.Stderr, "cluster state and logs kept in %s\n", base)
		} else {
			os.RemoveAll(base)
		}
		fmt.Fprintf(os.Stderr, "done in %.0fs\n", time.Since(start).Seconds())
	}()
	if c.Only != bench.Ctdbd {
		fmt.Fprintf(os.Stderr, "starting a %d-node rctdb cluster on %s...\n", c.Nodes, c.RctdbAddr)
		cl, err := startRctdb(ctx, base, c.Nodes, c.RctdbAddr, c.Rctdbd)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			return 1
		}
		clusters = append(clusters, cl)
	}
	if c.Only != bench.Rctdb {
		fmt.Fprintf(os.Stderr, "starting a %d-node real ctdbd 4.17 cluster on %s.1...\n", c.Nodes, c.CtdbdPrefix)
		cl, err := startCtdbd(ctx, base, c.Nodes, c.CtdbdPrefix)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			return 1
		}
		clusters = append(clusters, cl)
	}
	var targets []bench.Target
	for _, cl := range clusters {
		targets = append(targets, cl.target)
	}
	fmt.Fprintf(os.Stderr, "clusters up after %.1fs; %d workloads x %d runs x %d daemons of %v\n",
		time.Since(start).Seconds(), len(workloads), runs, len(targets), d)
	res := bench.Compare(ctx, targets, bench.CompareOptions{Params: p, Runs: runs, Workloads: workloads, Progress: os.Stderr})
	rows := res.Rows()
	fmt.Printf("\n%d nodes per cluster; %s\n", c.Nodes, strings.Join(os.Args[1:], " "))
	res.WriteTable(os.Stdout, rows)
	if c.JSON != "" {
		if err := bench.WriteJSON(c.JSON, rows); err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
	}
	if c.SVG != "" {
		files, err := res.WriteSVGs(c.SVG)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
		fmt.Fprintf(os.Stderr, "%d plots in %s\n", len(files), c.SVG)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "interrupted: the table shows the runs that were made")
		failed = true
	}
	for _, cl := range clusters {
		for _, w := range workloads {
			for _, o := range res.Outcomes[w.Name][cl.target.Name] {
				if !o.OK() {
					failed = true
				}
			}
		}
	}
	if failed {
		for _, cl := range clusters {
			fmt.Fprintf(os.Stderr, "%s logs: %s\n", cl.target.Name, cl.logs)
		}
		return 1
	}
	return 0
}

// baseDir is --base, or a new temporary directory (clean: remove it after
// a clean run).
func (c *compareCmd) baseDir() (dir string, clean bool, err error) {
	if c.Base != "" {
		if err := os.MkdirAll(c.Base, 0o755); err != nil {
			return "", false, fmt.Errorf("base directory: %w", err)
		}
		return c.Base, false, nil
	}
	dir, err = os.MkdirTemp("", "ctdb-bench-")
	if err != nil {
		return "", false, fmt.Errorf("base directory: %w", err)
	}
	return dir, true, nil
}

// selectWorkloads picks workloads by name, in the standard order.
func selectWorkloads(names []string) ([]bench.Workload, error) {
	all := bench.Workloads()
	if len(names) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := findWorkload(n); !ok {
			return nil, fmt.Errorf("unknown workload %q", n)
		}
		want[n] = true
	}
	var out []bench.Workload
	for _, w := range all {
		if want[w.Name] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no workload selected")
	}
	return out, nil
}
