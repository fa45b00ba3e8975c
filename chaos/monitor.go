package chaos

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// Sample is one node's view of the cluster at one moment.
type Sample struct {
	Node int   `json:"node"`
	At   int64 `json:"at"` // CLOCK_MONOTONIC ns, when the answer arrived
	// Flags are the node flags the node sees, by pnn.
	Flags      []uint32 `json:"flags"`
	Generation uint32   `json:"generation"`
}

// monitor samples every node's node map and vnn map generation until its
// context ends.
type monitor struct {
	sockets []string
	every   time.Duration
	wg      sync.WaitGroup

	mu      sync.Mutex
	samples []Sample
}

func startMonitor(ctx context.Context, sockets []string, every time.Duration) *monitor {
	m := &monitor{sockets: sockets, every: every}
	for k := range sockets {
		m.wg.Add(1)
		go m.watch(ctx, k)
	}
	return m
}

// wait waits for the sampling goroutines (after the context ended) and
// returns the samples in time order.
func (m *monitor) wait() []Sample {
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.samples)
	slices.SortFunc(out, func(a, b Sample) int { return cmp.Compare(a.At, b.At) })
	return out
}

func (m *monitor) watch(ctx context.Context, k int) {
	defer m.wg.Done()
	tick := time.NewTicker(m.every)
	defer tick.Stop()
	for {
		if s, ok := m.sample(ctx, k); ok {
			m.mu.Lock()
			m.samples = append(m.samples, s)
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *monitor) sample(ctx context.Context, k int) (Sample, bool) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := client.Connect(cctx, m.sockets[k])
	if err != nil {
		return Sample{}, false
	}
	defer c.Close()
	vm, err := c.GetVNNMap(cctx, protocol.CurrentNode)
	if err != nil {
		return Sample{}, false
	}
	nm, err := c.GetNodeMap(cctx, protocol.CurrentNode)
	if err != nil {
		return Sample{}, false
	}
	s := Sample{Node: k, At: monoNow(), Generation: vm.Generation, Flags: make([]uint32, len(m.sockets))}
	for p := range m.sockets {
		n, ok := nm.Node(uint32(p))
		if !ok {
			n.Flags = protocol.NodeFlagDisconnected
		}
		s.Flags[p] = n.Flags
	}
	return s, true
}
