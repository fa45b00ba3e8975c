package server

import "net"

// ServeClientForTest hands conn to the node as if the client socket had
// accepted it from process pid of root; the returned channel is closed
// when the connection's reader has ended, the id names the client.
func (n *Node) ServeClientForTest(conn net.Conn, pid int32) (<-chan struct{}, uint32) {
	done := make(chan struct{})
	id := n.serveClient(conn, pid, 0, done)
	return done, id
}

// HoldsClientForTest reports whether the node still knows client id.
func (n *Node) HoldsClientForTest(id uint32) bool {
	n.reg.mu.RLock()
	defer n.reg.mu.RUnlock()
	return n.reg.clients[id] != nil
}
