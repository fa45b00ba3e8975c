package server

import (
	"context"

	"github.com/rctdb/rctdb/control"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// The traverse controls hand over to the traverse coordinator.

func (n *Node) ctrlTraverseStart(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	return n.startTraverse(clientOf(r), protocol.TraverseStartExt{DBID: t.DBID, ReqID: t.ReqID, SrvID: t.SrvID})
}

func (n *Node) ctrlTraverseStartExt(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TraverseStartExt
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	return n.startTraverse(clientOf(r), t)
}

func (n *Node) startTraverse(c *clientConn, t protocol.TraverseStartExt) control.Reply {
	begin, err := n.traverse.Start(c, t)
	if err != nil {
		return control.FailErr(err)
	}
	rep := control.Status(0)
	rep.After = begin
	return rep
}

// ctrlTraverseAll and ctrlTraverseAllExt start this node's walk for a
// coordinator.
func (n *Node) ctrlTraverseAll(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TraverseAll
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.traverse.Walk(protocol.TraverseAllExt{TraverseAll: t})
	return control.Status(0)
}

func (n *Node) ctrlTraverseAllExt(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TraverseAllExt
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.traverse.Walk(t)
	return control.Status(0)
}

func (n *Node) ctrlTraverseData(ctx context.Context, r *control.Request) control.Reply {
	n.traverse.Data(r.From, r.Data)
	return control.Status(0)
}

func (n *Node) ctrlTraverseKill(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.traverse.Kill(r.From, t.ReqID)
	return control.Status(0)
}

// traverseNodes lets the coordinator reach the other nodes.
type traverseNodes struct {
	*noderpc.Endpoint
	n *Node
}

func (t traverseNodes) Active() []uint32 { return t.n.messageTargets(protocol.BroadcastActive) }
