package election

import (
	"slices"
	"testing"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

func threeNodes(t *testing.T) *raftlayer.State {
	t.Helper()
	nodes := []raftlayer.NodeState{{PNN: 0, Addr: "a"}, {PNN: 1, Addr: "b"}, {PNN: 2, Addr: "c"}}
	st := raftlayer.BootstrapState("", nodes)
	if err := st.Apply(&raftlayer.CmdInit{ClusterID: "test", Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
	return st
}

func connectedExcept(down ...uint32) func(uint32) bool {
	return func(p uint32) bool { return !slices.Contains(down, p) }
}

// commit applies the desired view to st, as the leader would.
func commit(t *testing.T, st *raftlayer.State, v raftlayer.RuntimeView) {
	t.Helper()
	if err := st.Apply(&raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq}); err != nil {
		t.Fatal(err)
	}
}

// endRecovery applies what the leader commits once a recovery succeeded.
func endRecovery(t *testing.T, st *raftlayer.State) {
	t.Helper()
	v := st.Clone().View
	v.Recovering, v.RecoverFrom, v.Members = false, nil, st.MembersNow(st.Active())
	commit(t, st, v)
}

func TestNewGenerationStartsRecoveryFromMembers(t *testing.T) {
	st := threeNodes(t)
	v, changed := DesiredView(st, 0, connectedExcept())
	if !changed || !v.Recovering || len(v.RecoverFrom) != 0 {
		t.Fatalf("first view: changed %v %+v", changed, v)
	}
	commit(t, st, v)
	endRecovery(t, st)
	if !slices.Equal(st.View.MemberPNNs(), []uint32{0, 1, 2}) || st.View.Recovering {
		t.Fatalf("after recovery: %+v", st.View)
	}
	gen := st.View.Generation

	// Nothing changed: no new view, no recovery.
	if _, changed := DesiredView(st, 0, connectedExcept()); changed {
		t.Fatal("unchanged cluster produced a new view")
	}

	// Node 2 dies: a new generation recovers from all three members.
	v, changed = DesiredView(st, 0, connectedExcept(2))
	if !changed || v.Generation == gen || !v.Recovering || !slices.Equal(v.RecoverFrom, []uint32{0, 1, 2}) {
		t.Fatalf("node 2 down: %+v", v)
	}
	commit(t, st, v)
	if !slices.Equal(st.View.MemberPNNs(), []uint32{0, 1, 2}) {
		t.Fatalf("members changed before the recovery ended: %v", st.View.Members)
	}

	// Node 1 dies too before that recovery ended: the next one still
	// recovers from the nodes that held the records.
	v, _ = DesiredView(st, 0, connectedExcept(1, 2))
	if !v.Recovering || !slices.Equal(v.RecoverFrom, []uint32{0, 1, 2}) {
		t.Fatalf("interrupted recovery: %+v", v)
	}
	commit(t, st, v)
	endRecovery(t, st)
	if !slices.Equal(st.View.MemberPNNs(), []uint32{0}) || st.View.RecoverFrom != nil {
		t.Fatalf("after second recovery: %+v", st.View)
	}

	// Both return: their old copies do not count, node 0's do.
	v, _ = DesiredView(st, 0, connectedExcept())
	if !v.Recovering || !slices.Equal(v.RecoverFrom, []uint32{0}) {
		t.Fatalf("nodes return: %+v", v)
	}
}

// TestHealthLeavesTheViewAlone: a node's health shows in its flags as
// soon as its report is applied; the leader has no view to commit for it.
func TestHealthLeavesTheViewAlone(t *testing.T) {
	st := threeNodes(t)
	v, _ := DesiredView(st, 0, connectedExcept())
	commit(t, st, v)
	if err := st.Apply(&raftlayer.CmdSetCapabilities{PNN: 1, Capabilities: protocol.CapLMaster, Incarnation: 5}); err != nil {
		t.Fatal(err)
	}
	for _, healthy := range []bool{true, false} {
		if err := st.Apply(&raftlayer.CmdSetHealth{PNN: 1, Incarnation: 5, Healthy: healthy}); err != nil {
			t.Fatal(err)
		}
		if unhealthy := st.Flags(1)&protocol.NodeFlagUnhealthy != 0; unhealthy == healthy {
			t.Fatalf("healthy %v: flags %#x", healthy, st.Flags(1))
		}
		if v, changed := DesiredView(st, 0, connectedExcept()); changed {
			t.Fatalf("healthy %v: the leader wants a new view %+v", healthy, v)
		}
	}
}

// A node that restarts before anyone notices it gone reports a new
// incarnation, and that alone starts a recovery: the other nodes' headers
// still name it dmaster of records its new, empty files do not hold.
func TestRestartedNodeStartsRecovery(t *testing.T) {
	st := threeNodes(t)
	for p := uint32(0); p < 3; p++ {
		if err := st.Apply(&raftlayer.CmdSetCapabilities{PNN: p, Capabilities: 3, Incarnation: uint64(100 + p)}); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := DesiredView(st, 0, connectedExcept())
	commit(t, st, v)
	endRecovery(t, st)
	if !st.View.IsMember(1, 101) {
		t.Fatalf("members %v", st.View.Members)
	}
	gen := st.View.Generation
	if _, changed := DesiredView(st, 0, connectedExcept()); changed {
		t.Fatal("new view without a change")
	}
	if err := st.Apply(&raftlayer.CmdSetCapabilities{PNN: 1, Capabilities: 3, Incarnation: 999}); err != nil {
		t.Fatal(err)
	}
	v, changed := DesiredView(st, 0, connectedExcept())
	if !changed || v.Generation == gen || !v.Recovering {
		t.Fatalf("restart of node 1 did not start a recovery: %v %+v", changed, v)
	}
	commit(t, st, v)
	endRecovery(t, st)
	if !st.View.IsMember(1, 999) || st.View.IsMember(1, 101) {
		t.Fatalf("members after the recovery: %v", st.View.Members)
	}
}
