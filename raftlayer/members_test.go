package raftlayer

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// reconcile runs the leader's ReconcileMembers until it reports the
// configuration in step with the state.
func (c *testCluster) reconcile(t *testing.T) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "raft configuration in step with the node list", func() error {
		l := c.node(c.leader())
		st, _ := l.Current()
		c.mu.Lock()
		tr := c.trs[l.Self()]
		c.mu.Unlock()
		again, err := l.ReconcileMembers(ctxT(t), st, tr.RaftAddr, func(p uint32) bool {
			return c.node(p) != nil
		})
		if err != nil {
			return err
		}
		if again > 0 {
			return fmt.Errorf("again in %v", again)
		}
		return nil
	})
}

// TestMembersAddedAsNonVoterThenVoterAndRemoved: a node started with a
// longer nodes file waits instead of bootstrapping; once the node list
// names it, the leader adds it as a non-voter, promotes it when caught up,
// and removes it from the group when it is deleted.
func TestMembersAddedAsNonVoterThenVoterAndRemoved(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.leader()
	ctx := ctxT(t)
	if _, err := c.node(leader).Apply(ctx, &CmdInit{ClusterID: c.id, Nodes: c.nodeStates()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.node(leader).Apply(ctx, &CmdSetTunable{Name: "RecoverTimeout", Value: 77}); err != nil {
		t.Fatal(err)
	}
	c.dirs = append(c.dirs, t.TempDir())
	c.start(3)
	// It waits: no state of its own, no leadership.
	if c.node(3).Initialized() || c.node(3).formed.Load() {
		t.Fatal("the new node has state before it was added")
	}
	entries := []NodeEntry{}
	for _, ns := range c.nodeStates() {
		entries = append(entries, NodeEntry{PNN: ns.PNN, Addr: ns.Addr})
	}
	if _, err := c.node(0).Apply(ctx, &CmdSetNodes{Nodes: entries}); err != nil {
		t.Fatal(err)
	}
	// Submitting the same list again (every node does) changes nothing.
	if _, err := c.node(1).Apply(ctx, &CmdSetNodes{Nodes: entries}); err != nil {
		t.Fatal(err)
	}
	c.reconcile(t)
	voters, nonvoters, err := c.node(c.leader()).Voters()
	if err != nil || !slices.Equal(sorted(voters), []uint32{0, 1, 2, 3}) || len(nonvoters) != 0 {
		t.Fatalf("voters %v non-voters %v: %v", voters, nonvoters, err)
	}
	testutil.WaitFor(t, 5*time.Second, "node 3 has the cluster state", func() error {
		st, _ := c.node(3).Current()
		if v := st.TunablesOf(0).RecoverTimeout; v != 77 || len(st.Nodes) != 4 {
			return errors.New("not yet")
		}
		return nil
	})

	// Deleting needs the node disconnected in the view.
	entries[3].Deleted, entries[3].Addr = true, ""
	_, err = c.node(0).Apply(ctx, &CmdSetNodes{Nodes: entries})
	var rej *ErrRejected
	if !errors.As(err, &rej) {
		t.Fatalf("deleting a connected node: %v", err)
	}
	c.stop(3)
	st, _ := c.node(0).Current()
	view := RuntimeView{Generation: 5, VNNMap: []uint32{0, 1, 2}, Disconnected: []uint32{3}}
	if _, err := c.node(0).Apply(ctx, &CmdSetView{View: view, PrevSeq: st.View.Seq}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.node(0).Apply(ctx, &CmdSetNodes{Nodes: entries}); err != nil {
		t.Fatal(err)
	}
	c.reconcile(t)
	voters, nonvoters, _ = c.node(c.leader()).Voters()
	if !slices.Equal(sorted(voters), []uint32{0, 1, 2}) || len(nonvoters) != 0 {
		t.Fatalf("after removal: voters %v non-voters %v", voters, nonvoters)
	}
	// A deleted node never returns.
	entries[3].Deleted, entries[3].Addr = false, "10.0.0.4"
	if _, err := c.node(0).Apply(ctx, &CmdSetNodes{Nodes: entries}); !errors.As(err, &rej) {
		t.Fatalf("un-deleting: %v", err)
	}
}

func sorted(p []uint32) []uint32 {
	out := slices.Clone(p)
	slices.Sort(out)
	return out
}

func TestSetNodesRefusals(t *testing.T) {
	base := func() *State {
		s := BootstrapState("c", []NodeState{{PNN: 0, Addr: "10.0.0.1"}, {PNN: 1, Addr: "10.0.0.2"}})
		s.View.Disconnected = []uint32{1}
		return s
	}
	cases := map[string][]NodeEntry{
		"line missing":    {{PNN: 0, Addr: "10.0.0.1"}},
		"address changed": {{PNN: 0, Addr: "10.0.0.9"}, {PNN: 1, Addr: "10.0.0.2"}},
		"duplicate":       {{PNN: 0, Addr: "10.0.0.1"}, {PNN: 1, Addr: "10.0.0.2"}, {PNN: 2, Addr: "10.0.0.2"}},
		"bad address":     {{PNN: 0, Addr: "10.0.0.1"}, {PNN: 1, Addr: "10.0.0.2"}, {PNN: 2, Addr: "nope"}},
		"pnn order":       {{PNN: 0, Addr: "10.0.0.1"}, {PNN: 2, Addr: "10.0.0.2"}},
		"none active":     {{PNN: 0, Deleted: true}, {PNN: 1, Deleted: true}},
		"connected node":  {{PNN: 0, Deleted: true}, {PNN: 1, Addr: "10.0.0.2"}},
	}
	for name, nodes := range cases {
		s := base()
		var rej *ErrRejected
		if err := s.Apply(&CmdSetNodes{Nodes: nodes}); !errors.As(err, &rej) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s := base()
	ok := []NodeEntry{{PNN: 0, Addr: "10.0.0.1"}, {PNN: 1, Deleted: true}, {PNN: 2, Addr: "10.0.0.3"}}
	if err := s.Apply(&CmdSetNodes{Nodes: ok}); err != nil {
		t.Fatal(err)
	}
	if !s.Nodes[1].Deleted || s.Nodes[1].RemovedAddr != "10.0.0.2" || s.Nodes[2].Addr != "10.0.0.3" {
		t.Fatalf("nodes after the change: %+v", s.Nodes)
	}
	if f := s.Flags(1); f != protocol.NodeFlagDeleted|protocol.NodeFlagDisconnected {
		t.Fatalf("deleted node flags %#x", f)
	}
}
