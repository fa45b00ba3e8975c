package failover_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// TestTCPClientRegistrationsVanishWithTheirClient: smbd registers each SMB
// connection with TCP_CLIENT; GET_TCP_TICKLE_LIST lists them per public
// address until the client that registered them goes away.
func TestTCPClientRegistrationsVanishWithTheirClient(t *testing.T) {
	h := clustertest.Start(t, 1, clustertest.WithPublicAddresses("192.0.2.10/24 eth0\n", "eth0"))
	clustertest.WaitAgreed(t, h, clustertest.Want{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	public := netip.MustParseAddr("192.0.2.10")
	clustertest.WaitFor(t, 10*time.Second, "the address on node 0", func() error {
		if got := h.Host(0).Holds(public); len(got) != 1 {
			return fmt.Errorf("on %v", got)
		}
		return nil
	})
	conn := func(src string) protocol.Connection {
		return protocol.Connection{
			Src: protocol.SockAddrFrom(netip.MustParseAddrPort(src)),
			Dst: protocol.SockAddrFrom(netip.AddrPortFrom(public, 445)),
		}
	}
	smbd := h.Client(0)
	for _, src := range []string{"198.51.100.7:40001", "198.51.100.3:40002"} {
		c := conn(src)
		if r, err := smbd.Control(ctx, protocol.CurrentNode, protocol.ControlTCPClient, 0, 0, c.Marshal()); err != nil || r.Status != 0 {
			t.Fatalf("TCP_CLIENT %s: %+v %v", src, r, err)
		}
	}
	list := func() []protocol.Connection {
		sa := protocol.SockAddrFrom(netip.AddrPortFrom(public, 0))
		r, err := h.Client(0).Control(ctx, protocol.CurrentNode, protocol.ControlGetTCPTickleList, 0, 0, sa.AppendTo(nil))
		if err != nil || r.Status != 0 {
			t.Fatalf("GET_TCP_TICKLE_LIST: %+v %v", r, err)
		}
		var tl protocol.TickleList
		if err := tl.Unmarshal(r.Data); err != nil {
			t.Fatal(err)
		}
		return tl.Conns
	}
	got := list()
	// In the order registered, as 4.17 lists them.
	if len(got) != 2 || got[0].Src.Addr.String() != "198.51.100.7" || got[1].Src.Port != 40002 {
		t.Fatalf("tickle list %+v", got)
	}
	smbd.Close()
	clustertest.WaitFor(t, 5*time.Second, "registrations dropped with their client", func() error {
		if n := len(list()); n != 0 {
			return testutil.Errorf("%d connections still listed", n)
		}
		return nil
	})
}
