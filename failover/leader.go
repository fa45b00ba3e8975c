package failover

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// leaseSlack is what the leader adds to a lease before it counts on the
// kernel of a silent node having dropped its addresses: the kernel
// rounds a lease up to whole seconds and checks lifetimes on a timer of
// about a second (failover/linuxhost measures both).
const leaseSlack = 2 * time.Second

// leader runs the takeover runs while its node leads: it computes the
// assignment every node's report and flags call for, and moves addresses
// in two steps, each one Raft commit: first the addresses that move are
// taken from their holders, and only once those let go (or must have: a
// dead node at once, a silent one when its lease ran out) are they given
// to their new holders. It also grants the nodes' leases.
type leader struct {
	m   *Manager
	log *slog.Logger
	// runs wakes the loop for a run; requests queue the callers waiting
	// for one.
	runs chan struct{}

	mu sync.Mutex
	// since is when this node last became leader; grants when the
	// nodes last got a lease from it.
	since  time.Time
	grants map[uint32]time.Time
	// force lists the nodes REBALANCE_NODE named, until a run succeeds;
	// disabledUntil holds runs back (DISABLE_TAKEOVER_RUNS).
	force         []uint32
	disabledUntil time.Time
	waiting       []func(ok bool)
	// requested is set by request until a run took it; moves are the
	// addresses ctdb moveip asked to move, for the next run to carry out
	// instead of an allocation.
	requested bool
	moves     map[netip.Addr]uint32
	// lastInputs are the allocation inputs of the last run: a run starts
	// when they change, when asked for, or when an address needs a holder.
	lastInputs string
}

func newLeader(m *Manager) *leader {
	return &leader{m: m, log: m.log, runs: make(chan struct{}, 1), grants: map[uint32]time.Time{}, moves: map[netip.Addr]uint32{}}
}

// request asks for a run; done, if not nil, hears whether it succeeded.
func (l *leader) request(done func(ok bool)) {
	l.mu.Lock()
	l.requested = true
	if done != nil {
		l.waiting = append(l.waiting, done)
	}
	l.mu.Unlock()
	select {
	case l.runs <- struct{}{}:
	default:
	}
}

// loop runs a takeover whenever this node leads and the state, a link or
// a request may change the assignment.
func (l *leader) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wasLeader := false
	for {
		watch, leaderCh := l.m.raft.Watch(), l.m.raft.LeaderChanged()
		isLeader := l.m.raft.IsLeader() && !l.m.quorum.Inactive()
		if isLeader != wasLeader {
			l.mu.Lock()
			l.since, l.grants, l.lastInputs = time.Now(), map[uint32]time.Time{}, ""
			clear(l.moves)
			l.mu.Unlock()
			wasLeader = isLeader
		}
		var next time.Duration
		if isLeader {
			next = l.run(ctx)
		} else {
			l.answer(false)
		}
		if next > 0 {
			timer.Reset(next)
			l.mu.Lock()
			l.requested = true // what waits is finished by a run
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			l.answer(false)
			return
		case <-watch:
		case <-leaderCh:
		case <-l.runs:
		case <-l.m.links:
		case <-timer.C:
		}
	}
}

// answer tells the callers waiting for a run how it went.
func (l *leader) answer(ok bool) {
	l.mu.Lock()
	waiting := l.waiting
	l.waiting = nil
	l.mu.Unlock()
	for _, f := range waiting {
		f(ok)
	}
}

