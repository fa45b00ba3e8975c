package clustertest

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
	"github.com/rctdb/rctdb/failover"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/server"
	"github.com/rctdb/rctdb/transport"
)

// InProcess is a cluster of nodes in this process, linked by an in-memory
// network that can be partitioned, with Raft in memory; their sockets live
// in a short temporary directory (Unix socket paths are short).
type InProcess struct {
	t     testing.TB
	net   *transport.MemNetwork
	dir   string
	n     int
	tweak func(*server.Options)
	// public is every node's public_addresses, ifaces the interfaces of
	// its in-memory host.
	public string
	ifaces []string

	mu    sync.Mutex
	nodes []*server.Node
	sets  []*metrics.Set
	hosts []*failover.MemHost
}

// Option changes how Start sets up the nodes.
type Option func(*InProcess)

// WithOptions lets the test adjust every node's options before it is
// built.
func WithOptions(f func(*server.Options)) Option { return func(c *InProcess) { c.tweak = f } }

// WithPublicAddresses gives every node the public_addresses file content
// and an in-memory host with the interfaces named (all up).
func WithPublicAddresses(content string, ifaces ...string) Option {
	return func(c *InProcess) { c.public, c.ifaces = content, ifaces }
}

// Start starts an n-node cluster and stops it when the test ends; it does
// not wait for the nodes to agree (WaitAgreed does).
func Start(t testing.TB, n int, opts ...Option) *InProcess {
	t.Helper()
	dir, err := os.MkdirTemp("", "rctdb")
	if err != nil {
		t.Fatal(err)
	}
	c := &InProcess{t: t, net: transport.NewMemNetwork(), dir: dir, n: n,
		nodes: make([]*server.Node, n), sets: make([]*metrics.Set, n), hosts: make([]*failover.MemHost, n)}
	for _, o := range opts {
		o(c)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.StopNode(uint32(i))
		}
		os.RemoveAll(dir)
	})
	for i := 0; i < n; i++ {
		c.StartNode(uint32(i))
	}
	return c
}

// NodeConfig is the configuration of node pnn of an n-node in-process
// cluster whose files live under dir.
func NodeConfig(dir string, n int, pnn uint32) *config.Config {
	cfg := config.Default()
	for i := 0; i < n; i++ {
		cfg.Nodes = append(cfg.Nodes, config.Node{PNN: uint32(i), Addr: netip.AddrFrom4([4]byte{127, 250, 0, byte(i + 1)})})
	}
	cfg.Cluster.NodeAddress = cfg.Nodes[pnn].Addr
	cfg.Cluster.ClusterID = "inprocess"
	nd := filepath.Join(dir, fmt.Sprint(pnn))
	cfg.Cluster.Socket = filepath.Join(nd, "s")
	cfg.Cluster.QuorumLossTimeout = time.Second
	cfg.Database.VolatileDir = filepath.Join(nd, "v")
	cfg.Database.PersistentDir = filepath.Join(nd, "p")
	cfg.Database.StateDir = filepath.Join(nd, "st")
	cfg.Raft.DataDir = filepath.Join(nd, "raft")
	cfg.Raft.HeartbeatTimeout = 200 * time.Millisecond
	cfg.Raft.ElectionTimeout = 200 * time.Millisecond
	cfg.Raft.LeaderLeaseTimeout = 200 * time.Millisecond
	cfg.Failover.AddressesFile = filepath.Join(nd, "public_addresses")
	cfg.Failover.Lease = 3 * time.Second
	return &cfg
}

// Logger is the logger of in-process nodes: quiet unless the test is
// verbose or RCTDB_TEST_LOG names a level. Whatever the level, the last
// lines at NOTICE and above are kept in a file if the test fails.
func Logger(t testing.TB) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	lv.Set(logging.LevelError + 4) // raft logs expected errors at ERROR under partitions
	if testing.Verbose() {
		lv.Set(logging.LevelNotice)
	}
	if l, err := logging.ParseLevel(os.Getenv("RCTDB_TEST_LOG")); err == nil {
		lv.Set(l)
	}
	h := slog.NewMultiHandler(logging.NewHandler(os.Stderr, lv), tailHandler(t))
	return slog.New(h).With("test", t.Name()), lv
}

// StartNode starts node pnn (again).
func (c *InProcess) StartNode(pnn uint32) *server.Node {
	c.t.Helper()
	log, lv := Logger(c.t)
	cfg := NodeConfig(c.dir, c.n, pnn)
	c.mu.Lock()
	host := c.hosts[pnn]
	if host == nil {
		host = failover.NewMemHost(c.ifaces...)
		c.hosts[pnn] = host
	}
	c.mu.Unlock()
	if c.public != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Failover.AddressesFile), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(cfg.Failover.AddressesFile, []byte(c.public), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	opts := server.Options{
		Config:       cfg,
		Host:         host,
		Transport:    c.net.Transport(pnn),
		Logger:       log,
		Level:        lv,
		RaftInMemory: true,
		Metrics:      metrics.NewSet(),
	}
	if c.tweak != nil {
		c.tweak(&opts)
	}
	node, err := server.New(opts)
	if err != nil {
		c.t.Fatalf("node %d: %v", pnn, err)
	}
	if err := node.Start(); err != nil {
		c.t.Fatalf("start node %d: %v", pnn, err)
	}
	c.mu.Lock()
	c.nodes[pnn], c.sets[pnn] = node, opts.Metrics
	c.mu.Unlock()
	return node
}

// StopNode shuts node pnn down (a no-op if it is not running).
func (c *InProcess) StopNode(pnn uint32) {
	c.mu.Lock()
	node := c.nodes[pnn]
	c.nodes[pnn] = nil
	c.mu.Unlock()
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Shutdown(ctx); err != nil {
		c.t.Errorf("shutdown node %d: %v", pnn, err)
	}
}

// Host is node pnn's in-memory host (it outlives restarts of the node,
// as a machine's interfaces outlive its daemon).
func (c *InProcess) Host(pnn uint32) *failover.MemHost {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[pnn]
}

// Node is node pnn as last started, nil while it is stopped.
func (c *InProcess) Node(pnn uint32) *server.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[pnn]
}

// Size is the number of nodes.
func (c *InProcess) Size() int { return c.n }

// Config is node pnn's configuration (before any WithOptions change).
func (c *InProcess) Config(pnn uint32) *config.Config { return NodeConfig(c.dir, c.n, pnn) }

// Socket is node pnn's client socket.
func (c *InProcess) Socket(pnn uint32) string { return filepath.Join(c.dir, fmt.Sprint(pnn), "s") }

// Metrics is node pnn's metrics set (of its last start).
func (c *InProcess) Metrics(pnn uint32) *metrics.Set {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[pnn]
}

// Partition splits the network into groups that reach only their own
// members; Heal joins them again.
func (c *InProcess) Partition(groups ...[]uint32) { c.net.Partition(groups...) }

// Heal ends every partition.
func (c *InProcess) Heal() { c.net.Heal() }

// Client connects to node pnn's socket; it is closed when the test ends.
func (c *InProcess) Client(pnn uint32) *client.Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, c.Socket(pnn))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}
