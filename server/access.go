package server

import (
	"syscall"

	"github.com/rctdb/rctdb/access"
	"github.com/rctdb/rctdb/protocol"
)

// refuseUnprivileged answers or drops a packet that c's process may not
// send (package access decides) and reports whether it did; the first
// refusal of a connection is logged as a warning, later ones at debug
// level.
func (n *Node) refuseUnprivileged(c *clientConn, op protocol.Operation, pkt []byte) bool {
	r, refused := access.Check(c.uid, op, pkt)
	if !refused {
		return false
	}
	args := []any{"client", c.id, "pid", c.pid, "uid", c.uid, "request", r.What, "err", r.Msg}
	if c.refusals++; c.refusals == 1 {
		n.log.Warn("refused a request of an unprivileged client", args...)
	} else {
		n.log.Debug("refused a request of an unprivileged client", args...)
	}
	switch {
	case r.Control != nil:
		n.replyClient(c, r.Control, r.Reply)
	case r.CallReply:
		rc := protocol.ReplyCall{
			Header: protocol.Header{Generation: n.generation(), SrcNode: n.self, ReqID: r.CallReqID},
			Status: -int32(syscall.EACCES),
		}
		c.send(rc.Marshal())
	}
	return true
}
