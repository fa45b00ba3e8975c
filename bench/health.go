package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// A node's service dies while its daemon lives. A fresh cluster starts
// with every node running its own smbd under the daemon's event scripts
// (Debian's 50.samba starts it and monitors it); once every public
// address answers SMB and the monitor cadence of the node chosen has
// reached MonitorInterval, that node's smbd is killed with SIGKILL right
// after one of its monitors ended. Measured from the kill: (a) until every
// node shows the node UNHEALTHY, (b) until the address it held answers SMB
// on another node. Then, right after its next monitor ended, smbd is
// started again as an administrator would, and measured from then: (c)
// until every node shows the node healthy, (d) until it holds a public
// address again. The monitors' own times (from the node's event daemon)
// split (a) and (c) into waiting for the monitor, the monitor's run, and
// the daemons' reaction. Checked: no address on two nodes at any 10 ms
// sample, at the end every address on exactly one node and answering SMB
// there, smbd running on every node.

// MonitorRun is a node's last completed monitor event, as its event
// daemon keeps it (`ctdb event status legacy monitor`).
type MonitorRun struct {
	Begin, End time.Time
	OK         bool
	// Failure is the failing script and what it said ("" if OK).
	Failure string
	// Scripts is how long each script ran ("00.ctdb 12ms, ...").
	Scripts string
}

// HealthCluster is a cluster the health workload starts and whose nodes'
// smbd it kills and starts. The Target's sockets need not exist before
// Start.
type HealthCluster struct {
	Target
	Net FailoverNet
	// Addrs are the public addresses every node lists.
	Addrs []netip.Addr
	// Start launches the daemons; it may return before they are up.
	Start func(ctx context.Context) error
	// LastMonitor reads node k's last completed monitor event (a zero
	// MonitorRun if none completed yet).
	LastMonitor func(ctx context.Context, k int) (MonitorRun, error)
	// KillSMB kills node k's smbd and all its processes with SIGKILL.
	KillSMB func(k int) error
	// StartSMB starts node k's smbd as an administrator would; it returns
	// when the start command has.
	StartSMB func(ctx context.Context, k int) error
	// SMBRunning says whether node k's smbd runs.
	SMBRunning func(k int) (bool, error)
	// ListShare, if set, lists the share through addr as a real client
	// would; every address is listed before the kill and at the end.
	ListShare func(ctx context.Context, addr netip.Addr) error
}

// HealthParams configure the health workload.
type HealthParams struct {
	// MonitorInterval is set on every node as the tunable (default 15 s,
	// whole seconds).
	MonitorInterval time.Duration
	// SMBPort is where smbd listens (default 445).
	SMBPort uint16
	// Timeout bounds each wait beyond what the monitor cadence needs
	// (default 60 s).
	Timeout time.Duration
	// Poll is the interval between two looks (default 20 ms).
	Poll time.Duration
	// Log receives progress (nil: none).
	Log *slog.Logger
}

