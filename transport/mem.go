package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// MemNetwork connects in-memory transports in one process. Links between
// two started transports are up unless the pair is cut by Partition or Cut;
// cutting a pair drops its in-flight packets and closes its Raft streams, as
// a failed network would.
type MemNetwork struct {
	mu    sync.Mutex
	nodes map[uint32]*Mem
	cut   map[[2]uint32]bool
	pipes map[[2]uint32][]net.Conn
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{
		nodes: make(map[uint32]*Mem),
		cut:   make(map[[2]uint32]bool),
		pipes: make(map[[2]uint32][]net.Conn),
	}
}

func pairKey(a, b uint32) [2]uint32 {
	if a > b {
		a, b = b, a
	}
	return [2]uint32{a, b}
}

// Transport returns the transport of node self, replacing a closed one of
// the same pnn (a restarted node).
func (n *MemNetwork) Transport(self uint32) *Mem {
	return &Mem{net: n, self: self, events: newEventQueue(), view: make(map[uint32]bool), downAt: make(map[uint32]time.Time),
		raftLn: newStreamListener(memAddr(self))}
}

// Partition cuts every link between nodes of different groups and heals
// every link inside a group. Nodes in no group are cut from everyone.
func (n *MemNetwork) Partition(groups ...[]uint32) {
	group := make(map[uint32]int)
	for i, g := range groups {
		for _, p := range g {
			group[p] = i + 1
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	all := n.allPNNsLocked(group)
	for _, a := range all {
		for _, b := range all {
			if a < b {
				ga, gb := group[a], group[b]
				n.setCutLocked(a, b, ga == 0 || gb == 0 || ga != gb)
			}
		}
	}
	n.updateLocked()
}

// Heal restores every link.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range n.cut {
		delete(n.cut, k)
	}
	n.updateLocked()
}

// Cut cuts (or with down=false restores) the link between a and b.
func (n *MemNetwork) Cut(a, b uint32, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setCutLocked(a, b, down)
	n.updateLocked()
}

func (n *MemNetwork) allPNNsLocked(extra map[uint32]int) []uint32 {
	seen := make(map[uint32]bool)
	var all []uint32
	for p := range n.nodes {
		seen[p] = true
		all = append(all, p)
	}
	for p := range extra {
		if !seen[p] {
			all = append(all, p)
		}
	}
	return all
}

func (n *MemNetwork) setCutLocked(a, b uint32, down bool) {
	k := pairKey(a, b)
	if !down {
		delete(n.cut, k)
		return
	}
	n.cut[k] = true
	for _, c := range n.pipes[k] {
		c.Close()
	}
	delete(n.pipes, k)
}

func (n *MemNetwork) upLocked(a, b uint32) bool {
	if a == b || n.cut[pairKey(a, b)] {
		return false
	}
	ma, mb := n.nodes[a], n.nodes[b]
	return ma != nil && mb != nil && ma.running && mb.running
}

// updateLocked recomputes every node's view and raises link events.
func (n *MemNetwork) updateLocked() {
	for a, ma := range n.nodes {
		if !ma.running {
			continue
		}
		for b := range n.nodes {
			if a == b {
				continue
			}
			up := n.upLocked(a, b)
			if ma.view[b] != up {
				ma.view[b] = up
				if !up {
					ma.inbox(b).drop()
					ma.downAt[b] = time.Now()
				}
				ma.events.push(linkEvent{pnn: b, up: up})
			}
		}
		for b, up := range ma.view {
			if _, ok := n.nodes[b]; !ok && up {
				ma.view[b] = false
				ma.downAt[b] = time.Now()
				ma.events.push(linkEvent{pnn: b, up: false})
			}
		}
	}
}

// Mem is an in-memory Transport.
type Mem struct {
	net    *MemNetwork
	self   uint32
	h      Handler
	events *eventQueue
	raftLn *streamListener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Guarded by net.mu.
	running bool
	view    map[uint32]bool
	downAt  map[uint32]time.Time // when each peer's link last went down
	inboxes map[uint32]*memInbox
	formed  func() bool

	sent, recv atomic.Uint64
}

var _ Transport = (*Mem)(nil)

// Start registers the transport on its network.
func (m *Mem) Start(h Handler) error {
	m.h = h
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.events.run(h, m.ctx.Done())
	}()
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.nodes[m.self]; old != nil && old.running {
		return fmt.Errorf("mem transport: node %d already running", m.self)
	}
	m.inboxes = make(map[uint32]*memInbox)
	m.running = true
	n.nodes[m.self] = m
	n.updateLocked()
	return nil
}

// inbox returns the ordered queue of packets from pnn; net.mu is held.
func (m *Mem) inbox(from uint32) *memInbox {
	ib := m.inboxes[from]
	if ib == nil {
		ib = &memInbox{wake: make(chan struct{}, 1)}
		m.inboxes[from] = ib
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			ib.run(m.ctx, func(pkt []byte) {
				m.recv.Add(1)
				m.h.HandlePacket(from, pkt)
			})
		}()
	}
	return ib
}