// run does one takeover run, if one is due, and returns when to run again
// (0: on the next event). A run is due when the allocation's inputs
// (node flags, members, reports) changed, when an address needs a holder
// it can have, or when asked for (ctdb ipreallocate, moveip, addip); not
// at every change of the state, so that an address moveip placed stays
// until something calls for a run, as in 4.17.
func (l *leader) run(ctx context.Context) time.Duration {
	st, _ := l.m.raft.Current()
	l.mu.Lock()
	disabled := time.Until(l.disabledUntil)
	force := slices.Clone(l.force)
	moves := maps.Clone(l.moves)
	inputs := allocationInputs(st, l.m.cfg.Self)
	due := l.requested || inputs != l.lastInputs || len(moves) > 0
	l.mu.Unlock()
	if disabled > 0 {
		return disabled
	}
	if !st.Initialized() || len(st.PublicAddrs) == 0 && len(st.IPAssign) == 0 {
		l.finished(true, inputs, nil)
		return 0
	}
	want, err := Desired(st, l.m.cfg.Self, force)
	if err != nil {
		l.log.Error("cannot allocate the public addresses", "err", err)
		l.answer(false)
		return time.Second
	}
	if !due && !needsHolder(st, want.Assign) {
		return 0
	}
	if len(moves) > 0 {
		// moveip moves its addresses and nothing else.
		want = Want{Assign: maps.Clone(st.IPAssign)}
		if want.Assign == nil {
			want.Assign = map[string]uint32{}
		}
		for a, to := range moves {
			if canHold(st, to) && hostable(st, to, a) {
				want.Assign[a.String()] = to
			}
		}
	}
	if maps.Equal(want.Assign, st.IPAssign) {
		l.finished(true, inputs, moves)
		return 0
	}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next, err := l.move(rctx, st, want)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("takeover run failed; retrying", "err", err)
			l.m.met.runFailures.Inc()
		}
		return 200 * time.Millisecond
	}
	l.m.met.runs.Inc()
	l.m.met.runDuration.UpdateDuration(start)
	for _, a := range want.Unhosted {
		l.log.Warn(fmt.Sprintf("Failed to find node to cover ip %s", a))
	}
	if next == 0 {
		l.finished(true, inputs, moves)
	}
	return next
}

// needsHolder reports whether an address lacks the holder the allocation
// gives it because its holder cannot keep it or it has none: such a run
// is due whatever else changed.
func needsHolder(st *raftlayer.State, want map[string]uint32) bool {
	can := hostables(st)
	for a, p := range st.IPAssign {
		addr, err := netip.ParseAddr(a)
		if err != nil || !canHold(st, p) || !can[p][addr] {
			return true
		}
	}
	for a := range want {
		if _, held := st.IPAssign[a]; !held {
			return true
		}
	}
	return false
}

// allocationInputs summarises what an allocation depends on besides the
// assignment: the leader's tunables, every node's flags, membership and
// report.
func allocationInputs(st *raftlayer.State, leader uint32) string {
	var b strings.Builder
	t := st.TunablesOf(leader)
	fmt.Fprintf(&b, "%d/%d/%d;", t.IPAllocAlgorithm, t.NoIPTakeover, t.NoIPFailback)
	for i := range st.Nodes {
		p := uint32(i)
		fmt.Fprintf(&b, "%d:%x:%v:%v;", p, st.Flags(p), st.View.IsMember(p, st.Nodes[i].Incarnation), st.PublicAddrs[p])
	}
	return b.String()
}

// finished records a completed run: its inputs, and the moves and
// rebalance requests it carried out.
func (l *leader) finished(ok bool, inputs string, moves map[netip.Addr]uint32) {
	l.mu.Lock()
	l.requested, l.lastInputs, l.force = false, inputs, nil
	for a, to := range moves {
		if l.moves[a] == to {
			delete(l.moves, a)
		}
	}
	l.mu.Unlock()
	l.answer(ok)
}

// hostable reports whether node pnn lists a with an interface up.
func hostable(st *raftlayer.State, pnn uint32, a netip.Addr) bool {
	r := st.PublicAddrs[pnn]
	pa, ok := r.Find(a)
	return ok && anyLinkUp(pa, r)
}

// hostables is hostable for every node and address at once, reading each
// report once (a run looks at every assigned address).
func hostables(st *raftlayer.State) map[uint32]map[netip.Addr]bool {
	out := make(map[uint32]map[netip.Addr]bool, len(st.PublicAddrs))
	for pnn, r := range st.PublicAddrs {
		set := make(map[netip.Addr]bool, len(r.Addrs))
		for _, pa := range r.Addrs {
			p, err := netip.ParsePrefix(pa.Prefix)
			if _, seen := set[p.Addr()]; err != nil || seen {
				continue // Find answers with the first entry of an address
			}
			set[p.Addr()] = anyLinkUp(pa, r)
		}
		out[pnn] = set
	}
	return out
}

