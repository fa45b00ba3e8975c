package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/transport"
)

// harness runs n Nodes in this process on a MemNetwork, with Raft in
// memory; sockets live in a short temporary directory.
type harness struct {
	t   *testing.T
	net *transport.MemNetwork
	dir string
	n   int

	mu    sync.Mutex
	nodes []*Node
	sets  []*metrics.Set // each node's metrics
	// tweak, if set, adjusts every node's options.
	tweak func(*Options)
}

func newHarness(t *testing.T, n int) *harness {
	t.Helper()
	return newHarnessWith(t, n, nil)
}

// newHarnessWith is newHarness with tweak applied to every node's options.
func newHarnessWith(t *testing.T, n int, tweak func(*Options)) *harness {
	t.Helper()
	dir, err := os.MkdirTemp("", "rctdb")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, net: transport.NewMemNetwork(), dir: dir, n: n, nodes: make([]*Node, n), sets: make([]*metrics.Set, n), tweak: tweak}
	t.Cleanup(func() {
		for i := range h.nodes {
			h.stop(uint32(i))
		}
		os.RemoveAll(dir)
	})
	for i := 0; i < n; i++ {
		h.start(uint32(i))
	}
	return h
}

func (h *harness) config(pnn uint32) *config.Config {
	cfg := config.Default()
	for i := 0; i < h.n; i++ {
		cfg.Nodes = append(cfg.Nodes, config.Node{PNN: uint32(i), Addr: netip.AddrFrom4([4]byte{127, 250, 0, byte(i + 1)})})
	}
	cfg.Cluster.NodeAddress = cfg.Nodes[pnn].Addr
	cfg.Cluster.ClusterID = "harness"
	nd := filepath.Join(h.dir, fmt.Sprint(pnn))
	cfg.Cluster.Socket = filepath.Join(nd, "s")
	cfg.Cluster.QuorumLossTimeout = time.Second
	cfg.Database.VolatileDir = filepath.Join(nd, "v")
	cfg.Database.PersistentDir = filepath.Join(nd, "p")
	cfg.Database.StateDir = filepath.Join(nd, "st")
	cfg.Raft.DataDir = filepath.Join(nd, "raft")
	cfg.Raft.HeartbeatTimeout = 200 * time.Millisecond
	cfg.Raft.ElectionTimeout = 200 * time.Millisecond
	cfg.Raft.LeaderLeaseTimeout = 200 * time.Millisecond
	return &cfg
}

func (h *harness) start(pnn uint32) *Node {
	h.t.Helper()
	lv := new(slog.LevelVar)
	lv.Set(logging.LevelError + 4) // raft logs expected errors at ERROR under partitions
	if testing.Verbose() {
		lv.Set(logging.LevelNotice)
	}
	if l, err := logging.ParseLevel(os.Getenv("RCTDB_TEST_LOG")); err == nil {
		lv.Set(l)
	}
	opts := Options{
		Config:       h.config(pnn),
		Transport:    h.net.Transport(pnn),
		Logger:       slog.New(logging.NewHandler(os.Stderr, lv)).With("test", h.t.Name()),
		Level:        lv,
		RaftInMemory: true,
		Metrics:      metrics.NewSet(),
	}
	if h.tweak != nil {
		h.tweak(&opts)
	}
	node, err := New(opts)
	if err != nil {
		h.t.Fatalf("node %d: %v", pnn, err)
	}
	if err := node.Start(); err != nil {
		h.t.Fatalf("start node %d: %v", pnn, err)
	}
	h.mu.Lock()
	h.nodes[pnn], h.sets[pnn] = node, opts.Metrics
	h.mu.Unlock()
	return node
}

func (h *harness) stop(pnn uint32) {
	h.mu.Lock()
	node := h.nodes[pnn]
	h.nodes[pnn] = nil
	h.mu.Unlock()
	if node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			h.t.Errorf("shutdown node %d: %v", pnn, err)
		}
	}
}

func (h *harness) socket(pnn uint32) string { return filepath.Join(h.dir, fmt.Sprint(pnn), "s") }

// client connects to node pnn's socket; closed at the end of the test.
func (h *harness) client(pnn uint32) *client.Client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, h.socket(pnn))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// flagsSeenBy returns node pnn's view of every node's flags.
func (h *harness) flagsSeenBy(pnn uint32) ([]uint32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, h.socket(pnn))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	nm, err := c.GetNodeMap(ctx, protocol.CurrentNode)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, len(nm.Nodes))
	for i, n := range nm.Nodes {
		out[i] = n.Flags
	}
	return out, nil
}

// waitFlags waits until every observer sees want (pnn -> flags) exactly.
func (h *harness) waitFlags(observers []uint32, want map[uint32]uint32) {
	h.t.Helper()
	testutil.WaitFor(h.t, 15*time.Second, fmt.Sprintf("flags %v on %v", want, observers), func() error {
		for _, o := range observers {
			got, err := h.flagsSeenBy(o)
			if err != nil {
				return fmt.Errorf("node %d: %w", o, err)
			}
			for p, f := range want {
				if got[p] != f {
					return fmt.Errorf("node %d sees node %d as %s, want %s", o, p,
						protocol.NodeFlagsString(got[p]), protocol.NodeFlagsString(f))
				}
			}
		}
		return nil
	})
}

func all(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

func okMap(pnns ...uint32) map[uint32]uint32 {
	m := make(map[uint32]uint32)
	for _, p := range pnns {
		m[p] = 0
	}
	return m
}

// leader returns the leader every observer agrees on.
func (h *harness) leader(observers []uint32) uint32 {
	h.t.Helper()
	var leader uint32
	testutil.WaitFor(h.t, 15*time.Second, "agreed leader", func() error {
		leader = protocol.UnknownPNN
		for _, o := range observers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c, err := client.Connect(ctx, h.socket(o))
			if err != nil {
				cancel()
				return err
			}
			l, err := c.WaitLeader(ctx)
			c.Close()
			cancel()
			if err != nil {
				return err
			}
			if l == protocol.UnknownPNN {
				return fmt.Errorf("node %d knows no leader", o)
			}
			if leader != protocol.UnknownPNN && l != leader {
				return fmt.Errorf("nodes disagree on the leader: %d and %d", leader, l)
			}
			leader = l
		}
		return nil
	})
	return leader
}

func pidOf(t *testing.T) int { return os.Getpid() }
