package failover

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// announceRounds are the times after a takeover at which the address is
// announced, as 4.17 announces it.
var announceRounds = []time.Duration{0, 1100 * time.Millisecond, 2200 * time.Millisecond}

// held is a public address this node has on an interface.
type held struct {
	iface  string
	prefix netip.Prefix
	// until is the end of the lease last put on the address (zero:
	// none): it is renewed only when a grant moves it, so that a pass
	// woken by the host's report of our own change changes nothing.
	until time.Time
	// stopAnnounce ends the announcement rounds still to come.
	stopAnnounce context.CancelFunc
}

// node makes this host's interfaces carry exactly the public addresses the
// cluster assigned to it, while it may hold them: it releases before it
// takes, renews the kernel leases while the leader grants them, puts back
// an address removed behind its back and removes stale ones. Only its loop
// goroutine touches held.
type node struct {
	m    *Manager
	log  *slog.Logger
	kick chan struct{}
	// ctx ends when the manager stops; announcements run under it.
	ctx context.Context

	held map[netip.Addr]*held

	// reconciled is the assignment sequence number the interfaces match.
	reconciled watch.Index

	mu sync.Mutex
	// addrs is this node's public_addresses; adminDown the interfaces
	// `ctdb setifacelink` marked down.
	addrs     []config.PublicAddress
	adminDown map[string]bool
	// leaseUntil is when the leader's last grant runs out (zero: none);
	// leaseSeq the assignment the leader had applied when it granted it:
	// while this node's own state is older it takes and renews nothing,
	// so that a node back from a freeze or a cut cannot act on what it
	// believed before (see mayHold).
	leaseUntil time.Time
	leaseSeq   uint64
	// report is the report last committed.
	report *raftlayer.NodeAddresses
}

func newNode(m *Manager, addrs []config.PublicAddress) *node {
	return &node{m: m, log: m.log, kick: make(chan struct{}, 1), held: map[netip.Addr]*held{},
		addrs: addrs, adminDown: map[string]bool{}}
}

// wake asks the loop to reconcile now.
func (n *node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// loop reconciles whenever the state, the quorum, the host, the lease or
// the configuration changes, and at every lease renewal.
func (n *node) loop(ctx context.Context) {
	n.ctx = ctx
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		watch, quorum := n.m.raft.Watch(), n.m.quorum.InactiveChanged()
		st, _ := n.m.raft.Current()
		n.reportAddresses(ctx, st)
		next := n.reconcile(st)
		if next > 0 {
			retry.Reset(next)
		}
		select {
		case <-ctx.Done():
			n.releaseAll()
			return
		case <-watch:
		case <-quorum:
		case <-n.m.host.Changes():
		case <-n.m.events.HealthChanged():
		case <-n.kick:
		case <-retry.C:
		}
	}
}

// ifaces lists every interface of this node's public addresses.
func (n *node) ifaces() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.addrs {
		for _, i := range a.Ifaces {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	return out
}

// config returns this node's public addresses.
func (n *node) config() []config.PublicAddress {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.addrs)
}

