package failover

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/raftlayer"
)

// activeQuorum is a Quorum that is always in contact.
type activeQuorum struct{}

func (activeQuorum) Inactive() bool                   { return false }
func (activeQuorum) InactiveChanged() <-chan struct{} { return nil }

// nopMessenger drops every message.
type nopMessenger struct{}

func (nopMessenger) DeliverLocal(uint64, []byte)        {}
func (nopMessenger) SendMessage(uint32, uint64, []byte) {}

// newTestNode is node 0 of a two-node cluster with the given public
// addresses on eth0 of h, reconciled by the test itself.
func newTestNode(t *testing.T, h *MemHost, prefixes ...string) *node {
	t.Helper()
	m := &Manager{cfg: Config{Self: 0, Lease: 5 * time.Second}, quorum: activeQuorum{}, host: h, msgs: nopMessenger{}, events: NoScripts{},
		log: slog.New(slog.DiscardHandler), conns: newConns(), links: make(chan struct{}, 1)}
	m.met = newMetrics(metrics.NewSet(), m)
	var addrs []config.PublicAddress
	for _, p := range prefixes {
		addrs = append(addrs, config.PublicAddress{Prefix: netip.MustParsePrefix(p), Ifaces: []string{"eth0"}})
	}
	m.node = newNode(m, addrs)
	ctx, cancel := context.WithCancel(context.Background())
	m.node.ctx = ctx
	t.Cleanup(func() {
		cancel()
		m.wg.Wait()
	})
	return m.node
}

// setLease records a lease as the lease loop does.
func setLease(n *node, until time.Time, seq uint64) {
	n.mu.Lock()
	n.leaseUntil, n.leaseSeq = until, seq
	n.mu.Unlock()
}

// assignment is a state at sequence seq giving node 0 the addresses;
// both nodes are healthy.
func assignment(seq uint64, to0 ...netip.Addr) *raftlayer.State {
	healthy := func(pnn uint32) raftlayer.NodeState {
		return raftlayer.NodeState{PNN: pnn, Incarnation: 1, HealthyIncarnation: 1}
	}
	st := &raftlayer.State{ClusterID: "test", Nodes: []raftlayer.NodeState{healthy(0), healthy(1)}, IPSeq: seq, IPAssign: map[string]uint32{}}
	for _, a := range to0 {
		st.IPAssign[a.String()] = 0
	}
	return st
}

// leaseOf is when a's kernel lease on h runs out (zero: no lease or absent).
func leaseOf(h *MemHost, a netip.Addr) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, as := range h.addrs {
		for p, until := range as {
			if p.Addr() == a {
				return until
			}
		}
	}
	return time.Time{}
}

func killed(h *MemHost) []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.killed)
}

// TestLaggingNodeKeepsItsAddresses: a lease naming an assignment the node
// has not applied yet (its reply overtook the takeover run's commit)
// neither releases what the node carries (which would reset its clients)
// nor takes or renews anything; an address this run of the daemon did not
// put there still goes. Once the state catches up the node takes what it
// is given; once the lease runs out it holds nothing.
func TestLaggingNodeKeepsItsAddresses(t *testing.T) {
	h := NewMemHost("eth0")
	n := newTestNode(t, h, "10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24")
	a1, a2, a3 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")

	setLease(n, time.Now().Add(5*time.Second), 5)
	n.reconcile(assignment(5, a1))
	if got := h.Holds(a1); !slices.Equal(got, []string{"eth0"}) {
		t.Fatalf("%s on %v after the first reconcile", a1, got)
	}
	kept := leaseOf(h, a1)

	// The leader applied assignment 7 and granted a lease naming it; this
	// node is at 6, which also gives it a2 and a3, and a3 is on eth0
	// without this run having put it there.
	setLease(n, time.Now().Add(5*time.Second), 7)
	h.Add("eth0", netip.MustParsePrefix("10.0.0.3/24"))
	next := n.reconcile(assignment(6, a1, a2, a3))
	if got := h.Holds(a1); !slices.Equal(got, []string{"eth0"}) || slices.Contains(killed(h), a1) {
		t.Errorf("lagging: %s on %v, connections killed for %v; want it kept", a1, got, killed(h))
	}
	if got := leaseOf(h, a1); !got.Equal(kept) {
		t.Errorf("lagging: %s's kernel lease moved from %v to %v; want it unrenewed", a1, kept, got)
	}
	if got := h.Holds(a2); len(got) > 0 {
		t.Errorf("lagging: %s taken on %v", a2, got)
	}
	if got := h.Holds(a3); len(got) > 0 || !slices.Contains(killed(h), a3) {
		t.Errorf("lagging: %s, which this run did not put there, is on %v (killed %v)", a3, got, killed(h))
	}
	if next <= 0 || next > 5*time.Second {
		t.Errorf("lagging: next look in %v, want by the lease's end", next)
	}

	n.reconcile(assignment(7, a1, a2))
	for _, a := range []netip.Addr{a1, a2} {
		if got := h.Holds(a); !slices.Equal(got, []string{"eth0"}) {
			t.Errorf("caught up: %s on %v", a, got)
		}
	}
	if got := leaseOf(h, a1); !got.After(kept) {
		t.Errorf("caught up: %s's kernel lease not renewed (%v)", a1, got)
	}

	setLease(n, time.Now().Add(-time.Millisecond), 8)
	n.reconcile(assignment(7, a1, a2))
	for _, a := range []netip.Addr{a1, a2} {
		if got := h.Holds(a); len(got) > 0 {
			t.Errorf("lease run out: %s still on %v", a, got)
		}
	}
}
