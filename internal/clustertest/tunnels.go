package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// CheckTunnels holds the daemon behind nodes 0 and 1 of c to ctdbd 4.17's
// tunnels (TUNNEL_REGISTER, TUNNEL_DEREGISTER, REQ_TUNNEL), as read in
// ctdb_tunnel.c and ctdb_daemon.c and observed on the real daemon: one
// holder of a tunnel id per node; a client may send on an id its node
// holds, to one existing pnn (the current-node and broadcast destinations
// are dropped); the destination delivers to its holder with a header of its
// own (srcnode the delivering node, reqid 0) and the sender's flags and
// data unchanged, and drops a packet for an id it does not hold; a
// deregistration or a disconnect frees the id. Nothing is ever answered to
// the sender. A drop is shown by a later packet on the same path (same
// client connection, same nodes) arriving first, never by waiting for
// nothing.
func CheckTunnels(t testing.TB, c Sockets) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := &tunnelCheck{t: t, ctx: ctx, c: c}
	id := protocol.SrvIDTunnelTest | 0x7e51
	other, third := id+1, id+2

	a, b := tc.dial(0), tc.dial(1)
	ta, tb := tc.register(a, id), tc.register(b, id)
	a2 := tc.dial(0)
	tc.status(a, protocol.ControlTunnelRegister, id, -1, "a second registration on the holder's connection")
	tc.status(a2, protocol.ControlTunnelRegister, id, -1, "a registration on another connection of the node")
	tc.status(a2, protocol.ControlTunnelDeregister, id, -1, "a deregistration by a connection that is not the holder")

	tc.send(ta, 1, protocol.TunnelFlagRequest, "ping")
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "ping")
	tc.send(tb, 0, protocol.TunnelFlagReply, "pong")
	tc.expect(ta, protocol.TunnelFlagReply, 0, "pong")
	tc.send(ta, 1, protocol.TunnelFlagRequest|protocol.TunnelFlagNoReply, "no reply wanted")
	tc.expect(tb, protocol.TunnelFlagRequest|protocol.TunnelFlagNoReply, 1, "no reply wanted")
	// Any client of a node that holds the id may send on it.
	tc.check(a2.SendTunnel(1, id, protocol.TunnelFlagRequest, 77, []byte("from a2")))
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "from a2")
	tc.send(tb, 1, protocol.TunnelFlagRequest, "to myself")
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "to myself")

	for _, dest := range []uint32{protocol.CurrentNode, protocol.BroadcastAll, protocol.BroadcastActive,
		protocol.BroadcastConnected, 99} {
		tc.check(b.SendTunnel(dest, id, protocol.TunnelFlagRequest, 0, []byte(fmt.Sprintf("dropped: to 0x%x", dest))))
	}
	tc.send(tb, 1, protocol.TunnelFlagRequest, "marker to myself")
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "marker to myself")
	tc.send(tb, 0, protocol.TunnelFlagRequest, "marker to node 0")
	tc.expect(ta, protocol.TunnelFlagRequest, 0, "marker to node 0")

	// A node that holds no such id drops its client's packet.
	tbOther := tc.register(b, other)
	tc.check(a.SendTunnel(1, other, protocol.TunnelFlagRequest, 0, []byte("dropped: not held by the sending node")))
	tc.send(ta, 1, protocol.TunnelFlagRequest, "marker after unheld")
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "marker after unheld")
	tc.none(tbOther)

	// The destination drops a packet for an id it does not hold; it still
	// received it (statistics node.req_tunnel).
	ta3 := tc.register(a, third)
	before := tc.nodeReqTunnel(b)
	tc.send(ta3, 1, protocol.TunnelFlagRequest, "dropped: not held by the destination")
	tc.send(ta, 1, protocol.TunnelFlagRequest, "marker after nobody")
	tc.expect(tb, protocol.TunnelFlagRequest, 1, "marker after nobody")
	if got := tc.nodeReqTunnel(b) - before; got != 2 {
		t.Fatalf("node 1 counted %d tunnel packets from node 0, want 2 (one dropped, one delivered)", got)
	}

	// A deregistration stops the delivery and frees the id.
	tc.status(b, protocol.ControlTunnelDeregister, id, 0, "the holder's deregistration")
	tc.status(b, protocol.ControlTunnelDeregister, id, -1, "a second deregistration")
	tc.register(a2, other)
	tc.send(ta, 1, protocol.TunnelFlagRequest, "dropped: deregistered")
	// The marker takes the same connection: packets of two connections
	// may overtake each other in the daemon.
	tc.check(a.SendTunnel(1, other, protocol.TunnelFlagRequest, 0, []byte("marker after deregister")))
	tc.expect(tbOther, protocol.TunnelFlagRequest, 1, "marker after deregister")
	tc.none(tb)
	b2 := tc.dial(1)
	tb2 := tc.register(b2, id)
	tc.send(ta, 1, protocol.TunnelFlagRequest, "to the new holder")
	tc.expect(tb2, protocol.TunnelFlagRequest, 1, "to the new holder")

	// A disconnect frees the id (the daemon notices it asynchronously).
	b2.Close()
	b3 := tc.dial(1)
	var tb3 *client.Tunnel
	WaitFor(t, 10*time.Second, "the id freed by the holder's disconnect", func() error {
		var err error
		tb3, err = b3.RegisterTunnel(ctx, id, 16)
		return err
	})
	tc.send(ta, 1, protocol.TunnelFlagRequest, "after the disconnect")
	tc.expect(tb3, protocol.TunnelFlagRequest, 1, "after the disconnect")
}

