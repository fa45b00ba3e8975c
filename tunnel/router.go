package tunnel

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/protocol"
)

// Holder is a local client that may hold tunnel ids.
type Holder interface {
	// SendPacket writes a packet to the client.
	SendPacket(pkt []byte)
	// Closed reports whether the client is gone; a client that is gone
	// never gets an id again.
	Closed() bool
}

// Net is what the router needs of its node.
type Net interface {
	// Send sends a packet to another node.
	Send(pnn uint32, pkt []byte) error
	// Reachable reports whether pnn is one existing, not deleted node
	// (this one included) that a packet may be addressed to.
	Reachable(pnn uint32) bool
	// Generation is the node's current generation, for the headers.
	Generation() uint32
	// CountLoopback counts a packet this node sends to itself, which 4.17
	// counts as a node packet sent and received.
	CountLoopback(op protocol.Operation)
}

// Router is a node's tunnel table and packet routing.
type Router struct {
	self      uint32
	net       Net
	log       *slog.Logger
	delivered *metrics.Counter
	dropped   *metrics.Counter

	mu      sync.RWMutex
	holders map[uint64]Holder
}

// New returns the router of node self. Its metrics keep the names they
// had when tunnels were part of the client socket's subsystem.
func New(self uint32, net Net, log *slog.Logger, set *metrics.Set) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{self: self, net: net, log: log, holders: make(map[uint64]Holder),
		delivered: set.GetOrCreateCounter("ctdb_socket_tunnel_packets_delivered_total"),
		dropped:   set.GetOrCreateCounter("ctdb_socket_tunnel_packets_dropped_total"),
	}
	set.GetOrCreateGauge("ctdb_socket_tunnels", func() float64 { return float64(r.Count()) })
	return r
}

// Register makes h the node's holder of id. A node has one holder per id:
// as in 4.17 a second registration fails, whichever client makes it, and
// so does one of a client that is gone.
func (r *Router) Register(h Holder, id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Checked under the lock that Drop takes: a client that closes
	// after this check is dropped after this registration.
	if h.Closed() || r.holders[id] != nil {
		r.log.Debug("tunnel id already registered", "tunnel_id", fmt.Sprintf("0x%016x", id))
		return false
	}
	r.holders[id] = h
	return true
}

// Deregister frees id; false unless h holds it.
func (r *Router) Deregister(h Holder, id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holders[id] != h {
		return false
	}
	delete(r.holders, id)
	return true
}

// Drop frees every id h holds; the server calls it once h is closed. It
// walks every id: tunnels are few, and a client without one costs nothing.
func (r *Router) Drop(h Holder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, x := range r.holders {
		if x == h {
			delete(r.holders, id)
		}
	}
}

// Count is the number of registered tunnel ids.
func (r *Router) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.holders)
}

func (r *Router) holder(id uint64) Holder {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.holders[id]
}

// FromClient routes a local client's REQ_TUNNEL; an error means the packet
// was malformed. As in 4.17 the destination must be one reachable node
// (this one included, but neither CURRENT_NODE nor a broadcast), and some
// client of this node, not necessarily the sender, must hold the id;
// otherwise the packet is dropped. It leaves with a header of this
// node's: the client's reqid does not travel.
func (r *Router) FromClient(clientID uint32, pkt []byte) error {
	var p protocol.ReqTunnel
	if err := p.Unmarshal(pkt); err != nil {
		return err
	}
	dest := p.DestNode
	if dest == protocol.CurrentNode || protocol.IsBroadcast(dest) || !r.net.Reachable(dest) {
		r.drop("invalid destination", &p, "client", clientID)
		return nil
	}
	if r.holder(p.TunnelID) == nil {
		r.drop("tunnel id not registered on the sending node", &p, "client", clientID)
		return nil
	}
	out := protocol.ReqTunnel{
		Header:   protocol.Header{Generation: r.net.Generation(), DestNode: dest, SrcNode: r.self},
		TunnelID: p.TunnelID, Flags: p.Flags, Data: p.Data,
	}
	if dest == r.self {
		r.net.CountLoopback(protocol.OpReqTunnel)
		r.deliver(&out)
		return nil
	}
	if err := r.net.Send(dest, out.Marshal()); err != nil {
		r.drop("link down", &p, "err", err)
	}
	return nil
}

// FromNode delivers a tunnel packet from another node.
func (r *Router) FromNode(from uint32, pkt []byte) {
	var p protocol.ReqTunnel
	if err := p.Unmarshal(pkt); err != nil {
		r.log.Warn("dropping malformed REQ_TUNNEL from node", "pnn", from, "err", err)
		return
	}
	r.deliver(&p)
}

// deliver hands a tunnel packet that reached this node to the id's
// holder, or drops it when no client here holds the id. The holder gets a
// header of this node's, as from 4.17: srcnode is this node (not the
// sender's), destnode and reqid are 0.
func (r *Router) deliver(p *protocol.ReqTunnel) {
	h := r.holder(p.TunnelID)
	if h == nil {
		r.drop("tunnel id not registered", p, "from", p.SrcNode)
		return
	}
	out := protocol.ReqTunnel{
		Header:   protocol.Header{Generation: r.net.Generation(), SrcNode: r.self},
		TunnelID: p.TunnelID, Flags: p.Flags, Data: p.Data,
	}
	r.delivered.Inc()
	h.SendPacket(out.Marshal())
}

// drop counts and logs a tunnel packet that goes nowhere; at debug level,
// as a client can send any number of them.
func (r *Router) drop(why string, p *protocol.ReqTunnel, args ...any) {
	r.dropped.Inc()
	r.log.Debug("dropping tunnel packet: "+why,
		append([]any{"tunnel_id", fmt.Sprintf("0x%016x", p.TunnelID), "dest", p.DestNode}, args...)...)
}
