package raftlayer

import (
	"maps"
	"net/netip"
	"slices"
)

// NodeEntry is one line of a nodes file as CmdSetNodes carries it.
type NodeEntry struct {
	PNN     uint32 `json:"pnn"`
	Addr    string `json:"addr,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// CmdSetNodes makes Nodes the cluster's node list, as an edited nodes
// file describes it: lines may be appended (new nodes) and active nodes
// may be deleted; nothing else may change. A deleted node never returns:
// its pnn stays deleted, so a node that was removed cannot bring back the
// records or flags it had. Applying the current list again changes
// nothing, so every node may submit the same file.
type CmdSetNodes struct {
	Nodes []NodeEntry `json:"nodes"`
}

// setNodes applies CmdSetNodes.
func (s *State) setNodes(c *CmdSetNodes) error {
	if !s.Initialized() {
		return reject("cluster not initialised")
	}
	if len(c.Nodes) < len(s.Nodes) {
		return reject("node %d is missing from the new node list (a removed node stays as a deleted line)", len(c.Nodes))
	}
	active := map[netip.Addr]uint32{}
	for i, e := range c.Nodes {
		if e.PNN != uint32(i) {
			return reject("node %d listed at index %d", e.PNN, i)
		}
		if e.Deleted {
			continue
		}
		a, err := netip.ParseAddr(e.Addr)
		if err != nil || a.IsUnspecified() {
			return reject("node %d: %q is not a node address", i, e.Addr)
		}
		if prev, dup := active[a.Unmap()]; dup {
			return reject("node %d: address %s is already node %d's", i, a, prev)
		}
		active[a.Unmap()] = uint32(i)
	}
	if len(active) == 0 {
		return reject("the new node list has no active node")
	}
	for i := range s.Nodes {
		old, e := &s.Nodes[i], c.Nodes[i]
		switch {
		case old.Deleted && !e.Deleted:
			return reject("node %d was removed from the cluster and cannot return: add %s as a new node at the end of the nodes file", i, e.Addr)
		case !old.Deleted && !e.Deleted && !sameAddr(old.Addr, e.Addr):
			return reject("node %d has changed address (was %s, now %s)", i, old.Addr, e.Addr)
		}
	}
	for i := range s.Nodes {
		if !s.Nodes[i].Deleted && c.Nodes[i].Deleted && !slices.Contains(s.View.Disconnected, uint32(i)) {
			return reject("node %d is still connected: shut it down before removing it", i)
		}
	}
	for i := range s.Nodes {
		if n := &s.Nodes[i]; !n.Deleted && c.Nodes[i].Deleted {
			*n = NodeState{PNN: n.PNN, Deleted: true, RemovedAddr: n.Addr}
			// A removed node hosts nothing any more.
			delete(s.PublicAddrs, n.PNN)
			delete(s.NodeTunables, n.PNN)
			maps.DeleteFunc(s.IPAssign, func(_ string, p uint32) bool { return p == n.PNN })
		}
	}
	for _, e := range c.Nodes[len(s.Nodes):] {
		ns := NodeState{PNN: e.PNN, Deleted: e.Deleted}
		if !e.Deleted {
			ns.Addr = e.Addr
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return nil
}

func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}