// tunnelCheck is the state of one CheckTunnels run.
type tunnelCheck struct {
	t   testing.TB
	ctx context.Context
	c   Sockets
}

func (tc *tunnelCheck) check(err error) {
	tc.t.Helper()
	if err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *tunnelCheck) dial(pnn uint32) *client.Client {
	tc.t.Helper()
	cl, err := client.Connect(tc.ctx, tc.c.Socket(pnn))
	tc.check(err)
	tc.t.Cleanup(func() { cl.Close() })
	return cl
}

func (tc *tunnelCheck) register(cl *client.Client, id uint64) *client.Tunnel {
	tc.t.Helper()
	tun, err := cl.RegisterTunnel(tc.ctx, id, 16)
	tc.check(err)
	return tun
}

// status sends a tunnel control and checks its status.
func (tc *tunnelCheck) status(cl *client.Client, op protocol.Opcode, id uint64, want int32, what string) {
	tc.t.Helper()
	r, err := cl.Control(tc.ctx, protocol.CurrentNode, op, id, 0, nil)
	tc.check(err)
	if r.Status != want {
		tc.t.Fatalf("%s: %s status %d (%q), want %d", what, op, r.Status, r.ErrMsg, want)
	}
}

func (tc *tunnelCheck) send(tun *client.Tunnel, dest, flags uint32, data string) {
	tc.t.Helper()
	tc.check(tun.Send(dest, flags, []byte(data)))
}

// expect waits for the next packet of tun and checks it.
func (tc *tunnelCheck) expect(tun *client.Tunnel, flags, src uint32, data string) {
	tc.t.Helper()
	want := client.TunnelPacket{TunnelID: tun.ID(), Flags: flags, Src: src, Data: []byte(data)}
	select {
	case p, ok := <-tun.Packets():
		if !ok {
			tc.t.Fatalf("waiting for %q: tunnel closed", data)
		}
		if p.TunnelID != want.TunnelID || p.Flags != want.Flags || p.Src != want.Src || p.ReqID != 0 || string(p.Data) != data {
			tc.t.Fatalf("tunnel packet %+v (data %q), want %+v (data %q)", p, p.Data, want, data)
		}
	case <-tc.ctx.Done():
		tc.t.Fatalf("no tunnel packet %q: %v", data, tc.ctx.Err())
	}
}

// none checks that tun has received nothing more.
func (tc *tunnelCheck) none(tun *client.Tunnel) {
	tc.t.Helper()
	select {
	case p := <-tun.Packets():
		tc.t.Fatalf("tunnel 0x%x received %q, which should have been dropped", tun.ID(), p.Data)
	default:
	}
}

// nodeReqTunnel is node.req_tunnel of cl's node.
func (tc *tunnelCheck) nodeReqTunnel(cl *client.Client) uint32 {
	tc.t.Helper()
	s, err := cl.Statistics(tc.ctx, protocol.CurrentNode)
	tc.check(err)
	return s.Node.ReqTunnel
}
