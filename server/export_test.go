package server

import "net"

// ServeClientForTest hands conn to the node as if the client socket had
// accepted it from process pid; the returned channel is closed when the
// connection's reader has ended.
func (n *Node) ServeClientForTest(conn net.Conn, pid int32) <-chan struct{} {
	done := make(chan struct{})
	n.serveClient(conn, pid, done)
	return done
}

// NumClientsForTest is how many client connections the node holds.
func (n *Node) NumClientsForTest() int { return n.reg.numClients() }
