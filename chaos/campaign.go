package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/netrig"
	"github.com/rctdb/rctdb/protocol"
)

// Nodes is the size of the campaign's cluster.
const Nodes = 5

// Config configures a campaign.
type Config struct {
	// Cycles is the number of faults to inject (default 200).
	Cycles int
	// Seed determines the fault schedule.
	Seed uint64
	// Dir is where the cluster, the histories and the logs go; it is
	// removed after a run without violations unless Keep.
	Dir  string
	Keep bool
	// Ctdbd is the daemon binary (required).
	Ctdbd string
	// Exe is the binary that runs the workers (WorkerArg); default this
	// executable.
	Exe string
	// Keys is the number of keys of each workload (default 4).
	Keys int
	// OpTimeout bounds one client operation (default 10 s).
	OpTimeout time.Duration
	// HealTimeout bounds the wait for the cluster to be whole again after
	// a fault is healed (default 90 s); a cluster that does not heal is a
	// violation and ends the campaign.
	HealTimeout time.Duration
	// Settle is how long the clients run on the whole cluster between two
	// faults (default 1 s).
	Settle time.Duration
	// CheckTimeout bounds porcupine's search per key (default 1 min).
	CheckTimeout time.Duration
	// Log receives progress (nil: discarded).
	Log *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Cycles == 0 {
		c.Cycles = 200
	}
	if c.Keys == 0 {
		c.Keys = 4
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 10 * time.Second
	}
	if c.HealTimeout == 0 {
		c.HealTimeout = 90 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = time.Second
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Exe == "" {
		c.Exe, _ = os.Executable()
	}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.Cycles < 1:
		return fmt.Errorf("chaos config: Cycles %d: want at least 1", c.Cycles)
	case c.Dir == "":
		return errors.New("chaos config: Dir is required")
	case c.Ctdbd == "":
		return errors.New("chaos config: Ctdbd is required")
	case c.Exe == "":
		return errors.New("chaos config: Exe is required")
	case c.Keys < 1:
		return fmt.Errorf("chaos config: Keys %d: want at least 1", c.Keys)
	case c.OpTimeout <= 0 || c.HealTimeout <= 0 || c.Settle < 0 || c.CheckTimeout <= 0:
		return errors.New("chaos config: OpTimeout, HealTimeout and CheckTimeout must be positive, Settle not negative")
	}
	return nil
}

// Report is a campaign's outcome.
type Report struct {
	Seed       uint64         `json:"seed"`
	Cycles     int            `json:"cycles"`     // faults injected and healed
	Operations int            `json:"operations"` // client operations checked
	Recorded   int            `json:"recorded"`   // client operations recorded, failed ones included
	Results    map[string]int `json:"results"`    // operations by kind/result
	// Bans are the nodes the cluster banned (a node that keeps failing
	// recoveries is banned for 300 s); the campaign unbans them to go on.
	Bans []Ban `json:"bans,omitempty"`
	// SectionsLockLost counts the g_lock sections whose node a majority
	// saw INACTIVE during the section: their reads are not checked.
	SectionsLockLost int           `json:"sections_lock_lost"`
	Violations       []Violation   `json:"violations"`
	Duration         time.Duration `json:"duration"`
	Dir              string        `json:"dir"` // kept: where its files are; "" if removed
}

// Line is the campaign's one-line summary.
func (r *Report) Line() string {
	return fmt.Sprintf("chaos: cycles=%d operations=%d violations=%d seed=%d", r.Cycles, r.Operations, len(r.Violations), r.Seed)
}

