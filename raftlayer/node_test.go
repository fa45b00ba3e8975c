package raftlayer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/transport"
)

type testCluster struct {
	t    *testing.T
	net  *transport.MemNetwork
	dirs []string
	id   string

	mu    sync.Mutex
	nodes map[uint32]*Node
	trs   map[uint32]*transport.Mem
	eps   map[uint32]*noderpc.Endpoint
}

func newTestCluster(t *testing.T, n int) *testCluster {
	c := &testCluster{t: t, net: transport.NewMemNetwork(), id: "test-" + t.Name(),
		nodes: map[uint32]*Node{}, trs: map[uint32]*transport.Mem{}, eps: map[uint32]*noderpc.Endpoint{}}
	for i := 0; i < n; i++ {
		c.dirs = append(c.dirs, t.TempDir())
	}
	for i := 0; i < n; i++ {
		c.start(uint32(i))
	}
	t.Cleanup(func() {
		for p := range c.nodes {
			c.stop(p)
		}
	})
	return c
}

func (c *testCluster) nodeStates() []NodeState {
	var ns []NodeState
	for i := range c.dirs {
		ns = append(ns, NodeState{PNN: uint32(i), Addr: fmt.Sprintf("10.0.0.%d", i+1)})
	}
	return ns
}

func (c *testCluster) config(pnn uint32) Config {
	return Config{
		Raft: config.Raft{
			DataDir: c.dirs[pnn], NoSync: true, HeartbeatTimeout: 200 * time.Millisecond,
			ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond,
		},
		ClusterID: c.id, Self: pnn, Nodes: c.nodeStates(),
	}
}

func (c *testCluster) start(pnn uint32) {
	c.t.Helper()
	tr := c.net.Transport(pnn)
	ep := noderpc.New(noderpc.Config{Self: pnn}, tr, nil, nil)
	if err := tr.Start(noderpc.LinkHandler{E: ep}); err != nil {
		c.t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("pnn", pnn)
	}
	n, err := Open(c.config(pnn), tr, ep, log, nil)
	if err != nil {
		c.t.Fatalf("open node %d: %v", pnn, err)
	}
	c.mu.Lock()
	c.nodes[pnn], c.trs[pnn], c.eps[pnn] = n, tr, ep
	c.mu.Unlock()
}

func (c *testCluster) stop(pnn uint32) {
	c.mu.Lock()
	n, tr, ep := c.nodes[pnn], c.trs[pnn], c.eps[pnn]
	delete(c.nodes, pnn)
	delete(c.trs, pnn)
	delete(c.eps, pnn)
	c.mu.Unlock()
	if ep != nil {
		ep.Close()
	}
	if n != nil {
		n.Shutdown()
	}
	if tr != nil {
		tr.Close()
	}
}

func (c *testCluster) node(pnn uint32) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[pnn]
}

