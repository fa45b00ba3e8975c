package server

import (
	"context"

	"github.com/rctdb/rctdb/control"

	"github.com/rctdb/rctdb/protocol"
)

// ctrlTCPClient records an SMB connection to one of this node's addresses
// (TCP_CLIENT), for the failover work to tickle after an address moves.
func (n *Node) ctrlTCPClient(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.tickles.add(clientOf(r), c)
	return control.Status(0)
}

// ctrlTCPAdd and ctrlTCPRemove record connections other nodes learnt of.
func (n *Node) ctrlTCPAdd(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.tickles.add(nil, c)
	return control.Status(0)
}

func (n *Node) ctrlTCPRemove(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	n.tickles.remove(c)
	return control.Status(0)
}

// ctrlGetTCPTickleList lists the client connections registered (TCP_CLIENT,
// TCP_ADD) to an address; the failover work sends tickle ACKs for them.
func (n *Node) ctrlGetTCPTickleList(ctx context.Context, r *control.Request) control.Reply {
	sa, err := protocol.DecodeSockAddr(r.Data)
	if err != nil {
		return control.FailErr(err)
	}
	tl := protocol.TickleList{Addr: sa, Conns: n.tickles.list(sa.Addr)}
	return control.OK(tl.Marshal())
}
