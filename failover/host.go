package failover

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Host is the operating system as failover sees it: the interfaces of
// this node and the addresses on them. linuxhost implements it with
// netlink and raw sockets; MemHost in memory.
type Host interface {
	// LinksUp reports, for each named interface that exists, whether its
	// link can carry traffic; a missing interface has no entry.
	LinksUp(ifaces []string) (map[string]bool, error)
	// Addresses lists the addresses on the named interfaces.
	Addresses(ifaces []string) (map[string][]netip.Prefix, error)
	// SetAddress puts p on iface, or renews it, with a lease the kernel
	// enforces (0: forever).
	SetAddress(iface string, p netip.Prefix, lease time.Duration) error
	// DeleteAddress takes p off iface (absent: no error).
	DeleteAddress(iface string, p netip.Prefix) error
	// Changes receives a value whenever links or addresses change.
	Changes() <-chan struct{}
	// Announce sends one round of gratuitous ARP (IPv4) or unsolicited
	// neighbour advertisement (IPv6) for a on iface.
	Announce(iface string, a netip.Addr) error
	// SendTickleACK sends a TCP ACK from src to dst (CTDB's tickle).
	SendTickleACK(src, dst netip.AddrPort) error
	// KillConnections resets the TCP connections whose local address is a.
	KillConnections(a netip.Addr) (killed, total int, err error)
}

// MemHost is a Host in memory, for tests: interfaces, their links and
// addresses, and a record of what was announced and tickled.
type MemHost struct {
	changes chan struct{}

	mu        sync.Mutex
	links     map[string]bool // iface -> up
	addrs     map[string]map[netip.Prefix]time.Time
	announced []netip.Addr
	tickled   []netip.AddrPort // destinations of tickle ACKs
	killed    []netip.Addr
}

// NewMemHost returns a host with the given interfaces, all up.
func NewMemHost(ifaces ...string) *MemHost {
	h := &MemHost{changes: make(chan struct{}, 1), links: map[string]bool{}, addrs: map[string]map[netip.Prefix]time.Time{}}
	for _, i := range ifaces {
		h.links[i] = true
		h.addrs[i] = map[netip.Prefix]time.Time{}
	}
	return h
}

func (h *MemHost) changed() {
	select {
	case h.changes <- struct{}{}:
	default:
	}
}

// SetLink sets an interface's link state, as a cable would.
func (h *MemHost) SetLink(iface string, up bool) {
	h.mu.Lock()
	h.links[iface] = up
	h.mu.Unlock()
	h.changed()
}

// Remove takes an address off an interface behind failover's back.
func (h *MemHost) Remove(iface string, p netip.Prefix) {
	h.mu.Lock()
	delete(h.addrs[iface], p)
	h.mu.Unlock()
	h.changed()
}

// Add puts an address on an interface behind failover's back (a stale
// one left by an earlier run).
func (h *MemHost) Add(iface string, p netip.Prefix) {
	h.mu.Lock()
	h.addrs[iface][p] = time.Time{}
	h.mu.Unlock()
	h.changed()
}

// Holds lists the interfaces that carry a, sorted; expired leases do not
// count.
func (h *MemHost) Holds(a netip.Addr) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i, as := range h.addrs {
		for p, until := range as {
			if p.Addr() == a && (until.IsZero() || time.Now().Before(until)) {
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Announced and Tickled return what was sent so far.
func (h *MemHost) Announced() []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.announced)
}

// Tickled returns the destinations of the tickle ACKs sent so far.
func (h *MemHost) Tickled() []netip.AddrPort {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.tickled)
}

// LinksUp implements Host.
func (h *MemHost) LinksUp(ifaces []string) (map[string]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]bool{}
	for _, i := range ifaces {
		if up, ok := h.links[i]; ok {
			out[i] = up
		}
	}
	return out, nil
}

// Addresses implements Host; leases that ran out are gone, as the kernel
// removes them.
func (h *MemHost) Addresses(ifaces []string) (map[string][]netip.Prefix, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]netip.Prefix{}
	now := time.Now()
	for _, i := range ifaces {
		for p, until := range h.addrs[i] {
			if !until.IsZero() && !now.Before(until) {
				delete(h.addrs[i], p)
				continue
			}
			out[i] = append(out[i], p)
		}
	}
	return out, nil
}

// SetAddress implements Host.
func (h *MemHost) SetAddress(iface string, p netip.Prefix, lease time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	as, ok := h.addrs[iface]
	if !ok {
		return fmt.Errorf("set address %s on %s: no such interface", p, iface)
	}
	var until time.Time
	if lease > 0 {
		until = time.Now().Add(lease)
	}
	as[p] = until
	return nil
}

// DeleteAddress implements Host.
func (h *MemHost) DeleteAddress(iface string, p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for q := range h.addrs[iface] {
		if q.Addr() == p.Addr() {
			delete(h.addrs[iface], q)
		}
	}
	return nil
}

// Changes implements Host.
func (h *MemHost) Changes() <-chan struct{} { return h.changes }

// Announce implements Host.
func (h *MemHost) Announce(iface string, a netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.announced = append(h.announced, a)
	return nil
}

// SendTickleACK implements Host.
func (h *MemHost) SendTickleACK(src, dst netip.AddrPort) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tickled = append(h.tickled, dst)
	return nil
}

// KillConnections implements Host.
func (h *MemHost) KillConnections(a netip.Addr) (int, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.killed = append(h.killed, a)
	return 0, 0, nil
}