// Run runs a campaign: a 5-node cluster in a fresh rig, clients on every
// node, cfg.Cycles faults, then the checks. An error means the campaign
// could not run (no rig, no cluster); what it found is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	start := time.Now()
	rep := &Report{Seed: cfg.Seed, Dir: dir, Results: map[string]int{}}
	schedule := Schedule(cfg.Seed, cfg.Cycles, Nodes)
	if err := os.WriteFile(filepath.Join(dir, "schedule.txt"), []byte(fmt.Sprintf("seed %d\n%s", cfg.Seed, describeSchedule(schedule))), 0o644); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	rig, err := netrig.New(Nodes)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer rig.Close()
	var public strings.Builder
	var addrs []netip.Addr
	opts := localcluster.Options{N: Nodes, Base: filepath.Join(dir, "cluster"), Ctdbd: cfg.Ctdbd, LogLevel: "INFO", Timeout: 2 * time.Minute}
	for k := range Nodes {
		p := rig.PublicAddr(k)
		fmt.Fprintf(&public, "%s %s\n", p, rig.Iface())
		addrs = append(addrs, p.Addr())
		opts.Addrs = append(opts.Addrs, rig.PrivateAddr(k))
		opts.Netns = append(opts.Netns, rig.NodeNS(k))
	}
	opts.PublicAddresses = public.String()
	cfg.Log.Info("starting the cluster", "dir", dir, "rig", rig.ID())
	cl, err := localcluster.Up(ctx, opts)
	if cl != nil {
		defer cl.Down(context.Background())
	}
	if err != nil {
		return nil, fmt.Errorf("chaos: start cluster (logs kept in %s): %w", dir, err)
	}
	var sockets, logs []string
	for k := range Nodes {
		sockets = append(sockets, cl.Socket(uint32(k)))
		logs = append(logs, filepath.Join(cl.Nodes[k].Dir, "log.ctdb"))
	}

	watch := rig.WatchOverlaps(100*time.Millisecond, addrs...)
	mctx, stopMonitor := context.WithCancel(ctx)
	mon := startMonitor(mctx, sockets, 250*time.Millisecond)
	hist := NewHistory()
	clients := startClients(ctx, cfg, sockets, hist)

	target := &rigTarget{rig: rig, c: cl}
	var downs []downtime
	for _, f := range schedule {
		if ctx.Err() != nil {
			break
		}
		injected := time.Now()
		v := runCycle(ctx, cfg, target, cl, f, &rep.Bans)
		if f.Kind == FaultKill || f.Kind == FaultRestart {
			downs = append(downs, downtime{node: f.Nodes[0], from: injected, to: time.Now()})
		}
		if v != nil {
			rep.Violations = append(rep.Violations, *v)
			break
		}
		rep.Cycles++
		if !sleepCtx(ctx, cfg.Settle) {
			break
		}
	}

	clients.stop()
	stopMonitor()
	samples := mon.wait()
	overlaps, werr := watch.Stop()
	if err := cl.Down(context.Background()); err != nil {
		cfg.Log.Warn("stop the cluster", "err", err)
	}
	ops := hist.Ops()

	rep.check(ops, samples, logs, cfg.CheckTimeout)
	for _, o := range overlaps {
		if excused(o, downs) {
			continue
		}
		rep.Violations = append(rep.Violations, Violation{Check: "public-address", Detail: fmt.Sprintf(
			"%s on nodes %v at once from %s (%d samples over %s)", o.Addr, o.Nodes, o.First.UTC().Format("15:04:05.000"), o.Samples, o.Last.Sub(o.First))})
	}
	if werr != nil {
		rep.Violations = append(rep.Violations, Violation{Check: "public-address", Detail: "sampling ended early: " + werr.Error()})
	}
	rep.Duration = time.Since(start).Round(time.Second)

	for name, v := range map[string]any{"history.json": ops, "samples.json": samples, "report.json": rep} {
		if err := saveJSON(filepath.Join(dir, name), v); err != nil {
			return rep, fmt.Errorf("chaos: %w", err)
		}
	}
	if len(rep.Violations) == 0 && !cfg.Keep {
		// Stop the daemons before removing their files (Down above already did).
		os.RemoveAll(dir)
		rep.Dir = ""
	}
	return rep, nil
}

// runCycle injects f, holds it, heals it and waits until every node sees
// every node OK. A cluster that does not heal is a violation.
func runCycle(ctx context.Context, cfg Config, t Target, cl *localcluster.Cluster, f Fault, bans *[]Ban) *Violation {
	cfg.Log.Info("fault", "cycle", f.Cycle, "fault", f.String())
	heal, err := Inject(t, f, Nodes)
	if err != nil {
		return &Violation{Check: "campaign", Detail: err.Error()}
	}
	sleepCtx(ctx, f.Hold)
	if err := heal(); err != nil {
		return &Violation{Check: "campaign", Detail: fmt.Sprintf("heal %s: %v", f, err)}
	}
	healed := time.Now()
	deadline := healed.Add(cfg.HealTimeout)
	for {
		// In slices, so that a node the cluster banned meanwhile (a node
		// that keeps failing recoveries is banned for 300 s, as in CTDB)
		// is noticed, recorded and unbanned, as an operator would.
		slice := time.Now().Add(10 * time.Second)
		if slice.After(deadline) {
			slice = deadline
		}
		wctx, cancel := context.WithDeadline(ctx, slice)
		err := cl.WaitHealthy(wctx)
		cancel()
		if err == nil {
			break
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return &Violation{Check: "heal", Detail: fmt.Sprintf("after %s the cluster was not whole within %s: %v", f, cfg.HealTimeout, err)}
		}
		for _, b := range unbanAll(ctx, cl) {
			b.Cycle = f.Cycle
			cfg.Log.Warn("a node was banned; unbanning it", "cycle", f.Cycle, "node", b.Node, "by", b.Observer)
			*bans = append(*bans, b)
		}
	}
	cfg.Log.Info("healed", "cycle", f.Cycle, "after", time.Since(healed).Round(time.Millisecond))
	return nil
}

// Ban is a node the cluster banned during the campaign.
type Ban struct {
	Cycle    int `json:"cycle"`
	Node     int `json:"node"`
	Observer int `json:"observer"` // the node whose map showed it
}

