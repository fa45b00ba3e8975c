package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/rctdb/rctdb/bench"
)

// paramFlags are the workload parameters, the same for every daemon.
type paramFlags struct {
	Clients   int           `help:"Locker processes per node (contention)." default:"4"`
	Keys      int           `help:"Keys the lockers share (contention)." default:"16"`
	Hold      time.Duration `help:"How long a locker holds a record before updating it." default:"100us"`
	Zipf      float64       `help:"Exponent s (> 1) of the Zipf-skewed key choice." default:"1.2"`
	FloorAddr string        `help:"First loopback address of the floor's forwarders." default:"127.83.0.1"`
}

func (f *paramFlags) params(d time.Duration) bench.Params {
	p := bench.DefaultParams()
	p.Duration, p.Clients, p.Keys, p.Hold, p.Zipf, p.FloorAddr = d, f.Clients, f.Keys, f.Hold, f.Zipf, f.FloorAddr
	return p
}

type cli struct {
	Sockets  []string      `help:"Client sockets of running daemons' nodes, in pnn order (run, message-ring, fetch-ring)." sep:","`
	Duration time.Duration `help:"How long each run of a workload lasts (default 5s; with compare --quick 1s)."`

	Compare     compareCmd  `cmd:"" help:"Start an rctdb and a real ctdbd cluster, run every workload on both, print the comparison."`
	Run         runCmd      `cmd:"" help:"Run one workload on running daemons (--sockets)."`
	Recovery    recoveryCmd `cmd:"" help:"Kill -9 one node of 3 under live clients: time to recovery and correctness, rctdb against the real ctdbd, a fresh cluster per run."`
	Failover    failoverCmd `cmd:"" help:"Kill -9 the holder of a public address: time until it answers on a survivor, rctdb against the real ctdbd, a fresh cluster in network namespaces per run."`
	Health      healthCmd   `cmd:"" help:"Kill -9 smbd on the holder of a public address (its daemon lives; every node runs Debian's scripts for a Samba node): time until the node is UNHEALTHY everywhere and the address answers SMB on another node, and back after smbd's restart; rctdb against the real ctdbd, a fresh cluster in network namespaces per run."`
	History     historyCmd  `cmd:"" help:"Draw the rctdb/ctdbd ratios of several compare --json results against the goals, one bar per result (SVG)."`
	MessageRing struct{}    `cmd:"" help:"Pass a message around the nodes each way (ctdb message_ring); same as run message-ring."`
	FetchRing   struct {
		DB string `help:"Volatile database to use." default:"fetch_ring.tdb"`
	} `cmd:"" help:"Migrate a record around the nodes, incrementing it (ctdb fetch_ring)."`
}

type runCmd struct {
	paramFlags `embed:""`
	Workload   string `arg:"" help:"One of: ${workloads}."`
}

func main() {
	// Worker mode first: workers are started often and say nothing else.
	if len(os.Args) == 2 && os.Args[1] == bench.WorkerArg {
		os.Exit(bench.WorkerMain(os.Stdin, os.Stdout))
	}
	var c cli
	var names []string
	for _, w := range bench.Workloads() {
		names = append(names, w.Name)
	}
	k := kong.Parse(&c, kong.Description("Measure CTDB-protocol daemons through their client sockets, and compare rctdb with the real ctdbd 4.17."),
		kong.Vars{"workloads": strings.Join(names, ", ")})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch k.Command() {
	case "compare":
		code = c.Compare.run(ctx, c.Duration)
	case "recovery":
		code = c.Recovery.run(ctx)
	case "failover":
		code = c.Failover.run(ctx)
	case "health":
		code = c.Health.run(ctx)
	case "history <runs>":
		code = c.History.run()
	case "run <workload>":
		code = runOne(ctx, c.Run.Workload, c.Sockets, c.Run.params(durationOr(c.Duration, 5*time.Second)), "")
	case "message-ring":
		code = runOne(ctx, "message-ring", c.Sockets, bench.Params{Duration: durationOr(c.Duration, 10*time.Second)}, "")
	case "fetch-ring":
		code = runOne(ctx, "fetch-ring", c.Sockets, bench.Params{Duration: durationOr(c.Duration, 10*time.Second)}, c.FetchRing.DB)
	}
	stop()
	os.Exit(code)
}

type historyCmd struct {
	SVG   string   `help:"SVG file to write." required:""`
	Title string   `help:"The chart's title." default:"rctdb against ctdbd 4.17, run by run"`
	Runs  []string `arg:"" help:"LABEL=results.json, oldest first."`
}

func (h *historyCmd) run() int {
	var runs []bench.HistoryRun
	for _, a := range h.Runs {
		label, path, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "history: %q is not LABEL=results.json\n", a)
			return 2
		}
		r, err := bench.LoadHistoryRun(label, path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		runs = append(runs, r)
	}
	if err := os.WriteFile(h.SVG, []byte(bench.HistorySVG(h.Title, runs, bench.Goals)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "history:", err)
		return 1
	}
	return 0
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// runOne runs one workload once on the daemons behind sockets and prints
// its outcome; the exit status says whether it completed and its checks
// held.
func runOne(ctx context.Context, name string, sockets []string, p bench.Params, fetchDB string) int {
	if len(sockets) == 0 {
		fmt.Fprintln(os.Stderr, "--sockets is required: the client sockets of the nodes, in pnn order")
		return 2
	}
	var o bench.Outcome
	if name == "fetch-ring" && fetchDB != "" {
		o = bench.FetchRing(ctx, sockets, fetchDB, p)
	} else {
		w, ok := findWorkload(name)
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown workload %q\n", name)
			return 2
		}
		o = w.Run(ctx, bench.Target{Name: "daemon", Sockets: sockets}, p)
	}
	fmt.Printf("%s over %d nodes: %d in %v: %.0f/s; latency p50 %v, p99 %v, max %v\n", name, len(sockets), o.Ops,
		o.Duration.Round(time.Millisecond), o.Rate(), o.Latency.Quantile(0.5), o.Latency.Quantile(0.99), o.Latency.Max)
	if len(o.Shares) > 0 {
		fmt.Printf("fairness: Jain %.3f, min/max share %.3f\n", bench.Jain(o.Shares), bench.MinMaxShare(o.Shares))
	}
	if o.HasHop {
		fmt.Printf("max hopcount: %d\n", o.MaxHop)
	}
	for _, c := range o.Checks {
		fmt.Println("check ok:", c)
	}
	switch {
	case o.Err != "":
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, o.Err)
		return 1
	case o.Failed != "":
		fmt.Fprintf(os.Stderr, "%s: check failed: %s\n", name, o.Failed)
		return 1
	}
	return 0
}

func findWorkload(name string) (bench.Workload, bool) {
	for _, w := range bench.Workloads() {
		if w.Name == name {
			return w, true
		}
	}
	return bench.Workload{}, false
}
