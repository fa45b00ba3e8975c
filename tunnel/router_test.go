package tunnel

import (
	"errors"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/protocol"
)

// fakeNet is node 0 of a 3-node cluster whose node 2 is deleted.
type fakeNet struct {
	mu        sync.Mutex
	sent      map[uint32][][]byte
	loopbacks int
	linkDown  bool
}

func (f *fakeNet) Send(pnn uint32, pkt []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.linkDown {
		return errors.New("link down")
	}
	f.sent[pnn] = append(f.sent[pnn], pkt)
	return nil
}
func (f *fakeNet) Reachable(pnn uint32) bool           { return pnn < 2 }
func (f *fakeNet) Generation() uint32                  { return 7 }
func (f *fakeNet) CountLoopback(op protocol.Operation) { f.loopbacks++ }

type fakeHolder struct {
	got    [][]byte
	closed bool
}

func (h *fakeHolder) SendPacket(pkt []byte) { h.got = append(h.got, pkt) }
func (h *fakeHolder) Closed() bool          { return h.closed }

func tunnelPkt(t *testing.T, dest uint32, id uint64, data string) []byte {
	t.Helper()
	p := protocol.ReqTunnel{Header: protocol.Header{DestNode: dest, ReqID: 99}, TunnelID: id, Flags: 3, Data: []byte(data)}
	return p.Marshal()
}

func TestRegistrationRules(t *testing.T) {
	r := New(0, &fakeNet{sent: map[uint32][][]byte{}}, nil, metrics.NewSet())
	a, b := &fakeHolder{}, &fakeHolder{}
	if !r.Register(a, 1) || r.Register(b, 1) || r.Register(a, 1) {
		t.Fatal("an id must have one holder: the first registration wins, any second fails")
	}
	if r.Deregister(b, 1) || !r.Deregister(a, 1) || r.Deregister(a, 1) {
		t.Fatal("only the holder frees an id, once")
	}
	r.Register(a, 1)
	r.Register(a, 2)
	r.Register(b, 3)
	r.Drop(a)
	if r.Count() != 1 || !r.Register(b, 1) {
		t.Fatalf("after dropping a client its ids are free: %d registered", r.Count())
	}
	gone := &fakeHolder{closed: true}
	if r.Register(gone, 9) {
		t.Fatal("a closed client registered an id: it would hold it forever")
	}
}

func TestRoutingAs417(t *testing.T) {
	net := &fakeNet{sent: map[uint32][][]byte{}}
	set := metrics.NewSet()
	r := New(0, net, nil, set)
	h := &fakeHolder{}
	r.Register(h, 5)

	// To another node: a header of this node's, the client's reqid gone.
	if err := r.FromClient(1, tunnelPkt(t, 1, 5, "x")); err != nil {
		t.Fatal(err)
	}
	var out protocol.ReqTunnel
	if len(net.sent[1]) != 1 || out.Unmarshal(net.sent[1][0]) != nil || out.SrcNode != 0 || out.ReqID != 0 || out.Generation != 7 || string(out.Data) != "x" || out.Flags != 3 {
		t.Fatalf("sent to node 1: %+v", out)
	}
	// To itself: delivered to the holder, counted as a loopback.
	r.FromClient(1, tunnelPkt(t, 0, 5, "self"))
	if len(h.got) != 1 || net.loopbacks != 1 {
		t.Fatalf("to itself: delivered %d, loopbacks %d", len(h.got), net.loopbacks)
	}
	// Dropped: a deleted node, CURRENT_NODE, a broadcast, an id nobody
	// here holds, a link that is down, an id nobody holds on arrival.
	for _, pkt := range [][]byte{tunnelPkt(t, 2, 5, ""), tunnelPkt(t, protocol.CurrentNode, 5, ""),
		tunnelPkt(t, protocol.BroadcastAll, 5, ""), tunnelPkt(t, 1, 6, "")} {
		if err := r.FromClient(1, pkt); err != nil {
			t.Fatal(err)
		}
	}
	net.linkDown = true
	r.FromClient(1, tunnelPkt(t, 1, 5, ""))
	r.FromNode(1, tunnelPkt(t, 0, 6, ""))
	if len(net.sent[1]) != 1 || len(h.got) != 1 {
		t.Fatalf("a dropped packet went somewhere: sent %d, delivered %d", len(net.sent[1]), len(h.got))
	}
	// From another node: delivered with srcnode this node, destnode 0.
	r.FromNode(1, tunnelPkt(t, 0, 5, "in"))
	if len(h.got) != 2 || out.Unmarshal(h.got[1]) != nil || out.SrcNode != 0 || out.DestNode != 0 || string(out.Data) != "in" {
		t.Fatalf("from node 1: %+v", out)
	}
	if err := r.FromClient(1, []byte{1, 2, 3}); err == nil {
		t.Fatal("a malformed packet from a client must close its connection (an error)")
	}
	var delivered, dropped float64
	for name, v := range map[string]*float64{"ctdb_socket_tunnel_packets_delivered_total": &delivered, "ctdb_socket_tunnel_packets_dropped_total": &dropped} {
		*v = float64(set.GetOrCreateCounter(name).Get())
	}
	if delivered != 2 || dropped != 6 {
		t.Fatalf("metrics: delivered %v dropped %v, want 2 and 6", delivered, dropped)
	}
}
