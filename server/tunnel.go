package server

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
)

// Tunnels (TUNNEL_REGISTER, TUNNEL_DEREGISTER, REQ_TUNNEL) as ctdbd 4.17
// has them: a client registers a tunnel id with its node, and the clients
// of nodes that hold the same id exchange opaque packets through their
// daemons. The daemon reads neither the flags nor the data; it answers
// nothing to the sender, and drops what it cannot deliver.

// tunnelControls serves the tunnel controls; both need the local client
// whose registration they change.
func (n *Node) tunnelControls() control.Table {
	return control.Table{
		protocol.ControlTunnelRegister:   {Size: control.AnySize, LocalClient: true, Serve: n.ctrlTunnelRegister},
		protocol.ControlTunnelDeregister: {Size: control.AnySize, LocalClient: true, Serve: n.ctrlTunnelDeregister},
	}
}

// ctrlTunnelRegister makes the client the node's holder of the tunnel id
// in the header's srvid. A node has one holder per id: 4.17 refuses a
// second registration with -1, whichever connection it comes from.
func (n *Node) ctrlTunnelRegister(ctx context.Context, r *control.Request) control.Reply {
	if !n.reg.registerTunnel(clientOf(r), r.SrvID) {
		n.log.Debug("tunnel id already registered", "tunnel_id", fmt.Sprintf("0x%016x", r.SrvID))
		return control.Status(-1)
	}
	return control.Status(0)
}

// ctrlTunnelDeregister frees the id; -1 unless this client holds it.
func (n *Node) ctrlTunnelDeregister(ctx context.Context, r *control.Request) control.Reply {
	if !n.reg.deregisterTunnel(clientOf(r), r.SrvID) {
		return control.Status(-1)
	}
	return control.Status(0)
}

// clientTunnel routes a client's REQ_TUNNEL. As in 4.17 the destination
// must be one existing, not deleted pnn (this node's own included, but
// neither CURRENT_NODE nor a broadcast), and some client of this node,
// not necessarily the sender, must hold the id; otherwise the packet is
// dropped. The packet leaves with a header of this node's: the client's
// reqid does not travel.
func (n *Node) clientTunnel(c *clientConn, pkt []byte) error {
	var p protocol.ReqTunnel
	if err := p.Unmarshal(pkt); err != nil {
		return err
	}
	dest := p.DestNode
	if dest == protocol.CurrentNode || protocol.IsBroadcast(dest) || len(n.messageTargets(dest)) == 0 {
		n.dropTunnel("invalid destination", &p, "client", c.id)
		return nil
	}
	if n.reg.tunnelHolder(p.TunnelID) == nil {
		n.dropTunnel("tunnel id not registered on the sending node", &p, "client", c.id)
		return nil
	}
	out := protocol.ReqTunnel{
		Header:   protocol.Header{Generation: n.generation(), DestNode: dest, SrcNode: n.self},
		TunnelID: p.TunnelID, Flags: p.Flags, Data: p.Data,
	}
	if dest == n.self {
		// 4.17 queues it to itself: a node packet sent and received.
		n.stats.c.nodePacketsSent.Add(1)
		n.stats.c.nodeRecv[protocol.OpReqTunnel].Add(1)
		n.deliverTunnel(&out)
		return nil
	}
	if err := n.sendNode(dest, out.Marshal()); err != nil {
		n.dropTunnel("link down", &p, "err", err)
	}
	return nil
}

// handleNodeTunnel delivers a tunnel packet from another node.
func (n *Node) handleNodeTunnel(from uint32, pkt []byte) {
	var p protocol.ReqTunnel
	if err := p.Unmarshal(pkt); err != nil {
		n.log.Warn("dropping malformed REQ_TUNNEL from node", "pnn", from, "err", err)
		return
	}
	n.deliverTunnel(&p)
}

// deliverTunnel hands a tunnel packet that reached this node to the id's
// holder, or drops it when no client here holds the id. The holder gets a
// header of this node's, as from 4.17: srcnode is this node (not the
// sender's), destnode and reqid are 0.
func (n *Node) deliverTunnel(p *protocol.ReqTunnel) {
	h := n.reg.tunnelHolder(p.TunnelID)
	if h == nil {
		n.dropTunnel("tunnel id not registered", p, "from", p.SrcNode)
		return
	}
	out := protocol.ReqTunnel{
		Header:   protocol.Header{Generation: n.generation(), SrcNode: n.self},
		TunnelID: p.TunnelID, Flags: p.Flags, Data: p.Data,
	}
	n.sm.tunnelsToLocal.Inc()
	h.send(out.Marshal())
}

// dropTunnel counts and logs a tunnel packet that goes nowhere; at debug
// level, as a client can send any number of them.
func (n *Node) dropTunnel(why string, p *protocol.ReqTunnel, args ...any) {
	n.sm.tunnelsDropped.Inc()
	n.log.Debug("dropping tunnel packet: "+why,
		append([]any{"tunnel_id", fmt.Sprintf("0x%016x", p.TunnelID), "dest", p.DestNode}, args...)...)
}

// registerTunnel makes c the holder of tunnel id; false if a client (c
// included) holds it already, or c is gone.
func (r *registry) registerTunnel(c *clientConn, id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.srvids == nil || r.tunnels[id] != nil {
		return false
	}
	r.tunnels[id] = c
	return true
}

// deregisterTunnel frees id; false unless c holds it.
func (r *registry) deregisterTunnel(c *clientConn, id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tunnels[id] != c {
		return false
	}
	delete(r.tunnels, id)
	return true
}

// tunnelHolder is the client that holds id, or nil.
func (r *registry) tunnelHolder(id uint64) *clientConn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tunnels[id]
}

// dropTunnelsLocked frees the ids c holds; r.mu is held. It walks every
// registered id: tunnels are few, and a client without one costs nothing.
func (r *registry) dropTunnelsLocked(c *clientConn) {
	for id, h := range r.tunnels {
		if h == c {
			delete(r.tunnels, id)
		}
	}
}

func (r *registry) numTunnels() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tunnels)
}