// unbanAll lifts every ban a node's map shows (ctdb unban) and returns them.
func unbanAll(ctx context.Context, cl *localcluster.Cluster) []Ban {
	var out []Ban
	for k := range Nodes {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := client.Connect(cctx, cl.Socket(uint32(k)))
		if err != nil {
			cancel()
			continue
		}
		if nm, err := c.GetNodeMap(cctx, protocol.CurrentNode); err == nil {
			for _, n := range nm.Nodes {
				if n.Flags&protocol.NodeFlagBanned != 0 && c.SetBanState(cctx, n.PNN, 0) == nil {
					out = append(out, Ban{Node: int(n.PNN), Observer: k})
				}
			}
		}
		c.Close()
		cancel()
		if len(out) > 0 {
			return out
		}
	}
	return out
}

// sleepCtx waits d, or less if ctx ends; it reports whether ctx is alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	<-wctx.Done()
	return ctx.Err() == nil
}

// rigTarget does faults to a localcluster running in a rig.
type rigTarget struct {
	rig *netrig.Rig
	c   *localcluster.Cluster
}

func (t *rigTarget) Kill(n int) error    { return t.c.Kill(uint32(n)) }
func (t *rigTarget) Start(n int) error   { return t.c.Restart(uint32(n)) }
func (t *rigTarget) Restart(n int) error { return t.c.Restart(uint32(n)) }
func (t *rigTarget) Pause(n int) error   { return t.c.Signal(uint32(n), syscall.SIGSTOP) }
func (t *rigTarget) Resume(n int) error  { return t.c.Signal(uint32(n), syscall.SIGCONT) }

func (t *rigTarget) CutLink(n int) error     { return t.rig.CutLink(n) }
func (t *rigTarget) RestoreLink(n int) error { return t.rig.RestoreLink(n) }

func (t *rigTarget) Blackhole(from, to int) error   { return t.route("add", from, to) }
func (t *rigTarget) Unblackhole(from, to int) error { return t.route("del", from, to) }

func (t *rigTarget) route(verb string, from, to int) error {
	dst := t.rig.PrivateAddr(to).String() + "/32"
	out, err := t.rig.Command(from, "ip", "route", verb, "blackhole", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip route %s blackhole %s in node %d: %w: %s", verb, dst, from, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// downtime is a stretch in which a node's daemon was down (killed, or
// restarting) until the cluster was whole again.
type downtime struct {
	node     int
	from, to time.Time
}

// excused tells whether an overlap involves fewer than two nodes whose
// daemons ran: a dead daemon cannot remove its addresses, and the cluster
// gives a dead node's addresses away at once, as it would a powered-off
// machine's (the kernel drops the stale copy when its lease runs out).
func excused(o netrig.Overlap, downs []downtime) bool {
	live := 0
	for _, n := range o.Nodes {
		down := false
		for _, d := range downs {
			if d.node == n && !o.Last.Before(d.from) && !o.First.After(d.to) {
				down = true
				break
			}
		}
		if !down {
			live++
		}
	}
	return live < 2
}

// check runs the checks of the histories, the samples and the logs.
func (rep *Report) check(ops []Op, samples []Sample, logs []string, timeout time.Duration) {
	rep.Recorded = len(ops)
	for _, op := range ops {
		rep.Results[string(op.Kind)+"/"+string(op.Result)]++
	}
	inactive := inactiveWindows(samples, Nodes)
	regV, regN, lockLost := checkRegisters(ops, inactive, timeout)
	volV, volN := checkVolatile(ops, recoveryWindows(samples))
	rep.Operations, rep.SectionsLockLost = regN+volN, lockLost
	rep.Violations = append(rep.Violations, regV...)
	rep.Violations = append(rep.Violations, volV...)
	rep.Violations = append(rep.Violations, checkInactiveCommits(ops, surelyInactiveWindows(samples, Nodes))...)
	leaderV, err := checkLeaders(logs)
	if err != nil {
		rep.Violations = append(rep.Violations, Violation{Check: "leaders", Detail: err.Error()})
	}
	rep.Violations = append(rep.Violations, leaderV...)
	if len(samples) == 0 {
		rep.Violations = append(rep.Violations, Violation{Check: "monitor", Detail: "no node map was ever sampled"})
	}
}

// Recheck runs the history checks again on a kept run directory (its
// history.json, samples.json, report.json and node logs); the public
// address overlaps are not kept and stay as the run found them.
func Recheck(dir string, timeout time.Duration) (*Report, error) {
	var ops []Op
	var samples []Sample
	var old Report
	for name, v := range map[string]any{"history.json": &ops, "samples.json": &samples, "report.json": &old} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("recheck: %w", err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("recheck %s: %w", name, err)
		}
	}
	rep := &Report{Seed: old.Seed, Cycles: old.Cycles, Dir: dir, Duration: old.Duration, Results: map[string]int{}, Bans: old.Bans}
	var logs []string
	for k := range Nodes {
		logs = append(logs, filepath.Join(dir, "cluster", fmt.Sprintf("node%d", k), "log.ctdb"))
	}
	rep.check(ops, samples, logs, timeout)
	for _, v := range old.Violations {
		if v.Check == "public-address" || v.Check == "heal" || v.Check == "campaign" {
			rep.Violations = append(rep.Violations, v)
		}
	}
	return rep, nil
}
