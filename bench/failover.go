package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// Public-IP failover after a node is killed. A fresh cluster with public
// addresses on its nodes' interfaces starts; the run measures how long
// after every node is OK each address is on exactly one node, spread
// evenly; a tiny TCP listener on every node answers with its node number;
// the client connects to every address once (the neighbour entries a
// real client would have); then the daemon of the holder of one address
// A (the leader, or a node that is not the leader) is killed with SIGKILL
// and its listener closed, as its services would die with it. Measured:
// the time from the kill until A is on a survivor's interface, and until
// a TCP connect from the client to A succeeds on a survivor. Checked: in
// the end every address is on exactly one survivor and answers there, and
// sampling every 10 ms never saw an address on two live nodes.

// FailoverNet is the network a failover cluster runs in: the nodes'
// interfaces, listeners inside the nodes' network namespaces, and the
// client's side.
type FailoverNet interface {
	// Placement lists, for each of addrs, the nodes (ascending) that
	// have it on an interface.
	Placement(addrs []netip.Addr) (map[netip.Addr][]int, error)
	// Listen listens on port of every address of node k.
	Listen(k int, port uint16) (net.Listener, error)
	// Dial connects from the client to addr within timeout.
	Dial(addr netip.AddrPort, timeout time.Duration) (net.Conn, error)
}

// FailoverCluster is a cluster the failover workload starts and kills a
// node of. The Target's sockets need not exist before Start.
type FailoverCluster struct {
	Target
	Net FailoverNet
	// Addrs are the public addresses every node lists.
	Addrs []netip.Addr
	// Start launches the daemons; it may return before they are up.
	Start func(ctx context.Context) error
	// Kill sends SIGKILL to node pnn's daemon and returns at once.
	Kill func(pnn uint32) error
	// HoldsRecoveries says that the daemon starts no recovery within its
	// RerecoveryTimeout of the last one (ctdbd): the run then waits for
	// that to pass before the kill, so that it measures the failover and
	// not that hold (rctdb accepts the tunable but holds nothing back).
	HoldsRecoveries bool
	// LastHoldStart, if set, tells when that hold last began; without it
	// the run counts from the end of the last recovery a node reports,
	// plus 5 s.
	LastHoldStart func() (time.Time, error)
}

// FailoverParams configure the failover workload.
type FailoverParams struct {
	// KillLeader kills the holder of the leader's address; by default
	// the holder of an address of the last node that is not the leader.
	KillLeader bool
	// Port the listeners answer on (default 4445).
	Port uint16
	// Quiet is how long the addresses must have been balanced, and the
	// client's neighbour entries settled, before the kill (default 1.5 s:
	// the kernel ignores a change of a neighbour entry within a second of
	// the last).
	Quiet time.Duration
	// Timeout bounds each wait: for the cluster to be up and balanced, and
	// for the address to answer after the kill (default 60 s).
	Timeout time.Duration
	// Poll is the interval between two looks (default 5 ms).
	Poll time.Duration
	// Log receives progress (nil: none).
	Log *slog.Logger
}

func (p *FailoverParams) defaults() {
	if p.Port == 0 {
		p.Port = 4445
	}
	if p.Quiet <= 0 {
		p.Quiet = 1500 * time.Millisecond
	}
	if p.Timeout <= 0 {
		p.Timeout = time.Minute
	}
	if p.Poll <= 0 {
		p.Poll = 5 * time.Millisecond
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
}

// Verdict is how a run of a failover or health workload ended: Err says
// why it could not complete, Failed which check did not hold; Checks say
// what was verified.
type Verdict struct {
	Checks []string `json:"checks,omitempty"`
	Failed string   `json:"failed,omitempty"`
	Err    string   `json:"err,omitempty"`
}

// OK reports whether the run completed and passed its checks.
func (v *Verdict) OK() bool { return v.Err == "" && v.Failed == "" }

// fail records a check that did not hold.
func (v *Verdict) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if v.Failed == "" {
		v.Failed = msg
	} else {
		v.Failed += "; " + msg
	}
}

