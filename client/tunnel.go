package client

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// TunnelPacket is a REQ_TUNNEL the daemon delivered to a tunnel registered
// on this connection.
type TunnelPacket struct {
	TunnelID uint64
	// Flags are the sender's, unchanged (protocol.TunnelFlag*).
	Flags uint32
	// Src and ReqID are the header as the daemon wrote it. ctdbd 4.17
	// builds a fresh header for the delivery: Src is the delivering node,
	// not the sender's, and ReqID is 0. A protocol that needs the sender
	// or a request id carries them in Data.
	Src   uint32
	ReqID uint32
	Data  []byte
}

// Tunnel is a tunnel id registered on this connection (TUNNEL_REGISTER):
// the daemon delivers the packets other nodes' clients send to this id
// here, and lets this node's clients send on it.
type Tunnel struct {
	c  *Client
	id uint64
	ch chan TunnelPacket
}

// RegisterTunnel registers tunnel id with the daemon. ctdbd lets one
// connection of a node hold an id: a second registration, on this or
// another connection, is refused (a *ControlError with status -1). The
// returned tunnel's Packets channel is buffered with buffer packets;
// packets beyond it are dropped rather than stalling the connection.
func (c *Client) RegisterTunnel(ctx context.Context, id uint64, buffer int) (*Tunnel, error) {
	t := &Tunnel{c: c, id: id, ch: make(chan TunnelPacket, buffer)}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	if c.tunnels[id] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("register tunnel 0x%016x: already registered on this connection", id)
	}
	c.tunnels[id] = t.ch
	c.mu.Unlock()
	if _, err := c.callSrvID(ctx, protocol.CurrentNode, protocol.ControlTunnelRegister, id, nil); err != nil {
		t.forget()
		return nil, fmt.Errorf("register tunnel 0x%016x: %w", id, err)
	}
	return t, nil
}

// ID is the tunnel id.
func (t *Tunnel) ID() uint64 { return t.id }

// Packets delivers the tunnel's packets; it is closed by Close or when the
// connection ends.
func (t *Tunnel) Packets() <-chan TunnelPacket { return t.ch }

// Send sends data on the tunnel to node dest with flags
// (protocol.TunnelFlagRequest, TunnelFlagReply, TunnelFlagNoReply). The
// daemon sends nothing back: a packet it cannot deliver is dropped.
func (t *Tunnel) Send(dest uint32, flags uint32, data []byte) error {
	t.c.mu.Lock()
	reqid := t.c.allocReq()
	t.c.mu.Unlock()
	return t.c.SendTunnel(dest, t.id, flags, reqid, data)
}

// Close deregisters the tunnel (TUNNEL_DEREGISTER) and closes Packets.
func (t *Tunnel) Close(ctx context.Context) error {
	if !t.forget() {
		return nil
	}
	if _, err := t.c.callSrvID(ctx, protocol.CurrentNode, protocol.ControlTunnelDeregister, t.id, nil); err != nil {
		return fmt.Errorf("deregister tunnel 0x%016x: %w", t.id, err)
	}
	return nil
}

// forget stops delivery to the tunnel and closes its channel; false if
// that was done already.
func (t *Tunnel) forget() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.tunnels[t.id] != t.ch {
		return false
	}
	delete(t.c.tunnels, t.id)
	close(t.ch)
	return true
}

// SendTunnel writes one REQ_TUNNEL as given, for a tunnel id this
// connection may not have registered (the daemon requires that some client
// of its node did).
func (c *Client) SendTunnel(dest uint32, id uint64, flags, reqid uint32, data []byte) error {
	p := protocol.ReqTunnel{
		Header:   protocol.Header{DestNode: dest, SrcNode: c.srcNode(), ReqID: reqid},
		TunnelID: id, Flags: flags, Data: data,
	}
	return c.write(p.Marshal())
}

// dispatchTunnel hands a delivered packet to its tunnel, dropping it when
// the tunnel's buffer is full or it has none.
func (c *Client) dispatchTunnel(pkt []byte) error {
	var p protocol.ReqTunnel
	if err := p.Unmarshal(pkt); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.tunnels[p.TunnelID]; ch != nil {
		select {
		case ch <- TunnelPacket{TunnelID: p.TunnelID, Flags: p.Flags, Src: p.SrcNode, ReqID: p.ReqID, Data: p.Data}:
		default:
		}
	}
	return nil
}
