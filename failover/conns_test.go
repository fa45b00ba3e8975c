package failover

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// The list keeps 4.17's order: as added, a removed connection's place
// taken by the last one (ctdb_remove_connection).
func TestConnsKeep417Order(t *testing.T) {
	public := netip.MustParseAddr("192.0.2.10")
	conn := func(port uint16) protocol.Connection {
		return protocol.Connection{
			Src: protocol.SockAddrFrom(netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), port)),
			Dst: protocol.SockAddrFrom(netip.AddrPortFrom(public, 445)),
		}
	}
	cs := newConns()
	ports := func() []uint16 {
		var out []uint16
		for _, c := range cs.List(public) {
			out = append(out, c.Src.Port)
		}
		return out
	}
	for _, p := range []uint16{40002, 40000, 40005, 40003} {
		cs.Add(nil, conn(p))
	}
	cs.Add(nil, conn(40000)) // again: no second entry
	if got, want := ports(), []uint16{40002, 40000, 40005, 40003}; !slices.Equal(got, want) {
		t.Fatalf("after adds: %v, want %v", got, want)
	}
	cs.Remove(conn(40002))
	if got, want := ports(), []uint16{40003, 40000, 40005}; !slices.Equal(got, want) {
		t.Fatalf("after removing the first: %v, want %v", got, want)
	}
}
