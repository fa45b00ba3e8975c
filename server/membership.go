package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// peerSetter is a transport whose membership can change at run time (the
// TCP transport; the in-memory one reaches every node anyway).
type peerSetter interface {
	SetPeers(peers []transport.Peer) error
}

// syncMembership follows the node list of the replicated state: the
// transport connects to added nodes and cuts removed ones off, and the
// nodes file is rewritten when it is behind the cluster (this node was
// down while nodes were added or removed). Called by watchState only.
func (n *Node) syncMembership(st *raftlayer.State) {
	if !n.raft.Initialized() || slices.Equal(st.Nodes, n.members) {
		return
	}
	changed := !nodeAddrsEqual(st.Nodes, n.members)
	members := slices.Clone(st.Nodes) // never modified: readers share it
	n.members = members
	n.nodeList.Store(&members)
	if !changed {
		return
	}
	if ps, ok := n.tr.(peerSetter); ok {
		var peers []transport.Peer
		for _, ns := range st.Nodes {
			if a, err := netip.ParseAddr(ns.Addr); err == nil && !ns.Deleted {
				peers = append(peers, transport.Peer{PNN: ns.PNN, Addr: a.Unmap()})
			}
		}
		if err := ps.SetPeers(peers); err != nil {
			n.log.Error("cannot apply the cluster's node list to the node links", "err", err)
		}
	}
	if int(n.self) < len(st.Nodes) && st.Nodes[n.self].Deleted {
		n.log.Error("this node was removed from the cluster; it will not serve again (its state directories must be removed before it can be added as a new node)")
	}
	if err := n.updateNodesFile(st.Nodes); err != nil {
		n.log.Warn("cannot bring the nodes file in step with the cluster", "file", n.cfg.Cluster.NodesFile, "err", err)
	}
}

// nodeAddrsEqual reports whether two node lists have the same nodes at the
// same addresses (flags aside).
func nodeAddrsEqual(a, b []raftlayer.NodeState) bool {
	return slices.EqualFunc(a, b, func(x, y raftlayer.NodeState) bool {
		return x.PNN == y.PNN && x.Addr == y.Addr && x.Deleted == y.Deleted
	})
}

// updateNodesFile rewrites the nodes file from the cluster's node list when
// the file is behind it: it lacks nodes added since, or lists as active a
// node that was removed. A file that is ahead (edited for a reload that has
// not happened yet) or conflicting is left alone.
func (n *Node) updateNodesFile(nodes []raftlayer.NodeState) error {
	path := n.cfg.Cluster.NodesFile
	file, err := config.LoadNodes(path)
	if err != nil {
		return err
	}
	if !fileBehind(file, nodes) {
		return nil
	}
	out := make([]config.Node, len(nodes))
	for i, ns := range nodes {
		out[i] = config.Node{PNN: ns.PNN, Deleted: ns.Deleted}
		a, err := netip.ParseAddr(ns.Addr)
		if ns.Deleted {
			a, err = netip.ParseAddr(ns.RemovedAddr)
		}
		if err == nil {
			out[i].Addr = a
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nodes-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := config.WriteNodes(tmp, out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	n.notice("nodes file brought in step with the cluster", "file", path, "nodes", len(nodes))
	return nil
}

// fileBehind reports whether the nodes file misses changes the cluster
// made and has none of its own.
func fileBehind(file []config.Node, nodes []raftlayer.NodeState) bool {
	if len(file) > len(nodes) {
		return false
	}
	behind := len(nodes) > len(file)
	for i, f := range file {
		ns := nodes[i]
		switch {
		case f.Deleted && !ns.Deleted:
			return false // a removal the cluster has not made yet
		case !f.Deleted && ns.Deleted:
			behind = true
		case !f.Deleted && f.Addr.Unmap().String() != ns.Addr:
			return false // conflicting: left to the administrator
		}
	}
	return behind
}

// ctrlGetNodesFile reads the nodes file now, as ctdbd does, so that the
// ctdb tool can compare every node's file before a reload.
func (n *Node) ctrlGetNodesFile(ctx context.Context, r *controlReq) reply {
	file, err := config.LoadNodes(n.cfg.Cluster.NodesFile)
	if err != nil {
		return failErr(err)
	}
	nm := protocol.NodeMap{}
	for _, f := range file {
		var flags uint32
		addr := ""
		if f.Deleted {
			flags = protocol.NodeFlagDeleted
		} else {
			addr = f.Addr.String()
		}
		nm.Nodes = append(nm.Nodes, protocol.NodeInfo{PNN: f.PNN, Flags: flags, Addr: n.nodeSockAddr(addr)})
	}
	return ok(nm.Marshal())
}

// ctrlReloadNodesFile makes the cluster's node list that of this node's
// nodes file, through Raft: appended lines add nodes, lines commented out
// remove them. The ctdb tool sends it to every connected node after
// checking that their files agree; the first to commit changes the list
// and the others find nothing to do.
func (n *Node) ctrlReloadNodesFile(ctx context.Context, r *controlReq) reply {
	file, err := config.LoadNodes(n.cfg.Cluster.NodesFile)
	if err != nil {
		return failErr(fmt.Errorf("reload nodes: %w", err))
	}
	cmd := &raftlayer.CmdSetNodes{}
	for _, f := range file {
		e := raftlayer.NodeEntry{PNN: f.PNN, Deleted: f.Deleted}
		if !f.Deleted {
			e.Addr = f.Addr.Unmap().String()
		}
		cmd.Nodes = append(cmd.Nodes, e)
	}
	if _, err := n.raft.Apply(ctx, cmd); err != nil {
		var rej *raftlayer.ErrRejected
		if errors.As(err, &rej) {
			n.log.Warn("nodes file refused", "file", n.cfg.Cluster.NodesFile, "reason", rej.Reason)
		}
		return failErr(fmt.Errorf("reload nodes from %s: %w", n.cfg.Cluster.NodesFile, err))
	}
	n.notice("reloaded the nodes file", "file", n.cfg.Cluster.NodesFile, "nodes", len(file))
	return ok(nil)
}

// handleDisableRecoveries answers the ctdb tool's request to hold
// recoveries (it brackets reloadnodes with one): recoveries here are the
// leader's, driven by committed state, and a node list change does not
// start one by itself, so there is nothing to hold; the node confirms with
// its pnn as ctdbd does.
func (n *Node) handleDisableRecoveries(from uint32, data []byte) {
	var req protocol.DisableMessage
	if err := req.Unmarshal(data); err != nil {
		n.log.Warn("malformed DISABLE_RECOVERIES request", "from", from, "err", err)
		return
	}
	if req.SrvID == 0 {
		return
	}
	n.sendMessage(req.PNN, req.SrvID, protocol.U32(n.self))
}

// raftMembers lets the election's leader keep the Raft group in step with
// the node list, dialling nodes at their transport addresses.
type raftMembers struct{ n *Node }

func (m raftMembers) Reconcile(ctx context.Context, st *raftlayer.State) (time.Duration, error) {
	return m.n.raft.ReconcileMembers(ctx, st, m.n.tr.RaftAddr, m.n.tr.Connected)
}