// linksUp reads the link state of this node's interfaces, with the
// administrator's setifacelink overrides.
func (n *node) linksUp() map[string]bool {
	ifaces := n.ifaces()
	up, err := n.m.host.LinksUp(ifaces)
	if err != nil {
		n.log.Warn("cannot read the interfaces of the public addresses", "err", err)
		up = map[string]bool{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.adminDown {
		up[i] = false
	}
	return up
}

// reportAddresses commits this node's public addresses and link states
// when the replicated state does not show them yet.
func (n *node) reportAddresses(ctx context.Context, st *raftlayer.State) {
	if n.m.cfg.Disabled || n.m.quorum.Inactive() || !st.Initialized() {
		return
	}
	up := n.linksUp()
	var r raftlayer.NodeAddresses
	for _, a := range n.config() {
		r.Addrs = append(r.Addrs, raftlayer.PublicAddr{Prefix: a.Prefix.String(), Ifaces: slices.Clone(a.Ifaces)})
	}
	for _, i := range n.ifaces() {
		if !up[i] {
			r.LinksDown = append(r.LinksDown, i)
		}
	}
	if st.PublicAddrs[n.m.cfg.Self].Equal(r) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := n.m.raft.Apply(cctx, &raftlayer.CmdSetNodeAddresses{PNN: n.m.cfg.Self, Addrs: r}); err != nil {
		n.log.Warn("cannot report this node's public addresses; will retry", "err", err)
		time.AfterFunc(500*time.Millisecond, n.wake)
		return
	}
	n.log.Info("reported this node's public addresses", "addresses", len(r.Addrs), "links_down", r.LinksDown)
}

// holding is what a node may do with its public addresses.
type holding int

const (
	// holdNothing: release every address.
	holdNothing holding = iota
	// holdKept: the lease is valid but names an assignment newer than
	// this node's state (a Raft entry the leader applied and this node has
	// not yet): keep what this run of the daemon put on the interfaces
	// and the state still gives it, unrenewed, and take nothing until the
	// state catches up. Releasing instead would reset every client of
	// this node's addresses whenever a lease reply overtakes a takeover
	// run's commit. Keeping is safe: the leader gives an address away
	// only once its holder confirmed the release (which waits for the
	// state), or its daemon is gone (a new run keeps nothing), or its
	// lease ran out, and then the kernel already dropped it.
	holdKept
	// holdAssigned: carry the addresses the state assigns, renewed.
	holdAssigned
)

// mayHold reports what this node may hold now, and until when (zero:
// without a time limit).
func (n *node) mayHold(st *raftlayer.State) (holding, time.Time) {
	if n.m.cfg.Disabled || n.m.quorum.Inactive() || !canHold(st, n.m.cfg.Self) || !n.m.events.Healthy() {
		return holdNothing, time.Time{}
	}
	if n.m.cfg.Lease <= 0 {
		return holdAssigned, time.Time{}
	}
	n.mu.Lock()
	until, seq := n.leaseUntil, n.leaseSeq
	n.mu.Unlock()
	switch {
	case !time.Now().Before(until):
		return holdNothing, until
	case st.IPSeq < seq:
		return holdKept, until
	}
	return holdAssigned, until
}

// target is where an address should be.
type target struct {
	prefix netip.Prefix
	iface  string
}

// desired computes the addresses this node should carry, on the best
// interface of each: link up, the one it is on if it is up, else the one
// carrying the fewest addresses, the first in file order on ties.
func (n *node) desired(st *raftlayer.State, up map[string]bool) map[netip.Addr]target {
	out := map[netip.Addr]target{}
	refs := map[string]int{}
	conf := map[netip.Addr]config.PublicAddress{}
	for _, c := range n.config() {
		conf[c.Prefix.Addr()] = c
	}
	for _, a := range st.HeldBy(n.m.cfg.Self) {
		pa, ok := conf[a]
		if !ok {
			continue // assigned from a report this node no longer makes
		}
		best := ""
		if h := n.held[a]; h != nil && up[h.iface] && slices.Contains(pa.Ifaces, h.iface) {
			best = h.iface
		}
		for _, i := range pa.Ifaces {
			if best == "" && up[i] || best != "" && up[i] && refs[i] < refs[best] && n.held[a] == nil {
				best = i
			}
		}
		if best == "" {
			continue // no interface up: the leader moves it away
		}
		refs[best]++
		out[a] = target{prefix: pa.Prefix, iface: best}
	}
	return out
}

// reconcile makes the interfaces match the assignment: releases first,
// then takes and lease renewals. It returns when to look again (0: only
// on the next event).
func (n *node) reconcile(st *raftlayer.State) time.Duration {
	up := n.linksUp()
	hold, until := n.mayHold(st)
	want := map[netip.Addr]target{}
	switch hold {
	case holdAssigned:
		want = n.desired(st, up)
	case holdKept:
		for a, t := range n.desired(st, up) {
			if n.held[a] != nil {
				want[a] = t
			}
		}
	}
	observed, err := n.m.host.Addresses(n.ifaces())
	if err != nil {
		n.log.Warn("cannot read the addresses of the public interfaces", "err", err)
		n.m.met.reconcileErrors.Inc()
		return time.Second
	}
	public := map[netip.Addr]bool{}
	for _, a := range n.config() {
		public[a.Prefix.Addr()] = true
	}
	for a := range n.held {
		public[a] = true // deleted from the configuration since: it goes
	}
	// What the interfaces carry of our public addresses. An address this
	// node did not put there (left by an earlier run, or by a script) is
	// adopted, so that it is released or renewed like ours.
	on := map[netip.Addr]target{}
	for iface, ps := range observed {
		for _, p := range ps {
			if public[p.Addr()] {
				on[p.Addr()] = target{prefix: p, iface: iface}
			}
		}
	}
	failed := false
	for a, t := range on {
		w, keep := want[a]
		if keep && w.iface == t.iface {
			continue
		}
		if keep && n.held[a] != nil {
			if err := n.moveIface(a, t, w, until); err != nil {
				n.log.Warn("moving a public address to another interface failed", "addr", a, "from", t.iface, "to", w.iface, "err", err)
				failed = true
			}
			on[a] = w
			continue
		}
		if err := n.release(n.ctx, a, t); err != nil {
			n.log.Warn("release failed", "addr", a, "iface", t.iface, "err", err)
			failed = true
		}
	}
	for a := range n.held {
		if _, still := on[a]; !still {
			n.forget(a)
		}
	}
	if failed {
		n.m.met.reconcileErrors.Inc()
		return 100 * time.Millisecond
	}
	n.reconciled.Advance(st.IPSeq)
	if hold == holdKept {
		// The kept addresses run out on their kernel leases; the state
		// catching up wakes the loop.
		want = nil
	}
	if !until.IsZero() && !time.Now().Before(until) {
		want = nil // the lease ran out during this pass: the next releases
	}
	for a, t := range want {
		_, present := on[a]
		if h := n.held[a]; present && h != nil {
			if h.until.Equal(until) {
				continue
			}
			if err := n.m.host.SetAddress(t.iface, t.prefix, lease(until)); err != nil {
				n.log.Warn("cannot renew the lease of a public address", "addr", t.prefix, "iface", t.iface, "err", err)
				continue
			}
			h.until = until
			continue
		}
		if err := n.take(a, t, until, !present); err != nil {
			n.log.Warn("takeover failed", "addr", t.prefix, "iface", t.iface, "err", err)
			n.m.met.reconcileErrors.Inc()
			failed = true
		}
	}
	n.m.met.held.Set(float64(len(n.held)))
	switch {
	case failed:
		return time.Second
	case !until.IsZero():
		// Drop everything when the lease runs out unrenewed: the kernel
		// does it too, a little later.
		return max(time.Until(until), time.Millisecond)
	}
	return 0
}

// lease is what remains of a lease that runs until until (zero: none).
func lease(until time.Time) time.Duration {
	if until.IsZero() {
		return 0
	}
	return time.Until(until)
}

// eventArgs are the arguments of takeip and releaseip: IFACE IP BITS.
func eventArgs(t target) []string {
	return []string{t.iface, t.prefix.Addr().String(), strconv.Itoa(t.prefix.Bits())}
}

// take puts address a on its interface, announces it and tickles the
// connections its clients had with the previous holder. A new address
// goes through the takeip event first (10.interface adds it; SetAddress
// then only puts the lease on it); one already there is adopted without
// the event, as 4.17 answers a redundant takeover.
func (n *node) take(a netip.Addr, t target, until time.Time, fresh bool) error {
	if fresh {
		if err := n.m.events.RunEvent(n.ctx, "takeip", eventArgs(t)...); err != nil {
			return err
		}
	}
	if err := n.m.host.SetAddress(t.iface, t.prefix, lease(until)); err != nil {
		return err
	}
	tickles := n.m.conns.TakeOver(a)
	h := &held{iface: t.iface, prefix: t.prefix, until: until}
	n.held[a] = h
	n.log.Info(fmt.Sprintf("Takeover of IP %s on interface %s", t.prefix, t.iface))
	n.m.met.takes.Inc()
	ctx, cancel := context.WithCancel(n.ctx)
	h.stopAnnounce = cancel
	n.m.wg.Go(func() { n.announce(ctx, a, t.iface, tickles) })
	n.m.msgs.DeliverLocal(protocol.SrvIDTakeIP, protocol.CString(a.String()))
	return nil
}

// announce announces a taken-over address in 4.17's rounds and, in the
// first, tickles the connections its clients had with the old holder.
func (n *node) announce(ctx context.Context, a netip.Addr, iface string, tickles []protocol.Connection) {
	var last time.Duration
	for i, at := range announceRounds {
		select {
		case <-ctx.Done():
			return
		case <-time.After(at - last):
		}
		last = at
		if err := n.m.host.Announce(iface, a); err != nil {
			n.log.Debug("announce failed", "addr", a, "err", err)
		}
		if i > 0 {
			continue
		}
		for _, c := range tickles {
			src, dst := netip.AddrPortFrom(c.Dst.Addr, c.Dst.Port), netip.AddrPortFrom(c.Src.Addr, c.Src.Port)
			if err := n.m.host.SendTickleACK(src, dst); err != nil {
				n.log.Debug("tickle failed", "conn", c, "err", err)
			}
		}
	}
}

// moveIface moves a held address to another of its interfaces through
// the updateip event (OLD NEW IP BITS); its connections stay.
func (n *node) moveIface(a netip.Addr, from, to target, until time.Time) error {
	if err := n.m.events.RunEvent(n.ctx, "updateip", from.iface, to.iface, a.String(), strconv.Itoa(to.prefix.Bits())); err != nil {
		return err
	}
	if err := n.m.host.DeleteAddress(from.iface, from.prefix); err != nil {
		return err
	}
	if err := n.m.host.SetAddress(to.iface, to.prefix, lease(until)); err != nil {
		return err
	}
	n.log.Info(fmt.Sprintf("Update of IP %s from interface %s to %s", to.prefix, from.iface, to.iface))
	h := n.held[a]
	if h.stopAnnounce != nil {
		h.stopAnnounce()
	}
	ctx, cancel := context.WithCancel(n.ctx)
	h.iface, h.stopAnnounce, h.until = to.iface, cancel, until
	// Its connections stay with it: nothing to tickle.
	n.m.wg.Go(func() { n.announce(ctx, a, to.iface, nil) })
	return nil
}

// release runs the releaseip event (whose verdict 4.17 ignores: what
// counts is that the address is gone), kills the connections to address
// a, takes it off its interface and tells the local clients (smbd drops
// its connections to it).
func (n *node) release(ctx context.Context, a netip.Addr, t target) error {
	n.forget(a)
	if err := n.m.events.RunEvent(ctx, "releaseip", eventArgs(t)...); err != nil {
		n.log.Warn("releaseip event failed", "addr", t.prefix, "iface", t.iface, "err", err)
	}
	if killed, total, err := n.m.host.KillConnections(a); err != nil {
		n.log.Warn("cannot reset the connections of a released address", "addr", a, "err", err)
	} else if total > 0 {
		n.log.Info(fmt.Sprintf("Killed %d/%d TCP connections to released IP %s", killed, total, a))
	}
	if err := n.m.host.DeleteAddress(t.iface, t.prefix); err != nil {
		return err
	}
	n.log.Info(fmt.Sprintf("Release of IP %s on interface %s  node:%d", t.prefix, t.iface, n.m.cfg.Self))
	n.m.met.releases.Inc()
	n.m.conns.Released(a)
	n.m.msgs.DeliverLocal(protocol.SrvIDReleaseIP, protocol.CString(a.String()))
	return nil
}

// forget stops the announcements of an address no longer held.
func (n *node) forget(a netip.Addr) {
	if h := n.held[a]; h != nil {
		if h.stopAnnounce != nil {
			h.stopAnnounce()
		}
		delete(n.held, a)
	}
}

// releaseAll takes every public address off this node's interfaces (the
// daemon stops: the releaseip events run without the stopped loop's
// context).
func (n *node) releaseAll() {
	observed, err := n.m.host.Addresses(n.ifaces())
	if err != nil {
		return
	}
	public := map[netip.Addr]bool{}
	for _, a := range n.config() {
		public[a.Prefix.Addr()] = true
	}
	for iface, ps := range observed {
		for _, p := range ps {
			if public[p.Addr()] {
				n.release(context.Background(), p.Addr(), target{prefix: p, iface: iface})
			}
		}
	}
}

// reallocatedLoop runs the ipreallocated event after the interfaces
// match a new assignment, on every node as 4.17 does after each takeover
// run; assignments reconciled while one runs are covered by the next.
func (n *node) reallocatedLoop(ctx context.Context) {
	var done uint64
	for {
		if err := n.reconciled.Wait(ctx, done+1, "public IP assignment"); err != nil {
			return
		}
		done = n.reconciled.Get()
		if err := n.m.events.RunEvent(ctx, "ipreallocated"); err != nil && ctx.Err() == nil {
			n.log.Warn("ipreallocated event failed", "err", err)
		}
	}
}

// leaseRetry is how soon a node asks again after the leader did not grant
// its lease.
const leaseRetry = 100 * time.Millisecond

// leaseLoop renews this node's lease on its addresses: every third of
// the lease it asks the leader, and the lease then runs from the moment
// it asked.
func (n *node) leaseLoop(ctx context.Context) {
	if n.m.cfg.Lease <= 0 || n.m.cfg.Disabled {
		return
	}
	for {
		sent := time.Now()
		d, seq, err := n.askLease(ctx)
		if err == nil {
			n.log.Debug("lease granted", "sent", sent, "for", d, "assignment", seq)
			n.mu.Lock()
			n.leaseUntil, n.leaseSeq = sent.Add(d), seq
			n.mu.Unlock()
			n.wake() // take what is assigned, or renew the kernel's leases
		} else if ctx.Err() == nil {
			n.log.Debug("lease not renewed", "err", err)
		}
		every := n.m.cfg.Lease / 3
		if err != nil {
			// Refusals (no leader yet, or one not yet sure of its
			// quorum) come at once and pass soon; a node holds nothing
			// until its first grant, so ask again soon.
			every = min(every, leaseRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		case <-n.m.raft.LeaderChanged():
		}
	}
}

// askLease asks the leader (maybe this node) for a lease; it returns its
// length and the assignment the leader had applied.
func (n *node) askLease(ctx context.Context) (time.Duration, uint64, error) {
	leader, ok := n.m.raft.Leader()
	if !ok {
		return 0, 0, fmt.Errorf("no leader")
	}
	cctx, cancel := context.WithTimeout(ctx, n.m.cfg.Lease/3)
	defer cancel()
	if leader == n.m.cfg.Self {
		return n.m.lead.grant(cctx, n.m.cfg.Self)
	}
	b, err := n.m.rpc.Call(cctx, leader, noderpc.OpFailoverLease, nil)
	if err != nil {
		return 0, 0, err
	}
	if len(b) < 12 {
		return 0, 0, fmt.Errorf("lease reply of %d bytes", len(b))
	}
	return time.Duration(binary.LittleEndian.Uint32(b)) * time.Millisecond, binary.LittleEndian.Uint64(b[4:]), nil
}

// serveReleased answers the leader once this node reconciled the
// assignment of the given sequence number or a later one.
func (n *node) serveReleased(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	if len(data) != 8 {
		return nil, fmt.Errorf("failover released: %d bytes, want 8", len(data))
	}
	n.wake()
	return nil, n.reconciled.Wait(ctx, binary.LittleEndian.Uint64(data), "reconciled public IP assignment")
}
