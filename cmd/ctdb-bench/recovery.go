package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/protocol"
)

// recoveryCmd measures recovery after kill -9 of a node, on a fresh
// cluster of each daemon per run (the workload leaves a dead node behind).
type recoveryCmd struct {
	Records     []int         `help:"Records in the database; a list (10000,1000000) measures each in turn." default:"10000" sep:","`
	Runs        int           `help:"Runs per daemon and number of records, each on a fresh cluster." default:"3"`
	Keys        int           `help:"Working set the clients fetch-lock and increment (at most --records)." default:"10000"`
	Clients     int           `help:"Client processes per surviving node." default:"2"`
	ClientPause time.Duration `help:"How long each client waits after each update (0: as fast as it can)." default:"0s"`
	KillLeader  bool          `help:"Kill the leader (default: the last node that is not the leader)."`
	After       time.Duration `help:"How long the clients go on after the recovery." default:"2s"`
	Timeout     time.Duration `help:"How long a daemon may take to recover before the run counts as failed." default:"5m"`
	Only        string        `help:"Run one daemon only (rctdb or ctdbd); no ratios then." enum:",rctdb,ctdbd" default:""`
	JSON        string        `name:"json" help:"Write the rows and every run as JSON to this file." type:"path"`
	Base        string        `help:"Directory for the clusters' state and logs (default: a new temporary one). A run's cluster directory is removed when the run passed, kept when it failed." type:"path"`
	Keep        bool          `help:"Keep every run's cluster directory (with --base), not only those of failed runs."`
	RctdbAddr   string        `help:"First loopback address of the rctdb nodes." default:"127.91.0.1"`
	CtdbdPrefix string        `help:"The real ctdbd nodes listen on PREFIX.1, PREFIX.2, PREFIX.3." default:"127.92.0"`
	Rctdbd      string        `help:"rctdb's ctdbd binary (default: the one beside ctdb-bench)." type:"path"`
}

// nodes per cluster: one is killed, two survive.
const recoveryNodes = 3

// maxRoleMovedRetries bounds the runs made again because Raft moved the
// leadership onto or off the victim before the kill (a loaded machine).
const maxRoleMovedRetries = 2

// run makes every run, prints the table and returns the exit status: 0
// only when every run completed and passed its checks and no process was
// left behind.
func (c *recoveryCmd) run(ctx context.Context) int {
	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	base := c.Base
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "ctdb-bench-recovery-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	targets := []string{bench.Rctdb, bench.Ctdbd}
	if c.Only != "" {
		targets = []string{c.Only}
	}
	p := bench.RecoveryParams{Keys: c.Keys, Clients: c.Clients, Pause: c.ClientPause, KillLeader: c.KillLeader,
		After: c.After, Timeout: c.Timeout, Log: log}
	res := &bench.RecoveryResults{Params: p, Runs: c.Runs, Targets: targets, Records: c.Records}
	res.Params.Keys = min(c.Keys, slicesMax(c.Records))
	failed := false
	total, done := len(c.Records)*c.Runs*len(targets), 0
	for _, n := range c.Records {
		for run := 0; run < c.Runs; run++ {
			for k := range targets {
				if ctx.Err() != nil {
					break
				}
				t := targets[(k+run)%len(targets)]
				done++
				fmt.Fprintf(os.Stderr, "[%d/%d] %s records, %s, run %d/%d\n", done, total, fmtInt(n), t, run+1, c.Runs)
				p.Records = n
				dir := filepath.Join(base, fmt.Sprintf("%s-%d-run%d", t, n, run+1))
				o := c.runOnce(ctx, t, dir, p)
				// A run whose victim changed role before the kill measured
				// nothing: it is made again on a fresh cluster, twice at most.
				for retry := 1; retry <= maxRoleMovedRetries && o.RoleMoved && ctx.Err() == nil; retry++ {
					fmt.Fprintf(os.Stderr, "[%d/%d] %s records, %s, run %d: %s; made again (%d/%d)\n", done, total, fmtInt(n), t, run+1,
						firstLineOf(o.Err), retry, maxRoleMovedRetries)
					o = c.runOnce(ctx, t, fmt.Sprintf("%s-again%d", dir, retry), p)
				}
				res.Add(o)
				ok := o.OK()
				status := "ok"
				if !ok {
					failed = true
					status = "FAILED: " + firstLineOf(o.Err+o.Failed)
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] %s records, %s, run %d: thawed %v after the kill; %s\n", done, total, fmtInt(n), t, run+1,
					o.Thawed.Round(time.Millisecond), status)
			}
		}
	}
	fmt.Printf("\n%s\n", strings.Join(os.Args[1:], " "))
	res.WriteTable(os.Stdout)
	if c.JSON != "" {
		if err := bench.WriteRecoveryJSON(c.JSON, res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "interrupted: the table shows the runs that were made")
		failed = true
	}
	if failed || c.Base != "" {
		fmt.Fprintf(os.Stderr, "cluster state and logs of failed (with --keep: all) runs kept in %s\n", base)
	} else {
		os.RemoveAll(base)
	}
	fmt.Fprintf(os.Stderr, "done in %.0fs\n", time.Since(start).Seconds())
	if failed {
		return 1
	}
	return 0
}

