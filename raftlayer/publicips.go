package raftlayer

import (
	"maps"
	"net/netip"
	"slices"
)

// NodeAddresses is what a node reports of its public addresses: those
// its public_addresses file lists, in file order, and the interfaces
// whose link is down. The leader allocates addresses from every node's
// report.
type NodeAddresses struct {
	Addrs     []PublicAddr `json:"addrs,omitempty"`
	LinksDown []string     `json:"links_down,omitempty"`
}

// PublicAddr is one public address a node may host: ADDRESS/BITS and the
// interfaces that may carry it, in file order.
type PublicAddr struct {
	Prefix string   `json:"prefix"`
	Ifaces []string `json:"ifaces"`
}

// Equal reports whether two reports are the same.
func (a NodeAddresses) Equal(b NodeAddresses) bool {
	return slices.EqualFunc(a.Addrs, b.Addrs, func(x, y PublicAddr) bool {
		return x.Prefix == y.Prefix && slices.Equal(x.Ifaces, y.Ifaces)
	}) && slices.Equal(a.LinksDown, b.LinksDown)
}

// Find returns the node's entry for addr.
func (a NodeAddresses) Find(addr netip.Addr) (PublicAddr, bool) {
	for _, p := range a.Addrs {
		if pp, err := netip.ParsePrefix(p.Prefix); err == nil && pp.Addr() == addr {
			return p, true
		}
	}
	return PublicAddr{}, false
}

// CmdSetNodeAddresses records a node's report of its public addresses.
type CmdSetNodeAddresses struct {
	PNN   uint32        `json:"pnn"`
	Addrs NodeAddresses `json:"addrs"`
}

// CmdAssignIPs installs the holders of the public addresses the leader
// decided (address -> pnn; an address missing has no holder), computed
// from assignment PrevSeq: a deposed leader's stale decision cannot land.
type CmdAssignIPs struct {
	Assign  map[string]uint32 `json:"assign"`
	PrevSeq uint64            `json:"prev_seq"`
}

func (*CmdSetNodeAddresses) commandType() cmdType { return typeSetNodeAddresses }
func (*CmdAssignIPs) commandType() cmdType        { return typeAssignIPs }

// Holder returns the node that holds addr, if any.
func (s *State) Holder(addr netip.Addr) (uint32, bool) {
	p, ok := s.IPAssign[addr.Unmap().String()]
	return p, ok
}

// HeldBy lists the addresses node pnn holds, sorted.
func (s *State) HeldBy(pnn uint32) []netip.Addr {
	var out []netip.Addr
	for a, p := range s.IPAssign {
		if p == pnn {
			if addr, err := netip.ParseAddr(a); err == nil {
				out = append(out, addr)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

func (s *State) setNodeAddresses(c *CmdSetNodeAddresses) error {
	if _, err := s.node(c.PNN); err != nil {
		return err
	}
	for _, a := range c.Addrs.Addrs {
		if _, err := netip.ParsePrefix(a.Prefix); err != nil || len(a.Ifaces) == 0 {
			return reject("node %d reports a bad public address %q %v", c.PNN, a.Prefix, a.Ifaces)
		}
	}
	if s.PublicAddrs == nil {
		s.PublicAddrs = make(map[uint32]NodeAddresses)
	}
	if len(c.Addrs.Addrs) == 0 && len(c.Addrs.LinksDown) == 0 {
		delete(s.PublicAddrs, c.PNN)
		return nil
	}
	s.PublicAddrs[c.PNN] = c.Addrs
	return nil
}

func (s *State) assignIPs(c *CmdAssignIPs) error {
	if !s.Initialized() {
		return reject("cluster not initialised")
	}
	if c.PrevSeq != s.IPSeq {
		return reject("public IP assignment was computed against assignment %d, current is %d", c.PrevSeq, s.IPSeq)
	}
	for a, p := range c.Assign {
		if _, err := netip.ParseAddr(a); err != nil {
			return reject("assignment of %q: not an address", a)
		}
		if int(p) >= len(s.Nodes) || s.Nodes[p].Deleted {
			return reject("assignment of %s to node %d, which does not exist", a, p)
		}
	}
	s.IPAssign = maps.Clone(c.Assign)
	s.IPSeq++
	return nil
}