// anyLinkUp reports whether one of pa's interfaces is up in report r.
func anyLinkUp(pa raftlayer.PublicAddr, r raftlayer.NodeAddresses) bool {
	for _, i := range pa.Ifaces {
		if !slices.Contains(r.LinksDown, i) {
			return true
		}
	}
	return false
}

// move carries the assignment from st's to want in two steps. Addresses
// whose old holder cannot be shown to have let go yet stay unassigned,
// and move returns when to try again.
func (l *leader) move(ctx context.Context, st *raftlayer.State, want Want) (time.Duration, error) {
	release, moved := Steps(st.IPAssign, want.Assign)
	seq := st.IPSeq
	if len(moved) > 0 {
		if _, err := l.m.raft.Apply(ctx, &raftlayer.CmdAssignIPs{Assign: release, PrevSeq: seq}); err != nil {
			return 0, fmt.Errorf("release %d addresses: %w", len(moved), err)
		}
		seq++
	}
	// The nodes that must have let go first: the old holders of what
	// moves, and, when the state shows addresses without a holder, every
	// node. Such an address may still be on a node that has not
	// reconciled its release (it resumed, or its link came back, before
	// its lease ran out: it is connected again, but until it confirms it
	// may still carry the address), or on a silent node under an
	// assignment this leader did not see.
	holders := map[uint32]bool{}
	for _, p := range moved {
		holders[p] = true
	}
	fresh := false
	for a := range want.Assign {
		if _, assigned := st.IPAssign[a]; !assigned {
			fresh = true
		}
	}
	if fresh {
		for q, n := range st.Nodes {
			if !n.Deleted {
				holders[uint32(q)] = true
			}
		}
	}
	// Per node, until when it may still hold addresses.
	notYet, retry := l.released(ctx, holders, seq)
	final := maps.Clone(want.Assign)
	for a, p := range moved {
		if until, wait := notYet[p]; wait {
			delete(final, a)
			l.log.Info("address waits for its unreachable holder's lease to run out", "addr", a, "pnn", p, "until", until.Format(time.RFC3339Nano))
		}
	}
	for a, p := range final {
		if _, assigned := st.IPAssign[a]; assigned {
			continue
		}
		for q, until := range notYet {
			if q != p {
				delete(final, a)
				l.log.Info("address waits until every node has let it go", "addr", a, "pnn", q, "until", until.Format(time.RFC3339Nano))
				break
			}
		}
	}
	if !maps.Equal(final, release) {
		if _, err := l.m.raft.Apply(ctx, &raftlayer.CmdAssignIPs{Assign: final, PrevSeq: seq}); err != nil {
			return 0, fmt.Errorf("assign %d addresses: %w", len(final), err)
		}
		for _, mv := range want.Moves {
			if final[mv.Addr.String()] == mv.To {
				l.log.Info("takeover run: " + mv.String())
			}
		}
	}
	return retry, nil
}