// Send delivers a copy of pkt to pnn's handler, asynchronously and in order.
func (m *Mem) Send(pnn uint32, pkt []byte) error {
	n := m.net
	n.mu.Lock()
	if !m.running || !n.upLocked(m.self, pnn) {
		n.mu.Unlock()
		return ErrNotConnected
	}
	ib := n.nodes[pnn].inbox(m.self)
	n.mu.Unlock()
	ib.push(append([]byte(nil), pkt...))
	m.sent.Add(1)
	return nil
}

// Connected reports whether the link to pnn is up.
func (m *Mem) Connected(pnn uint32) bool {
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	return m.running && m.net.upLocked(m.self, pnn)
}

// Stats returns packet counters.
func (m *Mem) Stats() Stats { return Stats{PacketsSent: m.sent.Load(), PacketsRecv: m.recv.Load()} }

// RaftAddr returns "mem:<pnn>".
func (m *Mem) RaftAddr(pnn uint32) string { return "mem:" + strconv.FormatUint(uint64(pnn), 10) }

// RaftListener yields incoming Raft streams.
func (m *Mem) RaftListener() net.Listener { return m.raftLn }

// DialRaft connects a pipe to the node at addr, if the link is up.
func (m *Mem) DialRaft(addr string, timeout time.Duration) (net.Conn, error) {
	p, err := strconv.ParseUint(strings.TrimPrefix(addr, "mem:"), 10, 32)
	if err != nil || !strings.HasPrefix(addr, "mem:") {
		return nil, fmt.Errorf("dial raft %q: not a mem address", addr)
	}
	pnn := uint32(p)
	n := m.net
	n.mu.Lock()
	if !m.running || !n.upLocked(m.self, pnn) {
		n.mu.Unlock()
		return nil, fmt.Errorf("dial raft node %d: %w", pnn, ErrNotConnected)
	}
	target := n.nodes[pnn]
	client, server := net.Pipe()
	k := pairKey(m.self, pnn)
	n.pipes[k] = append(n.pipes[k], client, server)
	n.mu.Unlock()
	if !target.raftLn.push(server) {
		client.Close()
		server.Close()
		return nil, fmt.Errorf("dial raft node %d: %w", pnn, ErrClosed)
	}
	return client, nil
}

// Close takes the node off the network and stops its goroutines.
func (m *Mem) Close() error {
	n := m.net
	n.mu.Lock()
	if !m.running {
		n.mu.Unlock()
		return nil
	}
	m.running = false
	if n.nodes[m.self] == m {
		delete(n.nodes, m.self)
	}
	for k, conns := range n.pipes {
		if k[0] == m.self || k[1] == m.self {
			for _, c := range conns {
				c.Close()
			}
			delete(n.pipes, k)
		}
	}
	n.updateLocked()
	n.mu.Unlock()
	m.cancel()
	m.raftLn.Close()
	m.wg.Wait()
	return nil
}

type memAddr uint32

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return "mem:" + strconv.FormatUint(uint64(a), 10) }

// memInbox delivers packets from one sender in order.
type memInbox struct {
	mu    sync.Mutex
	queue [][]byte
	wake  chan struct{}
}

func (ib *memInbox) push(pkt []byte) {
	ib.mu.Lock()
	ib.queue = append(ib.queue, pkt)
	ib.mu.Unlock()
	select {
	case ib.wake <- struct{}{}:
	default:
	}
}

func (ib *memInbox) drop() {
	ib.mu.Lock()
	ib.queue = nil
	ib.mu.Unlock()
}

func (ib *memInbox) run(ctx context.Context, deliver func([]byte)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ib.wake:
		}
		for {
			ib.mu.Lock()
			if len(ib.queue) == 0 {
				ib.mu.Unlock()
				break
			}
			pkt := ib.queue[0]
			ib.queue = ib.queue[1:]
			ib.mu.Unlock()
			if protocol.PacketOp(pkt) != protocol.OpReqKeepalive {
				deliver(pkt)
			}
		}
	}
}

// SetFormed installs the function that tells the other nodes' Survey
// whether this node has cluster state.
func (m *Mem) SetFormed(f func() bool) {
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	m.formed = f
}

// Survey reports, for every node whose link to this one is up, whether it
// has cluster state. The in-memory network knows no membership, so no
// node is ever refused.
func (m *Mem) Survey() map[uint32]PeerStatus {
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[uint32]PeerStatus)
	for p, o := range n.nodes {
		if p == m.self || !o.running || !n.upLocked(m.self, p) {
			continue
		}
		out[p] = PeerFresh
		if o.formed != nil && o.formed() {
			out[p] = PeerFormed
		}
	}
	return out
}
