package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// fakeRaft applies commands to a state in memory.
type fakeRaft struct {
	changed  watch.Signal
	follower atomic.Bool

	mu sync.Mutex
	st *raftlayer.State
}

func (r *fakeRaft) Current() (*raftlayer.State, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Clone(), 0
}

func (r *fakeRaft) Watch() <-chan struct{}         { return r.changed.Changed() }
func (r *fakeRaft) LeaderChanged() <-chan struct{} { return r.changed.Changed() }
func (r *fakeRaft) IsLeader() bool                 { return !r.follower.Load() }

func (r *fakeRaft) Apply(ctx context.Context, c raftlayer.Command) (uint64, error) {
	r.mu.Lock()
	err := r.st.Apply(c)
	r.mu.Unlock()
	r.changed.Notify()
	return 0, err
}

// fakeNodes reaches other nodes' participants directly; down nodes fail.
type fakeNodes struct {
	parts map[uint32]*Participant
	down  map[uint32]bool

	mu sync.Mutex
	// pushesLeft, when set for a node, is how many more pushes reach it
	// before the link fails.
	pushesLeft map[uint32]int
}

func (n *fakeNodes) Connected(pnn uint32) bool { return !n.down[pnn] }

func (n *fakeNodes) Call(ctx context.Context, pnn, op uint32, data []byte) ([]byte, error) {
	if n.down[pnn] {
		return nil, errors.New("node is disconnected")
	}
	if op == opPush {
		n.mu.Lock()
		left, limited := n.pushesLeft[pnn]
		if limited {
			n.pushesLeft[pnn] = left - 1
		}
		n.mu.Unlock()
		if limited && left <= 0 {
			return nil, errors.New("link lost")
		}
	}
	return n.parts[pnn].Serve(ctx, op, data)
}

type noSend struct{}

func (noSend) Send(uint32, []byte) error { return nil }

type testCluster struct {
	raft  *fakeRaft
	nodes *fakeNodes
	mgrs  []*volatile.Manager
	dbid  uint32
}

// newTestCluster prepares n nodes recovering generation 7 with one
// volatile database attached.
func newTestCluster(t *testing.T, n int) *testCluster {
	var pnns []uint32
	for i := 0; i < n; i++ {
		pnns = append(pnns, uint32(i))
	}
	return newTestClusterMap(t, n, pnns)
}