// released waits until the connected old holders reconciled assignment
// seq; for those out of reach it returns, per node, the time until which
// it may still hold addresses, and when to look again.
func (l *leader) released(ctx context.Context, holders map[uint32]bool, seq uint64) (map[uint32]time.Time, time.Duration) {
	notYet := map[uint32]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var retry time.Duration
	for p := range holders {
		wg.Go(func() {
			until, err := l.releasedBy(ctx, p, seq)
			if err != nil {
				mu.Lock()
				notYet[p] = until
				if d := time.Until(until); d > retry {
					retry = d
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if retry > 0 {
		retry += 10 * time.Millisecond
	}
	return notYet, retry
}

// probingRetry is how soon a run looks again at a node whose link went
// down while the transport finds out whether its daemon is gone.
const probingRetry = 100 * time.Millisecond

// errHolds marks a node that may still hold its addresses.
var errHolds = errors.New("may still hold its addresses")

// releasedBy returns nil once node p has let go of what assignment seq
// took from it: at once if its daemon is gone, when it confirms if it is
// reachable, and when its lease must have run out if it is silent; until
// then errHolds and the time it may hold them until.
func (l *leader) releasedBy(ctx context.Context, p uint32, seq uint64) (time.Time, error) {
	if p == l.m.cfg.Self {
		return time.Time{}, l.m.node.reconciled.Wait(ctx, seq, "reconciled public IP assignment")
	}
	if l.m.tr.Connected(p) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := l.m.rpc.Call(cctx, p, noderpc.OpFailoverReleased, binary.LittleEndian.AppendUint64(nil, seq)); err == nil {
			return time.Time{}, nil
		}
	}
	dep, _ := l.m.tr.Departed(p)
	switch {
	case dep == transport.Gone:
		return time.Time{}, nil
	case l.m.cfg.Lease <= 0:
		// Without leases nothing bounds how long a silent node keeps its
		// addresses; like ctdbd, take them over once it is declared dead.
		return time.Time{}, nil
	case dep == transport.Probing:
		return time.Now().Add(probingRetry), errHolds
	}
	until := l.holdsUntil(p)
	if time.Now().After(until) {
		return time.Time{}, nil
	}
	return until, errHolds
}

// holdsUntil is when node p's lease must have run out: its last grant
// from this leader, or for a node this leader never granted, any grant of
// the leader before it (no later than a moment after this one took over),
// plus the lease and the kernel's slack.
func (l *leader) holdsUntil(p uint32) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, ok := l.grants[p]
	if !ok {
		last = l.since.Add(time.Second)
	}
	return last.Add(l.m.cfg.Lease + leaseSlack)
}

// grant gives node p a lease on what it is assigned, and returns its
// length. Only the leader grants, only to a node it reaches, and only once
// a quorum confirmed it still leads: a deposed leader that resumes after
// a SIGSTOP, or is cut off, must not grant itself or anyone a lease while
// the new leader gives their addresses away.
func (l *leader) grant(ctx context.Context, p uint32) (time.Duration, uint64, error) {
	if !l.m.raft.IsLeader() || l.m.quorum.Inactive() {
		return 0, 0, errors.New("failover lease: not the leader")
	}
	if p != l.m.cfg.Self && !l.m.tr.Connected(p) {
		return 0, 0, fmt.Errorf("failover lease: node %d is not connected", p)
	}
	if err := l.m.raft.VerifyLeader(ctx); err != nil {
		return 0, 0, fmt.Errorf("failover lease: %w", err)
	}
	l.mu.Lock()
	l.grants[p] = time.Now()
	l.mu.Unlock()
	st, _ := l.m.raft.Current()
	return l.m.cfg.Lease, st.IPSeq, nil
}

// serveLease answers a node's lease request (OpFailoverLease).
func (l *leader) serveLease(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	d, seq, err := l.grant(ctx, from)
	if err != nil {
		return nil, err
	}
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint32(nil, uint32(d/time.Millisecond)), seq), nil
}

// serveMove moves an address to a node on request (OpFailoverMove, from
// ctdb moveip through TAKEOVER_IP on the new holder).
func (l *leader) serveMove(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	if len(data) != protocol.SockAddrSize+4 {
		return nil, fmt.Errorf("failover move: %d bytes", len(data))
	}
	sa, err := protocol.DecodeSockAddr(data)
	if err != nil {
		return nil, err
	}
	to := binary.LittleEndian.Uint32(data[protocol.SockAddrSize:])
	return nil, l.moveIP(ctx, sa.Addr.Unmap(), to)
}

// moveIP moves address a to node to (ctdb moveip) in a run of its own,
// two steps like any, and returns once it is done.
func (l *leader) moveIP(ctx context.Context, a netip.Addr, to uint32) error {
	if !l.m.raft.IsLeader() {
		return errors.New("failover move: not the leader")
	}
	st, _ := l.m.raft.Current()
	if !canHold(st, to) || !hostable(st, to, a) {
		return fmt.Errorf("node %d cannot host %s", to, a)
	}
	done := make(chan bool, 1)
	l.mu.Lock()
	l.moves[a] = to
	l.mu.Unlock()
	l.request(func(ok bool) { done <- ok })
	select {
	case ok := <-done:
		if !ok {
			return fmt.Errorf("move %s to node %d: the takeover run failed", a, to)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