// status is the verdict in a word or a line, for a run's report.
func (v *Verdict) status() string {
	switch {
	case v.Err != "":
		return "ERROR: " + v.Err
	case v.Failed != "":
		return "CHECK FAILED: " + v.Failed
	}
	return "ok"
}

// FailoverOutcome is one run of the failover workload.
type FailoverOutcome struct {
	Target     string `json:"target"`
	KillLeader bool   `json:"kill_leader"`
	Nodes      int    `json:"nodes"`
	Addresses  int    `json:"addresses"`
	// AllOK: start until every node is RUNNING, out of recovery and sees
	// every node OK. Balanced: from then until every address is on
	// exactly one node, spread evenly.
	AllOK    time.Duration `json:"all_ok"`
	Balanced time.Duration `json:"balanced"`
	// Leader before the kill; Victim the node killed; Addr its address
	// that is measured.
	Leader uint32 `json:"leader"`
	Victim uint32 `json:"victim"`
	Addr   string `json:"addr"`
	// Settle is how long the run waited between balance and kill.
	Settle time.Duration `json:"settle"`
	// OnSurvivor: kill until Addr is on a survivor's interface. Answered:
	// kill until a TCP connect to Addr succeeded on a survivor, after
	// Attempts connects; AnsweredBy is that survivor.
	OnSurvivor time.Duration `json:"on_survivor"`
	Answered   time.Duration `json:"answered"`
	AnsweredBy int           `json:"answered_by"`
	Attempts   int           `json:"attempts"`
	// Overlaps are the samples that found an address on two live nodes.
	Overlaps []string `json:"overlaps,omitempty"`
	Verdict
}

// Failover starts the cluster and runs the failover workload once. The
// cluster is of no further use afterwards; the caller stops it.
func Failover(ctx context.Context, c FailoverCluster, p FailoverParams) FailoverOutcome {
	p.defaults()
	o := FailoverOutcome{Target: c.Name, KillLeader: p.KillLeader, Nodes: len(c.Sockets), Addresses: len(c.Addrs),
		Leader: protocol.UnknownPNN, Victim: protocol.UnknownPNN, AnsweredBy: -1}
	r := &failoverRun{c: c, p: p, o: &o, admins: make([]*client.Client, len(c.Sockets)), dead: -1}
	if err := r.run(ctx); err != nil {
		o.Err = err.Error()
	}
	return o
}

// failoverRun is the state of one run; only Failover's goroutine uses it,
// except dead, which the overlap sampler reads.
type failoverRun struct {
	c         FailoverCluster
	p         FailoverParams
	o         *FailoverOutcome
	admins    []*client.Client // one per node, connected when its socket answers
	listeners []net.Listener
	serving   sync.WaitGroup

	mu sync.Mutex
	// dead is the node killed (-1: none yet): the sampler no longer
	// counts what its interfaces still carry.
	dead int
}

func (r *failoverRun) run(ctx context.Context) error {
	if len(r.c.Sockets) < 2 || len(r.c.Addrs) < len(r.c.Sockets) {
		return fmt.Errorf("failover: %d nodes and %d addresses; want at least two nodes and an address per node", len(r.c.Sockets), len(r.c.Addrs))
	}
	defer r.closeAdmins()
	if err := r.listen(); err != nil {
		return err
	}
	defer r.stopListening()
	balancedAt, err := r.startBalanced(ctx)
	if err != nil {
		return err
	}
	sampler := sampleOverlaps(r.c.Net, r.c.Addrs, r.deadNode)
	defer sampler.stop()
	a, err := r.chooseVictim(ctx)
	if err != nil {
		return err
	}
	if err := r.settle(ctx, balancedAt); err != nil {
		return err
	}
	if err := r.killAndWait(ctx, a); err != nil {
		return err
	}
	if err := r.checkEnd(ctx, a); err != nil {
		return err
	}
	r.o.Overlaps = sampler.judge(&r.o.Verdict, "live nodes")
	return nil
}

