package server

import (
	"github.com/rctdb/rctdb/protocol"
)

// messageTargets expands a destination into node pnns (self included where
// the destination includes it), as ctdbd's ctdb_queue_packet does.
func (n *Node) messageTargets(dest uint32) []uint32 {
	switch dest {
	case protocol.CurrentNode, n.self:
		return []uint32{n.self}
	case protocol.BroadcastAll, protocol.BroadcastActive, protocol.BroadcastConnected:
		nm := n.nodeMap()
		var out []uint32
		for _, node := range nm.Nodes {
			f := node.Flags
			switch {
			case f&protocol.NodeFlagDeleted != 0:
				continue
			case dest == protocol.BroadcastActive && f&protocol.NodeFlagsInactive != 0:
				continue
			case dest == protocol.BroadcastConnected && node.PNN != n.self && !n.tr.Connected(node.PNN):
				continue
			}
			out = append(out, node.PNN)
		}
		return out
	}
	if st, _ := n.raft.Current(); int(dest) < len(st.Nodes) && !st.Nodes[dest].Deleted {
		return []uint32{dest}
	}
	return nil
}

// SendMessage routes a message from this node (for a local client or the
// daemon itself) to dest.
func (n *Node) SendMessage(dest uint32, srvid uint64, data []byte) {
	targets := n.messageTargets(dest)
	if len(targets) == 0 {
		n.log.Debug("dropping message to unknown node", "dest", dest, "srvid", srvid)
		return
	}
	for _, t := range targets {
		if t == n.self {
			n.deliver(n.self, srvid, data)
			continue
		}
		m := protocol.ReqMessage{
			Header: protocol.Header{Generation: n.generation(), DestNode: t, SrcNode: n.self},
			SrvID:  srvid, Data: data,
		}
		if err := n.sendNode(t, m.Marshal()); err == nil {
			n.sm.messagesRemote.Inc()
		}
	}
}

// deliver hands a message that reached this node to the daemon's own
// handler for its srvid, if any, and to every local client registered for it.
func (n *Node) deliver(from uint32, srvid uint64, data []byte) {
	if h := n.internal[srvid]; h != nil {
		h(from, data)
	}
	if n.dbs.OfferPush(srvid, data) {
		return
	}
	n.DeliverLocal(srvid, data)
}

// DeliverLocal sends a message to the local clients registered for srvid.
func (n *Node) DeliverLocal(srvid uint64, data []byte) {
	receivers := n.reg.receivers(srvid)
	if len(receivers) == 0 {
		return
	}
	m := protocol.ReqMessage{
		Header: protocol.Header{Generation: n.generation(), SrcNode: n.self},
		SrvID:  srvid, Data: data,
	}
	pkt := m.Marshal()
	for _, c := range receivers {
		c.send(pkt)
		n.sm.messagesLocal.Inc()
	}
}

// messageClient sends one message to one local client.
func (n *Node) messageClient(c *clientConn, srvid uint64, data []byte) {
	m := protocol.ReqMessage{
		Header: protocol.Header{Generation: n.generation(), SrcNode: n.self},
		SrvID:  srvid, Data: data,
	}
	c.send(m.Marshal())
}

// handleNodeMessage delivers a message from another node.
func (n *Node) handleNodeMessage(from uint32, pkt []byte) {
	var m protocol.ReqMessage
	if err := m.Unmarshal(pkt); err != nil {
		n.log.Warn("dropping malformed REQ_MESSAGE from node", "pnn", from, "err", err)
		return
	}
	n.deliver(from, m.SrvID, m.Data)
}
