package failover

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// departures is a Links whose peers are all disconnected, each having left
// as its entry says.
type departures map[uint32]transport.Departure

func (d departures) Connected(uint32) bool { return false }

func (d departures) Departed(p uint32) (transport.Departure, time.Time) { return d[p], time.Time{} }

// TestUnassignedAddressWaitsForAProbingNodeOnlyBriefly: an address without
// a holder may be on a node whose link just went down; while the transport
// finds out whether that node's daemon is gone, the run holds the address
// back only until it looks again (100 ms), not until the node's lease ran
// out; a silent node holds it for its lease, a gone one not at all.
func TestUnassignedAddressWaitsForAProbingNodeOnlyBriefly(t *testing.T) {
	st := &raftlayer.State{Nodes: []raftlayer.NodeState{{PNN: 0}, {PNN: 1}, {PNN: 2}}}
	links := departures{2: transport.Probing}
	l := newLeader(&Manager{cfg: Config{Self: 0, Lease: 5 * time.Second}, tr: links, log: slog.New(slog.DiscardHandler)})
	l.since = time.Now()
	for _, c := range []struct {
		dep         transport.Departure
		held        bool
		least, most time.Duration
	}{
		{transport.Probing, true, 0, probingRetry},
		{transport.Silent, true, 5 * time.Second, 5*time.Second + time.Second + leaseSlack},
		{transport.Gone, false, 0, 0},
	} {
		links[2] = c.dep
		until, held := l.maybeHeldElsewhere(st, 1)
		if held != c.held {
			t.Errorf("node 2 %s: held %v, want %v", c.dep, held, c.held)
			continue
		}
		if d := time.Until(until); held && (d < c.least || d > c.most) {
			t.Errorf("node 2 %s: held for %v more, want %v to %v", c.dep, d, c.least, c.most)
		}
	}
}
