package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

func TestTunnel(t *testing.T) {
	f := newFakeCtdbd(t, 3)
	const id, other = protocol.SrvIDTunnelTest | 1, protocol.SrvIDTunnelTest | 2
	var refuse atomic.Bool
	refuse.Store(true)
	f.on(protocol.ControlTunnelRegister, func(req *protocol.ReqControl) int32 {
		if refuse.Load() {
			return -1
		}
		return 0
	})
	f.on(protocol.ControlTunnelDeregister, func(*protocol.ReqControl) int32 { return 0 })
	c := f.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A refusal leaves nothing behind: the id can be registered again.
	var ce *ControlError
	if _, err := c.RegisterTunnel(ctx, id, 4); !errors.As(err, &ce) || ce.Status != -1 {
		t.Fatalf("refused registration: %v", err)
	}
	refuse.Store(false)
	tun, err := c.RegisterTunnel(ctx, id, 4)
	if err != nil {
		t.Fatal(err)
	}
	regs := f.sent(protocol.ControlTunnelRegister)
	if len(regs) != 2 || regs[1].SrvID != id || regs[1].DestNode != protocol.CurrentNode {
		t.Fatalf("TUNNEL_REGISTER controls %+v", regs)
	}
	if _, err := c.RegisterTunnel(ctx, id, 4); err == nil || len(f.sent(protocol.ControlTunnelRegister)) != 2 {
		t.Fatalf("a second registration on the connection: %v, not refused without asking the daemon", err)
	}

	// A packet for an id the connection does not hold is dropped; the
	// next one arrives.
	if err := c.SendTunnel(3, other, protocol.TunnelFlagRequest, 0, []byte("dropped")); err != nil {
		t.Fatal(err)
	}
	if err := tun.Send(3, protocol.TunnelFlagReply, []byte("back")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-tun.Packets():
		if p.TunnelID != id || p.Flags != protocol.TunnelFlagReply || p.Src != 3 || p.ReqID != 0 || string(p.Data) != "back" {
			t.Fatalf("packet %+v", p)
		}
	case <-ctx.Done():
		t.Fatal("no packet")
	}

	if err := tun.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-tun.Packets(); ok {
		t.Fatal("Packets open after Close")
	}
	if err := tun.Close(ctx); err != nil || len(f.sent(protocol.ControlTunnelDeregister)) != 1 {
		t.Fatalf("second Close: %v, %d deregistrations", err, len(f.sent(protocol.ControlTunnelDeregister)))
	}

	// The end of the connection closes every tunnel's channel.
	tun2, err := c.RegisterTunnel(ctx, other, 4)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, ok := <-tun2.Packets(); ok {
		t.Fatal("Packets open after the connection ended")
	}
	if err := tun2.Close(ctx); err != nil {
		t.Fatalf("Close after the connection ended: %v", err)
	}
}
