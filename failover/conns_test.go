package failover

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// testPublic is the public address of the connection tests.
var testPublic = netip.MustParseAddr("192.0.2.10")

// testConn is a client's connection from port to testPublic:445.
func testConn(port uint16) protocol.Connection {
	return protocol.Connection{
		Src: protocol.SockAddrFrom(netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), port)),
		Dst: protocol.SockAddrFrom(netip.AddrPortFrom(testPublic, 445)),
	}
}

// The list keeps 4.17's order: as added, a removed connection's place
// taken by the last one (ctdb_remove_connection).
func TestConnsKeep417Order(t *testing.T) {
	cs := newConns()
	ports := func() []uint16 {
		var out []uint16
		for _, c := range cs.List(testPublic) {
			out = append(out, c.Src.Port)
		}
		return out
	}
	for _, p := range []uint16{40002, 40000, 40005, 40003} {
		cs.Add(nil, testConn(p))
	}
	cs.Add(nil, testConn(40000)) // again: no second entry
	if got, want := ports(), []uint16{40002, 40000, 40005, 40003}; !slices.Equal(got, want) {
		t.Fatalf("after adds: %v, want %v", got, want)
	}
	cs.Remove(testConn(40002))
	if got, want := ports(), []uint16{40003, 40000, 40005}; !slices.Equal(got, want) {
		t.Fatalf("after removing the first: %v, want %v", got, want)
	}
}

type pidClient int32

func (c pidClient) PID() int32 { return int32(c) }

// A takeover tickles the connections learnt from the old holder and keeps
// those smbd registered here once the address came up: the announce that
// tickles runs a moment after the address is up, and a registration in
// that moment must not vanish.
func TestTakeOverKeepsLocalRegistrations(t *testing.T) {
	cs := newConns()
	cs.Add(nil, testConn(40001)) // from the old holder
	cs.Add(pidClient(7), testConn(40002))
	cs.Add(nil, testConn(40003))
	cs.TakeDirty(func(netip.Addr) bool { return true })
	tickled := cs.TakeOver(testPublic)
	if len(tickled) != 2 || tickled[0].Src.Port != 40001 || tickled[1].Src.Port != 40003 {
		t.Fatalf("tickled %+v, want the two learnt connections", tickled)
	}
	if got := cs.List(testPublic); len(got) != 1 || got[0].Src.Port != 40002 {
		t.Fatalf("list after takeover %+v, want the local registration", got)
	}
	if d := cs.TakeDirty(func(netip.Addr) bool { return true }); len(d[testPublic]) != 1 {
		t.Fatalf("takeover did not mark the list for sending: %+v", d)
	}
}
