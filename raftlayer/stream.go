package raftlayer

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Transport is what Raft needs from the node transport: streams to and from
// other nodes on the shared port.
type Transport interface {
	RaftAddr(pnn uint32) string
	DialRaft(addr string, timeout time.Duration) (net.Conn, error)
	RaftListener() net.Listener
}

// streamLayer adapts Transport to raft.StreamLayer.
type streamLayer struct {
	tr   Transport
	ln   net.Listener
	addr raftAddr
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *streamLayer) Close() error              { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr            { return s.addr }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.tr.DialRaft(string(address), timeout)
}

// raftAddr is the address Raft advertises for this node; it must equal what
// other nodes' configuration holds for it.
type raftAddr string

func (a raftAddr) Network() string { return "rctdb" }
func (a raftAddr) String() string  { return string(a) }