func (c *testCluster) leader() uint32 {
	c.t.Helper()
	var leader uint32
	testutil.WaitFor(c.t, 10*time.Second, "a leader", func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p, n := range c.nodes {
			if n.IsLeader() {
				leader = p
				return nil
			}
		}
		return errors.New("none")
	})
	return leader
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClusterApplyForwardedAndVisibleEverywhere(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.leader()
	follower := (leader + 1) % 3
	ctx := ctxT(t)
	if _, err := c.node(follower).Apply(ctx, &CmdInit{ClusterID: c.id, Nodes: c.nodeStates()}); err != nil {
		t.Fatal(err)
	}
	idx, err := c.node(follower).Apply(ctx, &CmdSetStopped{PNN: 2, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	// Read your writes on the follower that applied.
	if st, _ := c.node(follower).Current(); !st.Nodes[2].Stopped {
		t.Fatal("follower does not see its own committed write")
	}
	start := time.Now()
	if err := c.node(follower).WaitAppliedOn(ctx, idx, []uint32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	// The commit nudge lets followers learn the commit without waiting for
	// the next CommitTimeout tick.
	if d := time.Since(start); d > time.Second {
		t.Errorf("all nodes applied after %v", d)
	}
	for p := uint32(0); p < 3; p++ {
		st, at := c.node(p).Current()
		if !st.Nodes[2].Stopped || at < idx {
			t.Fatalf("node %d: stopped=%v at index %d (< %d)", p, st.Nodes[2].Stopped, at, idx)
		}
	}
	// Rejections come back as *ErrRejected, also when forwarded.
	_, err = c.node(follower).Apply(ctx, &CmdSetStopped{PNN: 9, Stopped: true})
	var rej *ErrRejected
	if !errors.As(err, &rej) {
		t.Fatalf("forwarded rejection: %v", err)
	}
	st, err := c.node(follower).LinearizableState(ctx)
	if err != nil || !st.Nodes[2].Stopped {
		t.Fatalf("linearizable read: %v", err)
	}
}

func TestClusterRestartKeepsStateAndNeverRebootstraps(t *testing.T) {
	c := newTestCluster(t, 3)
	c.leader()
	ctx := ctxT(t)
	n0 := c.node(0)
	if _, err := n0.Apply(ctx, &CmdInit{ClusterID: c.id, Nodes: c.nodeStates()}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(300 * time.Second).UnixNano()
	if _, err := n0.Apply(ctx, &CmdBan{PNN: 1, Seconds: 300, Until: until}); err != nil {
		t.Fatal(err)
	}
	if err := c.node(c.leader()).Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := n0.Apply(ctx, &CmdSetDisabled{PNN: 2, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	// Restart every node: state comes back from snapshot plus log.
	for p := uint32(0); p < 3; p++ {
		c.stop(p)
	}
	for p := uint32(0); p < 3; p++ {
		c.start(p)
	}
	c.leader()
	for p := uint32(0); p < 3; p++ {
		n := c.node(p)
		testutil.WaitFor(t, 10*time.Second, "state restored", func() error {
			st, _ := n.Current()
			if !st.Initialized() || st.Nodes[1].BannedUntil != until || !st.Nodes[2].Disabled {
				return fmt.Errorf("node %d state %s", p, st)
			}
			return nil
		})
	}
	// No second bootstrap: the configuration still has exactly 3 voters and
	// new commands work.
	if _, err := c.node(1).Apply(ctx, &CmdBan{PNN: 1, Seconds: 0}); err != nil {
		t.Fatal(err)
	}
	f := c.node(c.leader()).raft.GetConfiguration()
	if err := f.Error(); err != nil || len(f.Configuration().Servers) != 3 {
		t.Fatalf("configuration after restart: %v %+v", err, f.Configuration())
	}
}

func TestOpenRefusesStateOfAnotherCluster(t *testing.T) {
	c := newTestCluster(t, 1)
	c.leader()
	c.stop(0)
	cfg := c.config(0)
	cfg.ClusterID = "someone-else"
	tr := c.net.Transport(0)
	ep := noderpc.New(noderpc.Config{}, tr, nil, nil)
	tr.Start(noderpc.LinkHandler{E: ep})
	defer tr.Close()
	defer ep.Close()
	_, err := Open(cfg, tr, ep, nil, nil)
	if err == nil {
		t.Fatal("opened another cluster's raft state")
	}
}

func TestClusterMinorityCannotCommit(t *testing.T) {
	c := newTestCluster(t, 5)
	leader := c.leader()
	ctx := ctxT(t)
	if _, err := c.node(leader).Apply(ctx, &CmdInit{ClusterID: c.id, Nodes: c.nodeStates()}); err != nil {
		t.Fatal(err)
	}
	// Put the leader in the minority.
	minority := []uint32{leader, (leader + 1) % 5}
	var majority []uint32
	for p := uint32(0); p < 5; p++ {
		if p != minority[0] && p != minority[1] {
			majority = append(majority, p)
		}
	}
	c.net.Partition(minority, majority)
	testutil.WaitFor(t, 10*time.Second, "new leader in the majority", func() error {
		for _, p := range majority {
			if c.node(p).IsLeader() {
				return nil
			}
		}
		return errors.New("no majority leader")
	})
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, err := c.node(minority[1]).Apply(short, &CmdSetStopped{PNN: 0, Stopped: true}); err == nil {
		t.Fatal("minority committed a command")
	}
	if _, err := c.node(majority[0]).Apply(ctx, &CmdSetDisabled{PNN: majority[1], Disabled: true}); err != nil {
		t.Fatal(err)
	}
	c.net.Heal()
	for p := uint32(0); p < 5; p++ {
		n := c.node(p)
		testutil.WaitFor(t, 10*time.Second, "healed node catches up", func() error {
			st, _ := n.Current()
			if !st.Nodes[majority[1]].Disabled || st.Nodes[0].Stopped {
				return fmt.Errorf("node %d: %s", p, st)
			}
			return nil
		})
	}
}