// listen starts a listener on every node that answers each connection
// with the node's number.
func (r *failoverRun) listen() error {
	for k := range r.c.Sockets {
		ln, err := r.c.Net.Listen(k, r.p.Port)
		if err != nil {
			return fmt.Errorf("failover: listener on node %d: %w", k, err)
		}
		r.listeners = append(r.listeners, ln)
		r.serving.Go(func() { serveNodeNumber(ln, k) })
	}
	return nil
}

// serveNodeNumber answers every connection with "k\n" until ln is closed.
func serveNodeNumber(ln net.Listener, k int) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(conn, "%d\n", k)
		conn.Close()
	}
}

func (r *failoverRun) stopListening() {
	for _, ln := range r.listeners {
		ln.Close()
	}
	r.serving.Wait()
}

func (r *failoverRun) closeAdmins() {
	for i, c := range r.admins {
		if c != nil {
			c.Close()
			r.admins[i] = nil
		}
	}
}

// admin returns node k's admin client, connecting it if needed.
func (r *failoverRun) admin(ctx context.Context, k int) (*client.Client, error) {
	if c := r.admins[k]; c != nil {
		select {
		case <-c.Done():
			c.Close()
			r.admins[k] = nil
		default:
			return c, nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := client.Connect(cctx, r.c.Sockets[k])
	if err != nil {
		return nil, err
	}
	r.admins[k] = c
	return c, nil
}

// startBalanced starts the cluster and measures, on one timeline, when
// every node is OK and when the addresses are balanced after that.
func (r *failoverRun) startBalanced(ctx context.Context) (time.Time, error) {
	started := time.Now()
	if err := r.c.Start(ctx); err != nil {
		return time.Time{}, fmt.Errorf("failover: start %s: %w", r.c.Name, err)
	}
	deadline := started.Add(r.p.Timeout)
	var okAt time.Time
	var last error
	for {
		now := time.Now()
		if okAt.IsZero() {
			if last = r.allOK(ctx); last == nil {
				okAt = now
				r.o.AllOK = okAt.Sub(started)
			}
		}
		if !okAt.IsZero() {
			if _, last = r.balanced(); last == nil {
				r.o.Balanced = now.Sub(okAt)
				r.p.Log.Info("failover: balanced", "target", r.c.Name, "all OK after", r.o.AllOK.Round(time.Millisecond),
					"balanced after", r.o.Balanced.Round(time.Millisecond))
				return now, nil
			}
		}
		if now.After(deadline) {
			what := "every node OK"
			if !okAt.IsZero() {
				what = "the addresses balanced"
			}
			return time.Time{}, fmt.Errorf("failover: %s not within %v of the start: %v", what, r.p.Timeout, last)
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return time.Time{}, err
		}
	}
}

// allOK checks that every node is RUNNING, out of recovery, in a valid
// generation and sees every node with no flag.
func (r *failoverRun) allOK(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for k := range r.c.Sockets {
		c, err := r.admin(ctx, k)
		if err != nil {
			return fmt.Errorf("node %d: %w", k, err)
		}
		if rs, err := c.GetRunstate(ctx, protocol.CurrentNode); err != nil || rs != protocol.RunstateRunning {
			return fmt.Errorf("node %d: runstate %v %v", k, rs, err)
		}
		if vm, err := c.GetVNNMap(ctx, protocol.CurrentNode); err != nil || vm.Generation == protocol.InvalidGeneration {
			return fmt.Errorf("node %d: no valid generation (%v)", k, err)
		}
		if m, err := c.GetRecMode(ctx, protocol.CurrentNode); err != nil || m != protocol.RecoveryNormal {
			return fmt.Errorf("node %d: in recovery (%v)", k, err)
		}
		nm, err := c.GetNodeMap(ctx, protocol.CurrentNode)
		if err != nil {
			return fmt.Errorf("node %d: node map: %w", k, err)
		}
		if len(nm.Nodes) != len(r.c.Sockets) {
			return fmt.Errorf("node %d sees %d nodes", k, len(nm.Nodes))
		}
		for _, n := range nm.Nodes {
			if n.Flags != 0 {
				return fmt.Errorf("node %d sees node %d %s", k, n.PNN, protocol.NodeFlagsString(n.Flags))
			}
		}
	}
	return nil
}

// waitAllOK waits until allOK holds, up to deadline. A recovery that
// starts at the end (the real ctdbd's, when its leader's broadcasts come
// late on a loaded machine) passes once it is over; a node that stays out
// of order fails.
func (r *failoverRun) waitAllOK(ctx context.Context, deadline time.Time) error {
	for {
		err := r.allOK(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
}

// balanced returns each address's holder if every address is on exactly
// one node and no node has more than its even share.
func (r *failoverRun) balanced() (map[netip.Addr]int, error) {
	pl, err := r.c.Net.Placement(r.c.Addrs)
	if err != nil {
		return nil, err
	}
	holders := map[netip.Addr]int{}
	per := map[int]int{}
	for _, a := range r.c.Addrs {
		on := pl[a]
		if len(on) != 1 {
			return nil, fmt.Errorf("%s is on nodes %v", a, on)
		}
		holders[a] = on[0]
		per[on[0]]++
	}
	share := (len(r.c.Addrs) + len(r.c.Sockets) - 1) / len(r.c.Sockets)
	for k, n := range per {
		if n > share {
			return nil, fmt.Errorf("node %d has %d of %d addresses", k, n, len(r.c.Addrs))
		}
	}
	return holders, nil
}

// leader asks node k for the leader (its next leader broadcast).
func (r *failoverRun) leader(ctx context.Context, k int) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := r.admin(ctx, k)
	if err != nil {
		return 0, fmt.Errorf("failover: leader seen by node %d: %w", k, err)
	}
	l, err := c.WaitLeader(ctx)
	switch {
	case err != nil:
	case l == protocol.UnknownPNN:
		err = errors.New("only elections heard")
	case int(l) >= len(r.c.Sockets):
		err = fmt.Errorf("leader %d is not a node of the cluster", l)
	}
	if err != nil {
		return 0, fmt.Errorf("failover: leader seen by node %d: %w", k, err)
	}
	return l, nil
}

// chooseVictim picks the address to follow and the node to kill: the
// leader's address, or the address of the last node that is not the
// leader; it checks that every address answers on its holder (which also
// gives the client the neighbour entries a real client would have).
func (r *failoverRun) chooseVictim(ctx context.Context) (netip.Addr, error) {
	l, err := r.leader(ctx, 0)
	if err != nil {
		return netip.Addr{}, err
	}
	r.o.Leader = l
	holders, err := r.balanced()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("failover: no longer balanced: %w", err)
	}
	victim := -1
	for k := len(r.c.Sockets) - 1; k >= 0; k-- {
		if (uint32(k) == l) == r.p.KillLeader {
			victim = k
			break
		}
	}
	var a netip.Addr
	for _, addr := range r.c.Addrs {
		if holders[addr] == victim {
			a = addr
			break
		}
	}
	if !a.IsValid() {
		return netip.Addr{}, fmt.Errorf("failover: node %d (leader %d) holds no address: %v", victim, l, holders)
	}
	r.o.Victim, r.o.Addr = uint32(victim), a.String()
	for _, addr := range r.c.Addrs {
		if err := r.answersOn(addr, holders[addr], 5*time.Second); err != nil {
			return netip.Addr{}, fmt.Errorf("failover: before the kill: %w", err)
		}
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("before the kill every address answered on its holder %v", fmtHolders(holders)))
	return a, nil
}

// answersOn waits until a TCP connect to a answers on node k.
func (r *failoverRun) answersOn(a netip.Addr, k int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		by, err := r.ask(a, 200*time.Millisecond)
		if err == nil && by == k {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("answered by node %d", by)
			}
			return fmt.Errorf("%s does not answer on node %d: %w", a, k, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ask connects to a's listener port and returns the node that answered.
func (r *failoverRun) ask(a netip.Addr, timeout time.Duration) (int, error) {
	conn, err := r.c.Net.Dial(netip.AddrPortFrom(a, r.p.Port), timeout)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return -1, fmt.Errorf("read from %s: %w", a, err)
	}
	k, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return -1, fmt.Errorf("answer %q from %s", line, a)
	}
	return k, nil
}
