package server

import (
	"context"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
)

// tunnelControls serves TUNNEL_REGISTER and TUNNEL_DEREGISTER for the
// tunnel router; both need the local client whose registration they
// change. 4.17 answers -1 to a refused one.
func (n *Node) tunnelControls() control.Table {
	serve := func(change func(*clientConn, uint64) bool) func(context.Context, *control.Request) control.Reply {
		return func(ctx context.Context, r *control.Request) control.Reply {
			if !change(clientOf(r), r.SrvID) {
				return control.Status(-1)
			}
			return control.Status(0)
		}
	}
	return control.Table{
		protocol.ControlTunnelRegister: {Size: control.AnySize, LocalClient: true,
			Serve: serve(func(c *clientConn, id uint64) bool { return n.tunnels.Register(c, id) })},
		protocol.ControlTunnelDeregister: {Size: control.AnySize, LocalClient: true,
			Serve: serve(func(c *clientConn, id uint64) bool { return n.tunnels.Deregister(c, id) })},
	}
}

// tunnelNet is the node as the tunnel router sees it.
type tunnelNet struct{ n *Node }

func (t tunnelNet) Send(pnn uint32, pkt []byte) error { return t.n.sendNode(pnn, pkt) }
func (t tunnelNet) Reachable(pnn uint32) bool         { return len(t.n.messageTargets(pnn)) > 0 }
func (t tunnelNet) Generation() uint32                { return t.n.generation() }
func (t tunnelNet) CountLoopback(op protocol.Operation) {
	t.n.stats.CountLoopback(op)
}
