package failover

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Want is what a takeover run aims at: the holder of every public address
// the nodes report (an address no node can host has no entry), and how
// LCP2 got there.
type Want struct {
	Assign   map[string]uint32
	Moves    []Move
	Unhosted []netip.Addr
}

// Desired computes, from an applied state, the assignment a takeover run
// wants, as a 4.17 leader would: the cluster's addresses are every
// address a node reports; a node can host one if it is a running member
// of the cluster with none of the INACTIVE or DISABLED flags, lists the
// address and has one of its interfaces up; the tunables choose the
// algorithm and its rules (the tunables of node leader, who runs the
// allocation, as 4.17's takeover helper asks its own node); force lists
// the nodes REBALANCE_NODE named.
func Desired(st *raftlayer.State, leader uint32, force []uint32) (Want, error) {
	tun := st.TunablesOf(leader)
	in := Input{
		NumNodes:       len(st.Nodes),
		Algorithm:      Algorithm(tun.IPAllocAlgorithm),
		NoIPTakeover:   tun.NoIPTakeover != 0,
		NoIPFailback:   tun.NoIPFailback != 0,
		ForceRebalance: force,
	}
	byAddr := map[netip.Addr]int{} // index into in.Addresses
	for _, pnn := range slices.Sorted(maps.Keys(st.PublicAddrs)) {
		if int(pnn) >= len(st.Nodes) || st.Nodes[pnn].Deleted {
			continue
		}
		report := st.PublicAddrs[pnn]
		hs := HostState{NodeFlags: st.Flags(pnn), Running: st.View.IsMember(pnn, st.Nodes[pnn].Incarnation)}
		for _, pa := range report.Addrs {
			p, err := netip.ParsePrefix(pa.Prefix)
			if err != nil {
				continue // the state machine refuses such reports
			}
			a := p.Addr().Unmap()
			i, ok := byAddr[a]
			if !ok {
				owner := NoNode
				if h, held := st.Holder(a); held {
					owner = h
				}
				i = len(in.Addresses)
				byAddr[a] = i
				in.Addresses = append(in.Addresses, Address{Addr: a, Owner: owner})
			}
			hs.Configured = true
			hs.LinksUp = hs.LinksUp[:0]
			for _, iface := range pa.Ifaces {
				hs.LinksUp = append(hs.LinksUp, !slices.Contains(report.LinksDown, iface))
			}
			if CanHost(hs) {
				in.Addresses[i].Hosts = append(in.Addresses[i].Hosts, pnn)
			}
		}
	}
	res, err := Allocate(in)
	if err != nil {
		return Want{}, err
	}
	w := Want{Assign: map[string]uint32{}, Moves: res.Moves, Unhosted: res.Unhosted()}
	for _, as := range res.Assignments {
		if as.Owner != NoNode {
			w.Assign[as.Addr.String()] = as.Owner
		}
	}
	return w, nil
}

// Steps splits the change from the current assignment to the wanted one:
// release is the current assignment without the addresses that move or
// go, which must be let go of before anyone takes them; moved maps each
// of those addresses to its old holder.
func Steps(current, want map[string]uint32) (release, moved map[string]uint32) {
	release, moved = map[string]uint32{}, map[string]uint32{}
	for a, p := range current {
		if q, ok := want[a]; ok && q == p {
			release[a] = p
		} else {
			moved[a] = p
		}
	}
	return release, moved
}

// canHold reports whether node pnn may hold addresses at all in st: an
// active member with no DISABLED flag. A node that may not releases what
// it holds before the leader's next run even begins.
func canHold(st *raftlayer.State, pnn uint32) bool {
	return int(pnn) < len(st.Nodes) && st.Flags(pnn)&(protocol.NodeFlagsInactive|protocol.NodeFlagsDisabled) == 0
}
