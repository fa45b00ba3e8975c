package server

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"

	"github.com/rctdb/rctdb/protocol"
)

// tickles records TCP connections of SMB clients per server address, from
// local clients (TCP_CLIENT) and other nodes (TCP_ADD). A local client's
// connections vanish with it.
type tickles struct {
	mu     sync.Mutex
	byAddr map[netip.Addr]map[protocol.Connection]*clientConn
}

func newTickles() *tickles {
	return &tickles{byAddr: make(map[netip.Addr]map[protocol.Connection]*clientConn)}
}

func (t *tickles) add(owner *clientConn, c protocol.Connection) {
	c = canonical(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byAddr[c.Dst.Addr]
	if m == nil {
		m = make(map[protocol.Connection]*clientConn)
		t.byAddr[c.Dst.Addr] = m
	}
	m[c] = owner
}

func (t *tickles) remove(c protocol.Connection) {
	c = canonical(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.byAddr[c.Dst.Addr]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(t.byAddr, c.Dst.Addr)
		}
	}
}

// dropClient forgets the connections a local client registered.
func (t *tickles) dropClient(owner *clientConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for a, m := range t.byAddr {
		for c, o := range m {
			if o == owner {
				delete(m, c)
			}
		}
		if len(m) == 0 {
			delete(t.byAddr, a)
		}
	}
}

// list returns the connections to addr.
func (t *tickles) list(addr netip.Addr) []protocol.Connection {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []protocol.Connection
	for c := range t.byAddr[addr.Unmap()] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b protocol.Connection) int {
		return cmp.Or(a.Src.Addr.Compare(b.Src.Addr), cmp.Compare(a.Src.Port, b.Src.Port))
	})
	return out
}

// canonical keeps only what identifies a connection: IPv4-mapped addresses
// become IPv4 and unused sockaddr bytes do not count.
func canonical(c protocol.Connection) protocol.Connection {
	fix := func(s protocol.SockAddr) protocol.SockAddr {
		return protocol.SockAddrFrom(netip.AddrPortFrom(s.Addr.Unmap(), s.Port))
	}
	return protocol.Connection{Src: fix(c.Src), Dst: fix(c.Dst)}
}
