package server

import (
	"context"

	"github.com/rctdb/rctdb/control"

	"github.com/rctdb/rctdb/protocol"
)

// ctrlGetNodesFile reads the nodes file now, as ctdbd does.
func (n *Node) ctrlGetNodesFile(ctx context.Context, r *control.Request) control.Reply {
	nm, err := n.members.NodesFile()
	if err != nil {
		return control.FailErr(err)
	}
	return control.OK(nm.Marshal())
}

// ctrlReloadNodesFile changes the cluster's node list to this node's
// nodes file, through Raft.
func (n *Node) ctrlReloadNodesFile(ctx context.Context, r *control.Request) control.Reply {
	if _, err := n.members.Reload(ctx); err != nil {
		return control.FailErr(err)
	}
	return control.OK(nil)
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
	n.SendMessage(req.PNN, req.SrvID, protocol.U32(n.self))
}