// runOnce starts a fresh cluster of daemon t in dir, runs the workload,
// stops the cluster and checks that none of its processes is left. The
// directory is removed after a good run (a million records take hundreds
// of megabytes per node) and kept, with the tail of each node's log
// printed, after a bad one.
func (c *recoveryCmd) runOnce(ctx context.Context, t, dir string, p bench.RecoveryParams) (o bench.RecoveryOutcome) {
	o = bench.RecoveryOutcome{Outcome: bench.Outcome{Workload: "recovery", Target: t}, Records: p.Records,
		Leader: protocol.UnknownPNN, Victim: protocol.UnknownPNN, KillLeader: p.KillLeader}
	var cl *cluster
	var err error
	if t == bench.Rctdb {
		cl, err = startRctdb(ctx, dir, recoveryNodes, c.RctdbAddr, c.Rctdbd)
	} else {
		cl, err = startCtdbd(ctx, dir, recoveryNodes, c.CtdbdPrefix)
	}
	defer func() {
		if cl != nil {
			if err := cl.stop(); err != nil {
				o.Err = joinMsg(o.Err, err.Error())
			}
		}
		if strays := strayProcesses(dir); len(strays) > 0 {
			o.Err = joinMsg(o.Err, fmt.Sprintf("processes of the cluster left after stopping it (killed now): %s", strings.Join(strays, ", ")))
		}
		if o.OK() {
			if !c.Keep {
				os.RemoveAll(dir)
			}
			return
		}
		if cl != nil {
			printLogTails(cl.logs)
			fmt.Fprintf(os.Stderr, "logs: %s\n", cl.logs)
		}
	}()
	if err != nil {
		o.Err = err.Error()
		return o
	}
	return bench.Recovery(ctx, cl.target, p)
}

// joinMsg joins two messages, either of which may be empty.
func joinMsg(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

// strayProcesses finds, kills and names the processes that still belong
// to a cluster in dir (clusterProcesses).
func strayProcesses(dir string) []string {
	var strays []string
	for pid, cmdline := range clusterProcesses(dir) {
		syscall.Kill(pid, syscall.SIGKILL)
		strays = append(strays, fmt.Sprintf("%d (%s)", pid, cmdline))
	}
	return strays
}

// clusterProcesses are the live processes of a cluster in dir, by pid
// with their command lines: rctdb's daemons name their configuration
// there, the real ctdbd, its helpers and what its scripts start carry
// CTDB_BASE there, smbd names its configuration there.
func clusterProcesses(dir string) map[int]string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if !strings.Contains(string(cmdline), abs+"/") && !strings.Contains(string(environ), "CTDB_BASE="+abs+"/") {
			continue
		}
		if isZombie(pid) {
			continue
		}
		procs[pid] = strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
	}
	return procs
}

// isZombie says whether pid has exited and waits for its parent.
func isZombie(pid int) bool {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return isZombieStat(stat)
}

// isZombieStat reads the state after the command name in /proc/PID/stat.
func isZombieStat(stat []byte) bool {
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// printLogTails prints each log's last lines that tell of trouble.
func printLogTails(glob string) {
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		var lines []string
		s := bufio.NewScanner(fh)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			l := s.Text()
			low := strings.ToLower(l)
			if strings.Contains(low, "notification script") {
				continue // ctdbd in test mode has none, and says so often
			}
			if strings.Contains(low, "err") || strings.Contains(low, "warn") || strings.Contains(low, "ban") ||
				strings.Contains(low, "timeout") || strings.Contains(low, "timed out") || strings.Contains(low, "fail") {
				lines = append(lines, l)
			}
		}
		fh.Close()
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		fmt.Fprintf(os.Stderr, "--- %s (last lines telling of trouble):\n%s\n", f, strings.Join(lines, "\n"))
	}
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func fmtInt(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

var errNoRecords = errors.New("--records must list at least one positive number")

// Validate checks the flags (kong calls it).
func (c *recoveryCmd) Validate() error {
	if len(c.Records) == 0 {
		return errNoRecords
	}
	for _, n := range c.Records {
		if n <= 0 {
			return errNoRecords
		}
	}
	if c.Runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	return nil
}
