package server

import (
	"context"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/traverse"
)

// The traverse controls hand over to the traverse coordinator.

func (n *Node) ctrlTraverseStart(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	return n.startTraverse(r.client, protocol.TraverseStartExt{DBID: t.DBID, ReqID: t.ReqID, SrvID: t.SrvID})
}

func (n *Node) ctrlTraverseStartExt(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStartExt
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	return n.startTraverse(r.client, t)
}

func (n *Node) startTraverse(c *clientConn, t protocol.TraverseStartExt) reply {
	begin, err := n.traverse.Start(c, t)
	if err != nil {
		return failErr(err)
	}
	rep := status(0)
	rep.after = begin
	return rep
}

// ctrlTraverseAll and ctrlTraverseAllExt start this node's walk for a
// coordinator.
func (n *Node) ctrlTraverseAll(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseAll
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.traverse.Walk(protocol.TraverseAllExt{TraverseAll: t})
	return status(0)
}

func (n *Node) ctrlTraverseAllExt(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseAllExt
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.traverse.Walk(t)
	return status(0)
}

func (n *Node) ctrlTraverseData(ctx context.Context, r *controlReq) reply {
	n.traverse.Data(r.from, r.Data)
	return status(0)
}

func (n *Node) ctrlTraverseKill(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.traverse.Kill(r.from, t.ReqID)
	return status(0)
}

// traverseNodes lets the coordinator reach the other nodes.
type traverseNodes struct {
	*noderpc.Endpoint
	n *Node
}

func (t traverseNodes) Active() []uint32 { return t.n.messageTargets(protocol.BroadcastActive) }

// traverseDBs finds the databases a traverse walks.
type traverseDBs struct{ n *Node }

func (d traverseDBs) Walker(dbid uint32) (traverse.Walker, bool, bool) {
	if p := d.n.pers.DB(dbid); p != nil {
		return p, true, true
	}
	if v := d.n.vol.DB(dbid); v != nil {
		return v, false, true
	}
	return nil, false, false
}
