package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/chaos"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == chaos.WorkerArg {
		os.Exit(chaos.WorkerMain(os.Stdin, os.Stdout))
	}
	os.Exit(run())
}

func run() int {
	cycles, err := envInt("CHAOS_CYCLES", 200)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	seed, err := envInt("CHAOS_SEED", int(rand.Uint32()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	exe, _ := os.Executable()
	cfg := chaos.Config{Exe: exe}
	flag.IntVar(&cycles, "cycles", cycles, "faults to inject (CHAOS_CYCLES)")
	flag.IntVar(&seed, "seed", seed, "seed of the fault schedule (CHAOS_SEED)")
	flag.StringVar(&cfg.Ctdbd, "ctdbd", filepath.Join(filepath.Dir(exe), "ctdbd"), "the daemon binary")
	flag.StringVar(&cfg.Dir, "dir", os.Getenv("CHAOS_DIR"), "the run's directory (CHAOS_DIR; default /tmp/rctdb-chaos-SEED-TIME)")
	flag.BoolVar(&cfg.Keep, "keep", os.Getenv("CHAOS_KEEP") != "", "keep the run's directory after a run without violations (CHAOS_KEEP)")
	flag.DurationVar(&cfg.HealTimeout, "heal-timeout", 90*time.Second, "how long the cluster may take to be whole again after a fault")
	verbose := flag.Bool("v", false, "log every fault and heal")
	recheck := flag.String("recheck", "", "check the histories kept in this run directory again, without running anything")
	flag.Parse()
	if *recheck != "" {
		rep, err := chaos.Recheck(*recheck, time.Minute)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		return report(rep, nil)
	}
	cfg.Cycles, cfg.Seed = cycles, uint64(seed)
	if cfg.Dir == "" {
		cfg.Dir = fmt.Sprintf("/tmp/rctdb-chaos-%d-%s", seed, time.Now().UTC().Format("20060102T150405"))
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if rep == nil {
			return 2
		}
	}
	return report(rep, err)
}

// report prints the violations, the figures and the summary line, and
// returns the exit status.
func report(rep *chaos.Report, err error) int {
	for _, b := range rep.Bans {
		fmt.Fprintf(os.Stderr, "ban: cycle %d: node %d was banned (seen by node %d); unbanned to go on\n", b.Cycle, b.Node, b.Observer)
	}
	for _, v := range rep.Violations {
		fmt.Fprintln(os.Stderr, "violation:", v)
	}
	fmt.Fprintf(os.Stderr, "results: %v; recorded %d operations in %s; %d g_lock sections on a node cut off meanwhile (reads not checked)\n",
		rep.Results, rep.Recorded, rep.Duration, rep.SectionsLockLost)
	if rep.Dir != "" {
		fmt.Fprintf(os.Stderr, "kept: %s (schedule.txt, history.json, samples.json, report.json, cluster/node*/log.ctdb); replay with CHAOS_SEED=%d\n", rep.Dir, rep.Seed)
	}
	fmt.Println(rep.Line())
	if len(rep.Violations) > 0 || err != nil {
		return 1
	}
	return 0
}

func envInt(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
	}
	return v, nil
}