func (p *HealthParams) defaults() {
	if p.MonitorInterval <= 0 {
		p.MonitorInterval = 15 * time.Second
	}
	p.MonitorInterval = max(p.MonitorInterval.Round(time.Second), time.Second)
	if p.SMBPort == 0 {
		p.SMBPort = 445
	}
	if p.Timeout <= 0 {
		p.Timeout = time.Minute
	}
	if p.Poll <= 0 {
		p.Poll = 20 * time.Millisecond
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
}

// HealthOutcome is one run of the health workload.
type HealthOutcome struct {
	Target          string        `json:"target"`
	Nodes           int           `json:"nodes"`
	Addresses       int           `json:"addresses"`
	MonitorInterval time.Duration `json:"monitor_interval"`
	// AllOK: start until every node is RUNNING, out of recovery and sees
	// every node OK. Serving: from then until the addresses are balanced
	// and each answers SMB.
	AllOK   time.Duration `json:"all_ok"`
	Serving time.Duration `json:"serving"`
	// Leader before the kill; Victim the node whose smbd was killed; Addr
	// the address it held that is measured.
	Leader uint32 `json:"leader"`
	Victim uint32 `json:"victim"`
	Addr   string `json:"addr"`
	// Settle is how long the run waited between serving and the kill;
	// CadenceGap the pause between the victim's last two monitors then.
	Settle     time.Duration `json:"settle"`
	CadenceGap time.Duration `json:"cadence_gap"`
	// Unhealthy (a): kill until every node showed the victim UNHEALTHY.
	// Answered (b): kill until Addr answered SMB on AnsweredBy, after
	// Attempts NEGOTIATEs.
	Unhealthy  time.Duration `json:"unhealthy"`
	Answered   time.Duration `json:"answered"`
	AnsweredBy int           `json:"answered_by"`
	Attempts   int           `json:"attempts"`
	// The failing monitor: kill until it began, its run, its end until
	// every node showed the victim UNHEALTHY.
	FailPhase    time.Duration `json:"fail_phase"`
	FailRun      time.Duration `json:"fail_run"`
	FailScripts  string        `json:"fail_scripts"`
	FailReaction time.Duration `json:"fail_reaction"`
	// StartCmd is how long smbd's start command took. Healthy (c): start
	// until every node showed the victim healthy. HoldsAgain (d): start
	// until it held a public address.
	StartCmd   time.Duration `json:"start_cmd"`
	Healthy    time.Duration `json:"healthy"`
	HoldsAgain time.Duration `json:"holds_again"`
	// The passing monitor: start until it began, its run, its end until
	// every node showed the victim healthy.
	PassPhase    time.Duration `json:"pass_phase"`
	PassRun      time.Duration `json:"pass_run"`
	PassScripts  string        `json:"pass_scripts"`
	PassReaction time.Duration `json:"pass_reaction"`
	// Overlaps are the samples that found an address on two nodes.
	Overlaps []string `json:"overlaps,omitempty"`
	// ColdStartFailed: the cluster never had every node OK and the
	// addresses balanced after its start; nothing was measured.
	ColdStartFailed bool `json:"cold_start_failed,omitempty"`
	Verdict
}

// Health starts the cluster and runs the health workload once. The
// cluster is of no further use afterwards; the caller stops it.
func Health(ctx context.Context, c HealthCluster, p HealthParams) HealthOutcome {
	p.defaults()
	o := HealthOutcome{Target: c.Name, Nodes: len(c.Sockets), Addresses: len(c.Addrs), MonitorInterval: p.MonitorInterval,
		Leader: protocol.UnknownPNN, Victim: protocol.UnknownPNN, AnsweredBy: -1}
	fp := FailoverParams{Timeout: p.Timeout, Poll: p.Poll, Log: p.Log}
	fp.defaults()
	fr := &failoverRun{c: FailoverCluster{Target: c.Target, Net: c.Net, Addrs: c.Addrs, Start: c.Start}, p: fp,
		o: &FailoverOutcome{}, admins: make([]*client.Client, len(c.Sockets)), dead: -1}
	r := &healthRun{fr: fr, c: c, p: p, o: &o, smb: smbProber{net: c.Net, port: p.SMBPort}}
	if err := r.run(ctx); err != nil {
		o.Err = err.Error()
	}
	return o
}

// healthRun is the state of one run; only Health's goroutine uses it.
type healthRun struct {
	// fr starts the cluster and reads its nodes and addresses, as the
	// failover workload does; its victim stays -1: no daemon dies.
	fr  *failoverRun
	c   HealthCluster
	p   HealthParams
	o   *HealthOutcome
	smb smbProber
	// tunedAt is when the run began to set the tunables.
	tunedAt time.Time
}

func (r *healthRun) run(ctx context.Context) error {
	if len(r.c.Sockets) < 2 || len(r.c.Addrs) < len(r.c.Sockets) {
		return fmt.Errorf("health: %d nodes and %d addresses; want at least two nodes and an address per node", len(r.c.Sockets), len(r.c.Addrs))
	}
	defer r.fr.closeAdmins()
	balancedAt, err := r.fr.startBalanced(ctx)
	if err != nil {
		r.o.ColdStartFailed = true
		return fmt.Errorf("health: %w", err)
	}
	r.o.AllOK = r.fr.o.AllOK
	okAt := balancedAt.Add(-r.fr.o.Balanced)
	sampler := sampleOverlaps(r.c.Net, r.c.Addrs, func() int { return -1 })
	defer sampler.stop()
	if err := r.setTunables(ctx); err != nil {
		return err
	}
	if err := r.serve(ctx); err != nil {
		return err
	}
	servingAt := time.Now()
	r.o.Serving = servingAt.Sub(okAt)
	a, err := r.chooseVictim(ctx)
	if err != nil {
		return err
	}
	if err := r.settle(ctx, a); err != nil {
		return err
	}
	r.o.Settle = time.Since(servingAt)
	failing, err := r.killAndWatch(ctx, a)
	if err != nil {
		return err
	}
	if err := r.restartAndWatch(ctx, failing); err != nil {
		return err
	}
	if err := r.checkEnd(ctx, a); err != nil {
		return err
	}
	r.o.Overlaps = sampler.judge(&r.o.Verdict, "nodes")
	return nil
}
