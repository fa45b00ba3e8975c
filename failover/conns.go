package failover

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
)

// conns are the TCP connections of SMB clients to the public addresses,
// the "tickle lists" of CTDB: smbd registers each connection on the node
// that accepted it (TCP_CLIENT), that node tells every node (TCP_ADD), and
// the holder of an address sends every node its whole list when it
// changed (SET_TCP_TICKLE_LIST, every TickleUpdateInterval). A node that
// takes an address over sends each connection a tickle ACK, so that the
// client finds out at once that its connection is gone and reconnects.
type conns struct {
	mu sync.Mutex
	// byAddr holds each address's connections in 4.17's order: as added,
	// a removed one's place taken by the last.
	byAddr map[netip.Addr][]connEntry
	// dirty are the addresses whose list changed since it was last sent.
	dirty map[netip.Addr]bool
}

// connEntry is a connection and the local client that registered it (nil:
// learnt from another node).
type connEntry struct {
	c     protocol.Connection
	owner control.Client
}

func newConns() *conns {
	return &conns{byAddr: map[netip.Addr][]connEntry{}, dirty: map[netip.Addr]bool{}}
}

// canonical keeps only what identifies a connection: IPv4-mapped
// addresses become IPv4 and unused sockaddr bytes do not count.
func canonical(c protocol.Connection) protocol.Connection {
	fix := func(s protocol.SockAddr) protocol.SockAddr {
		return protocol.SockAddrFrom(netip.AddrPortFrom(s.Addr.Unmap(), s.Port))
	}
	return protocol.Connection{Src: fix(c.Src), Dst: fix(c.Dst)}
}

// Add records a connection (owner: the local client that registered it).
func (cs *conns) Add(owner control.Client, c protocol.Connection) {
	c = canonical(c)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	list := cs.byAddr[c.Dst.Addr]
	if i := slices.IndexFunc(list, func(e connEntry) bool { return e.c == c }); i < 0 {
		cs.byAddr[c.Dst.Addr] = append(list, connEntry{c: c, owner: owner})
	} else if owner != nil {
		list[i].owner = owner
	}
	cs.dirty[c.Dst.Addr] = true
}

// Remove forgets a connection.
func (cs *conns) Remove(c protocol.Connection) {
	c = canonical(c)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	list := cs.byAddr[c.Dst.Addr]
	if i := slices.IndexFunc(list, func(e connEntry) bool { return e.c == c }); i >= 0 {
		cs.byAddr[c.Dst.Addr] = removeAt(list, i)
		cs.dirty[c.Dst.Addr] = true
	}
}

// removeAt removes list[i] as 4.17 does: the last entry takes its place.
func removeAt(list []connEntry, i int) []connEntry {
	last := len(list) - 1
	list[i] = list[last]
	list[last] = connEntry{}
	return list[:last]
}

// DropClient forgets the connections a local client registered.
func (cs *conns) DropClient(owner control.Client) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for a, list := range cs.byAddr {
		for i := 0; i < len(list); {
			if list[i].owner == owner {
				list = removeAt(list, i)
				cs.dirty[a] = true
				continue
			}
			i++
		}
		cs.byAddr[a] = list
	}
}

// Replace installs the list the holder of addr sent.
func (cs *conns) Replace(addr netip.Addr, list []protocol.Connection) {
	addr = addr.Unmap()
	var entries []connEntry
	for _, c := range list {
		c = canonical(c)
		if !slices.ContainsFunc(entries, func(e connEntry) bool { return e.c == c }) {
			entries = append(entries, connEntry{c: c})
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.byAddr[addr] = entries
}

// List returns addr's connections in 4.17's order.
func (cs *conns) List(addr netip.Addr) []protocol.Connection {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []protocol.Connection
	for _, e := range cs.byAddr[addr.Unmap()] {
		out = append(out, e.c)
	}
	return out
}

// Released is told that this node let go of addr; its list stays, as a
// copy, for the node that takes the address over.
func (cs *conns) Released(addr netip.Addr) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.dirty, addr)
}

// TakeOver is told that this node now has addr on its interface. It
// takes the connections learnt from other nodes out of addr's list and
// returns them, to be tickled: their clients reconnect and smbd registers
// them again. Those registered here since the address came up stay.
func (cs *conns) TakeOver(addr netip.Addr) []protocol.Connection {
	addr = addr.Unmap()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []protocol.Connection
	list := cs.byAddr[addr]
	for i := 0; i < len(list); {
		if list[i].owner == nil {
			out = append(out, list[i].c)
			list = removeAt(list, i)
			continue
		}
		i++
	}
	cs.byAddr[addr] = list
	cs.dirty[addr] = true
	return out
}

// TakeDirty returns the addresses among hosted whose list changed, with
// their lists, and marks them sent.
func (cs *conns) TakeDirty(hosted func(netip.Addr) bool) map[netip.Addr][]protocol.Connection {
	cs.mu.Lock()
	var addrs []netip.Addr
	for a := range cs.dirty {
		if hosted(a) {
			addrs = append(addrs, a)
			delete(cs.dirty, a)
		}
	}
	cs.mu.Unlock()
	out := map[netip.Addr][]protocol.Connection{}
	for _, a := range addrs {
		out[a] = cs.List(a)
	}
	return out
}

// MarkDirty marks the lists of the given addresses as to be sent.
func (cs *conns) MarkDirty(addrs []netip.Addr) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, a := range addrs {
		cs.dirty[a] = true
	}
}