// newTestClusterMap is newTestCluster with the vnn map of generation 7.
func newTestClusterMap(t *testing.T, n int, vnnmap []uint32) *testCluster {
	t.Helper()
	var ns []raftlayer.NodeState
	var pnns []uint32
	for i := 0; i < n; i++ {
		ns = append(ns, raftlayer.NodeState{PNN: uint32(i), Addr: fmt.Sprint(i)})
		pnns = append(pnns, uint32(i))
	}
	st := raftlayer.BootstrapState("", ns)
	must := func(c raftlayer.Command) {
		if err := st.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	must(&raftlayer.CmdInit{ClusterID: "test", Nodes: ns})
	must(&raftlayer.CmdAttachDB{Name: "t.tdb"})
	must(&raftlayer.CmdSetView{View: raftlayer.RuntimeView{Generation: 7, VNNMap: vnnmap, Recovering: true, RecoverFrom: pnns}, PrevSeq: st.View.Seq})
	tc := &testCluster{raft: &fakeRaft{st: st}, nodes: &fakeNodes{parts: map[uint32]*Participant{}, down: map[uint32]bool{}}, dbid: protocol.DBID("t.tdb")}
	for _, p := range pnns {
		m, err := volatile.NewManager(volatile.Config{Self: p, Dir: t.TempDir(), HashSize: 131}, noSend{}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		m.Sync(map[uint32]volatile.DBSpec{tc.dbid: {Name: "t.tdb"}})
		m.SetView(7, pnns, pnns)
		part := NewParticipant(p, 0, m)
		part.Install(st, false)
		tc.nodes.parts[p] = part
		tc.mgrs = append(tc.mgrs, m)
	}
	return tc
}

func rec(key string, rsn uint64, dmaster uint32, data string) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: dmaster}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

// seed gives node pnn exactly recs.
func (tc *testCluster) seed(t *testing.T, pnn uint32, recs ...protocol.RecData) {
	t.Helper()
	if err := tc.mgrs[pnn].DB(tc.dbid).Push(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// A push that fails half way leaves a node's transaction open; the next
// attempt plans against what the node's file holds, not the open
// transaction, and ends consistent.
func TestRecoverAgainAfterPushFailedHalfWay(t *testing.T) {
	tc := newTestClusterMap(t, 3, []uint32{0, 1})
	if err := tc.raft.st.Apply(&raftlayer.CmdSetTunable{Name: "RecBufferSizeLimit", Value: 2000}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	var on [3][]protocol.RecData
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("key-%d", i)
		holder := uint32(i % 3)
		on[holder] = append(on[holder], rec(k, 2, holder, "v"))
		if holder != 2 {
			want[k] = "v@2"
		}
		if i%5 == 0 && holder != 1 { // node 1 holds an older copy
			on[1] = append(on[1], rec(k, 1, holder, "old"))
			if holder == 2 {
				want[k] = "old@1" // the newest copy left
			}
		}
	}
	for p := range on {
		tc.seed(t, uint32(p), on[p]...)
	}
	tc.nodes.down[2] = true
	tc.nodes.pushesLeft = map[uint32]int{1: 3}
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	plan := Plan{Generation: 7, Active: []uint32{0, 1}, From: []uint32{0, 1, 2}}
	var ne *NodeError
	if err := l.Recover(ctx(t), plan); !errors.As(err, &ne) || ne.Node != 1 {
		t.Fatalf("recovery with node 1's link failing: %v", err)
	}
	tc.nodes.pushesLeft = nil
	if err := l.Recover(ctx(t), plan); err != nil {
		t.Fatal(err)
	}
	tc.checkRecovered(t, plan.Active, []uint32{0, 1}, want)
}

// checkRecovered checks what a recovery must leave on the active nodes:
// want maps every record with data to its newest "data@rsn"; each is held
// by exactly one node naming itself, its lmaster under vnnmap names that
// node, and every other copy is no newer and names another active node.
// No other record is left on an active node.
func (tc *testCluster) checkRecovered(t *testing.T, active, vnnmap []uint32, want map[string]string) {
	t.Helper()
	type copyOf struct {
		pnn     uint32
		value   string
		rsn     uint64
		dmaster uint32
	}
	copies := map[string][]copyOf{}
	for _, p := range active {
		recs, err := tc.mgrs[p].DB(tc.dbid).Pull(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			h, _ := protocol.DecodeLtdbHeader(r.Data)
			copies[string(r.Key)] = append(copies[string(r.Key)], copyOf{p, string(r.Data[protocol.LtdbHeaderSize:]), h.RSN, h.DMaster})
		}
	}
	for k := range copies {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: left on active nodes: %+v", k, copies[k])
		}
	}
	for k, w := range want {
		var dm []copyOf
		for _, c := range copies[k] {
			if c.dmaster == c.pnn {
				dm = append(dm, c)
			}
		}
		if len(dm) != 1 || fmt.Sprintf("%s@%d", dm[0].value, dm[0].rsn) != w {
			t.Errorf("%s: dmaster copies %+v, want one %s (all: %+v)", k, dm, w, copies[k])
			continue
		}
		d := dm[0].pnn
		l := vnnmap[protocol.Hash([]byte(k))%uint32(len(vnnmap))]
		knows := l == d
		for _, c := range copies[k] {
			if c.pnn == l && c.dmaster == d {
				knows = true
			}
			if c.rsn > dm[0].rsn || (c.rsn == dm[0].rsn && c.value != dm[0].value) || !slices.Contains(active, c.dmaster) {
				t.Errorf("%s: copy %+v besides the dmaster's %+v", k, c, dm[0])
			}
		}
		if !knows {
			t.Errorf("%s: lmaster %d does not name dmaster %d: %+v", k, l, d, copies[k])
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRecoverMergesMembersAndPushesToActive(t *testing.T) {
	tc := newTestClusterMap(t, 4, []uint32{0, 1, 3})
	tc.seed(t, 0, rec("a", 3, 1, "old"), rec("b", 5, 0, "b0"))
	tc.seed(t, 1, rec("a", 4, 1, "new"))
	tc.seed(t, 2, rec("c", 1, 2, "only on 2"))
	// Node 3 was not a member: its copies must not count.
	tc.seed(t, 3, rec("a", 99, 3, "stale"), rec("zombie", 9, 3, "deleted meanwhile"))
	tc.nodes.down[2] = true // node 2 died: what only it had is lost

	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	plan := Plan{Generation: 7, Active: []uint32{0, 1, 3}, From: []uint32{0, 1, 2}}
	if err := l.Recover(ctx(t), plan); err != nil {
		t.Fatal(err)
	}
	tc.checkRecovered(t, plan.Active, []uint32{0, 1, 3}, map[string]string{"a": "new@4", "b": "b0@5"})
}

func TestRecoveryRefusedForAnotherGeneration(t *testing.T) {
	tc := newTestCluster(t, 2)
	// Node 1 has moved on to a newer view: a stale leader must not push.
	later := tc.raft.st.Clone()
	later.View.Seq, later.View.Generation = 99, 8
	tc.nodes.parts[1].Install(later, false)
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	err := l.Recover(ctx(t), Plan{Generation: 7, Active: []uint32{0, 1}, From: []uint32{0, 1}})
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Node != 1 {
		t.Fatalf("recovery against a node on another generation: %v", err)
	}
}

// A node that refuses a recovery because it installed a newer view is not
// at fault: the recovery was superseded, and however often that happens
// (a cluster whose membership keeps changing) the node is never banned for
// it. The fault campaign saw a node banned for 300 s this way.
func TestSupersededRecoveriesBanNobody(t *testing.T) {
	tc := newTestCluster(t, 3)
	later := tc.raft.st.Clone()
	later.View.Seq, later.View.Generation = 99, 8
	tc.nodes.parts[1].Install(later, false)
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	plan := Plan{Generation: 7, Active: []uint32{0, 1, 2}, From: []uint32{0, 1, 2}}
	for i := 0; i < 2*failLimit; i++ {
		if err := l.Recover(ctx(t), plan); err == nil {
			t.Fatal("a recovery against a node on a newer generation succeeded")
		}
	}
	if st, _ := tc.raft.Current(); st.Nodes[1].Banned() {
		t.Fatal("node 1 was banned for recoveries a newer view superseded")
	}
}

func TestNodeFailingRecoveriesIsBanned(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.nodes.down[2] = true // active in the plan, but unreachable
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	plan := Plan{Generation: 7, Active: []uint32{0, 1, 2}, From: []uint32{0, 1, 2}}
	for i := 1; i <= failLimit; i++ {
		if err := l.Recover(ctx(t), plan); err == nil {
			t.Fatal("recovery succeeded without node 2")
		}
		st, _ := tc.raft.Current()
		if banned := st.Nodes[2].Banned(); banned != (i == failLimit) {
			t.Fatalf("after %d failures node 2 banned=%v", i, banned)
		}
	}
	st, _ := tc.raft.Current()
	if st.Nodes[0].Banned() || st.Nodes[1].Banned() {
		t.Fatal("a healthy node was banned")
	}
}

// A ban that would leave fewer active nodes than a majority is not made,
// and old failures are forgiven after RecoveryGracePeriod.
func TestBansKeepQuorumAndFailuresAreForgiven(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.nodes.down[2] = true
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	clock := time.Unix(1000, 0)
	l.now = func() time.Time { return clock }
	plan := Plan{Generation: 7, Active: []uint32{0, 1, 2}, From: []uint32{0, 1, 2}}

	// Two failures, then a pause longer than the grace period: the count
	// starts again, so two more failures do not ban.
	for i := 0; i < failLimit-1; i++ {
		l.Recover(ctx(t), plan)
	}
	clock = clock.Add(121 * time.Second) // RecoveryGracePeriod is 120 s
	for i := 0; i < failLimit-1; i++ {
		l.Recover(ctx(t), plan)
	}
	if st, _ := tc.raft.Current(); st.Nodes[2].Banned() {
		t.Fatal("node 2 banned for failures spread beyond the grace period")
	}

	// With node 1 already banned, banning node 2 would leave node 0 alone
	// out of three: not done.
	until := clock.Add(time.Hour).UnixNano()
	if _, err := tc.raft.Apply(ctx(t), &raftlayer.CmdBan{PNN: 1, Seconds: 3600, Until: until}); err != nil {
		t.Fatal(err)
	}
	plan.Active = []uint32{0, 2}
	for i := 0; i < 2*failLimit; i++ {
		l.Recover(ctx(t), plan)
	}
	if st, _ := tc.raft.Current(); st.Nodes[2].Banned() {
		t.Fatal("a ban left the cluster without a majority of active nodes")
	}
}

// A database larger than RecBufferSizeLimit is recovered in pages of hash
// chains, with the same result as in one piece.
func TestRecoverInPages(t *testing.T) {
	tc := newTestCluster(t, 3)
	if err := tc.raft.st.Apply(&raftlayer.CmdSetTunable{Name: "RecBufferSizeLimit", Value: 2000}); err != nil {
		t.Fatal(err)
	}
	var on0, on1 []protocol.RecData
	want := map[string]string{}
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("key-%d", i)
		on0 = append(on0, rec(k, 1, 0, "v1"))
		want[k] = "v1@1"
		if i%3 == 0 { // node 1 has a newer copy of every third
			on1 = append(on1, rec(k, 2, 1, "v2"))
			want[k] = "v2@2"
		}
	}
	tc.seed(t, 0, on0...)
	tc.seed(t, 1, on1...)
	set := metrics.NewSet()
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, set)
	plan := Plan{Generation: 7, Active: []uint32{0, 1, 2}, From: []uint32{0, 1, 2}}
	if err := l.Recover(ctx(t), plan); err != nil {
		t.Fatal(err)
	}
	tc.checkRecovered(t, plan.Active, []uint32{0, 1, 2}, want)
	if pages := l.mPages.Get(); pages < 10 {
		t.Fatalf("%d pages for ~90 kB of records with a 2000-byte limit", pages)
	}
}

// TestLeaderLoopRecoversAndEnds: the loop notices the view that asks for a
// recovery once its node leads, recovers, and commits the view that ends
// it with the active nodes as members.
func TestLeaderLoopRecoversAndEnds(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.seed(t, 1, rec("k", 3, 1, "v"))
	tc.raft.follower.Store(true)
	l := NewLeader(0, tc.raft, tc.nodes, tc.nodes, tc.nodes.parts[0], nil, nil)
	l.Start()
	defer l.Stop()
	tc.raft.changed.Notify()
	tc.raft.follower.Store(false)
	tc.raft.changed.Notify()
	testutil.WaitFor(t, 10*time.Second, "recovery ended by the leader loop", func() error {
		st, _ := tc.raft.Current()
		if st.View.Recovering {
			return errors.New("still recovering")
		}
		if !slices.Equal(st.View.MemberPNNs(), []uint32{0, 1, 2}) || st.View.Generation != 7 {
			return fmt.Errorf("ended with %+v", st.View)
		}
		return nil
	})
}
