package server_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// flagsSeenBy returns node pnn's view of every node's flags.
func flagsSeenBy(c *clustertest.InProcess, pnn uint32) ([]uint32, error) {
	v, err := clustertest.Observe(context.Background(), c, pnn)
	return v.Flags, err
}

// waitFlags waits until every observer sees want (pnn -> flags) exactly;
// unlike WaitAgreed it asks for no agreement on the leader.
func waitFlags(t *testing.T, c *clustertest.InProcess, observers []uint32, want map[uint32]uint32) {
	t.Helper()
	clustertest.WaitFor(t, 15*time.Second, fmt.Sprintf("flags %v on %v", want, observers), func() error {
		for _, o := range observers {
			got, err := flagsSeenBy(c, o)
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

func TestClusterFormsAndAgrees(t *testing.T) {
	c := clustertest.Start(t, 3)
	v := clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	for p := uint32(0); p < 3; p++ {
		cl := c.Client(p)
		if cl.PNN() != p {
			t.Fatalf("socket of node %d answers as %d", p, cl.PNN())
		}
		vm, err := cl.GetVNNMap(ctx, protocol.CurrentNode)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(vm.Map, []uint32{0, 1, 2}) || vm.Generation != v.Generation {
			t.Fatalf("node %d vnn map %+v, agreed generation %d", p, vm, v.Generation)
		}
	}
	t.Logf("leader %d generation %d", v.Leader, v.Generation)
}

// TestMinorityPartitionGoesInactive splits 5 nodes 2|3 with the leader on
// the small side: the small side must go INACTIVE and lose its leader, the
// big side must elect one and keep serving, and after healing there is one
// cluster with no flag lost.
func TestMinorityPartitionGoesInactive(t *testing.T) {
	c := clustertest.Start(t, 5)
	leader := clustertest.WaitAgreed(t, c, clustertest.Want{}).Leader
	ctx := tctx(t)

	// A flag set before the split must survive it.
	other := (leader + 3) % 5
	if err := c.Client(other).DisableNode(ctx, other); err != nil {
		t.Fatal(err)
	}

	minority := []uint32{leader, (leader + 1) % 5}
	majority := clustertest.Except(5, minority...)
	split := time.Now()
	c.Partition(minority, majority)

	// The small side: every node shows itself DISCONNECTED, and knows no leader.
	clustertest.WaitFor(t, 10*time.Second, "minority inactive", func() error {
		for _, p := range minority {
			f, err := flagsSeenBy(c, p)
			if err != nil {
				return err
			}
			if f[p]&protocol.NodeFlagDisconnected == 0 {
				return fmt.Errorf("node %d sees itself %s", p, protocol.NodeFlagsString(f[p]))
			}
			for _, q := range majority {
				if f[q]&protocol.NodeFlagDisconnected == 0 {
					return fmt.Errorf("node %d sees unreachable %d as %s", p, q, protocol.NodeFlagsString(f[q]))
				}
			}
		}
		return nil
	})
	t.Logf("minority inactive %v after the split", time.Since(split).Round(time.Millisecond))
	for _, p := range minority {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := c.Client(p).WaitLeader(wctx)
		cancel()
		if err != nil || l != protocol.UnknownPNN {
			t.Fatalf("minority node %d reports leader %d (%v)", p, l, err)
		}
	}

	// The big side elects a leader, sees the small side DISCONNECTED and commits.
	dis := protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy
	want := map[uint32]uint32{minority[0]: dis, minority[1]: dis, other: protocol.NodeFlagPermanentlyDisabled}
	newLeader := clustertest.WaitAgreed(t, c, clustertest.Want{Observers: majority, Flags: want}).Leader
	if slices.Contains(minority, newLeader) {
		t.Fatalf("majority follows minority leader %d", newLeader)
	}
	banned := majority[0]
	if banned == other {
		banned = majority[1]
	}
	if err := c.Client(majority[2]).SetBanState(ctx, banned, 300); err != nil {
		t.Fatal(err)
	}
	// The small side cannot change anything.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := c.Client(minority[1]).StopNode(sctx, minority[1])
	cancel()
	if err == nil {
		t.Fatal("a minority node committed STOP")
	}

	c.Heal()
	want = clustertest.OK(clustertest.All(5)...)
	want[other] = protocol.NodeFlagPermanentlyDisabled
	want[banned] = protocol.NodeFlagBanned
	want[minority[1]] = 0 // its failed STOP must not have landed
	waitFlags(t, c, clustertest.All(5), want)
}

func TestControlToDisconnectedNode(t *testing.T) {
	c := clustertest.Start(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	c.StopNode(2)
	dead := protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy
	clustertest.WaitAgreed(t, c, clustertest.Want{Observers: []uint32{0, 1}, Flags: map[uint32]uint32{0: 0, 1: 0, 2: dead}})
	cl := c.Client(0)
	r, err := cl.Control(ctx, 2, protocol.ControlGetPNN, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != -1 || r.ErrMsg != "ctdb_control to disconnected node" {
		t.Fatalf("reply %+v", r)
	}
	// Forwarding to a live node works and answers as that node.
	if p, err := cl.GetPNN(ctx, 1); err != nil || p != 1 {
		t.Fatalf("forwarded GET_PNN: %d %v", p, err)
	}
	c.StartNode(2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
}

func TestMessagesRouteAndVanishWithTheirConnection(t *testing.T) {
	c := clustertest.Start(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	const srvid = 0xAE00000000000077
	recv := c.Client(2)
	ch, _, err := recv.Subscribe(ctx, srvid, 16)
	if err != nil {
		t.Fatal(err)
	}
	send := c.Client(0)
	if err := send.SendMessage(2, srvid, []byte("direct")); err != nil {
		t.Fatal(err)
	}
	if err := send.SendMessage(protocol.BroadcastConnected, srvid, []byte("bcast")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"direct", "bcast"} {
		select {
		case m := <-ch:
			if string(m.Data) != want || m.Src != 2 {
				t.Fatalf("got %q from %d, want %q from the local node", m.Data, m.Src, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q message", want)
		}
	}
	// PROCESS_EXISTS and CHECK_PID_SRVID find the receiver's process, from
	// another node too.
	pid := int32(os.Getpid())
	r, err := send.Control(ctx, 2, protocol.ControlProcessExists, 0, 0, protocol.U32(uint32(pid)))
	if err != nil || r.Status != 0 {
		t.Fatalf("PROCESS_EXISTS of a connected client: %+v %v", r, err)
	}
	ps := protocol.PidSrvID{PID: pid, SrvID: srvid}
	r, err = send.Control(ctx, 2, protocol.ControlCheckPIDSrvID, 0, 0, ps.Marshal())
	if err != nil || r.Status != 0 {
		t.Fatalf("CHECK_PID_SRVID: %+v %v", r, err)
	}
	recv.Close()
	clustertest.WaitFor(t, 5*time.Second, "srvid gone with its connection", func() error {
		r, err := send.Control(ctx, 2, protocol.ControlCheckPIDSrvID, 0, 0, ps.Marshal())
		if err != nil {
			return err
		}
		if r.Status == 0 {
			return fmt.Errorf("srvid still registered")
		}
		return nil
	})
	// DEREGISTER of something never registered answers ENOENT.
	r, err = send.Control(ctx, protocol.CurrentNode, protocol.ControlDeregisterSrvID, 12345, 0, nil)
	if err != nil || r.Status != 2 {
		t.Fatalf("deregister unknown srvid: %+v %v", r, err)
	}
}

func TestTakeoverRunAnsweredByLeader(t *testing.T) {
	c := clustertest.Start(t, 3)
	leader := clustertest.WaitAgreed(t, c, clustertest.Want{}).Leader
	ctx := tctx(t)
	got, err := c.Client((leader+1)%3).Ipreallocate(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if uint32(got) != leader {
		t.Fatalf("takeover run answered by %d, leader is %d", got, leader)
	}
}

// TestSetvarPerNode: SET_TUNABLE changes the node it is sent to, as in
// ctdbd; rctdb's cluster-wide control changes every node.
func TestSetvarPerNode(t *testing.T) {
	c := clustertest.Start(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	obsolete, err := c.Client(0).SetTunable(ctx, 1, "recoverinterval", 7)
	if err != nil || obsolete {
		t.Fatalf("setvar: %v obsolete=%v", err, obsolete)
	}
	def := protocol.DefaultTunableValues().RecoverInterval
	wantEverywhere := func(want ...uint32) {
		t.Helper()
		// The reply comes once every node applied it (or after a bound):
		// on a loaded machine a node may still be applying, so wait.
		clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("RecoverInterval %v", want), func() error {
			for p := uint32(0); p < 3; p++ {
				v, err := c.Client(p).GetTunable(ctx, protocol.CurrentNode, "RecoverInterval")
				if err != nil || v != want[p] {
					return fmt.Errorf("node %d: RecoverInterval=%d %v", p, v, err)
				}
				l, err := c.Client(p).GetAllTunables(ctx, protocol.CurrentNode)
				if err != nil || l.Values().RecoverInterval != want[p] {
					return fmt.Errorf("node %d: GET_ALL_TUNABLES %v", p, err)
				}
			}
			return nil
		})
	}
	wantEverywhere(def, 7, def)
	if obsolete, err := c.Client(2).SetClusterTunable(ctx, protocol.CurrentNode, "RecoverInterval", 5); err != nil || obsolete {
		t.Fatalf("cluster-wide setvar: %v obsolete=%v", err, obsolete)
	}
	wantEverywhere(5, 5, 5)
	if obsolete, err := c.Client(1).SetTunable(ctx, protocol.CurrentNode, "VacuumLimit", 9); err != nil || !obsolete {
		t.Fatalf("obsolete tunable: %v obsolete=%v", err, obsolete)
	}
	for _, op := range []protocol.Opcode{protocol.ControlSetTunable, protocol.ControlSetTunableCluster} {
		set := protocol.SetTunable{Name: "NoSuchTunable", Value: 1}
		if r, err := c.Client(1).Control(ctx, protocol.CurrentNode, op, 0, 0, set.Marshal()); err != nil || r.Status != -1 {
			t.Fatalf("%s of an unknown tunable: %+v %v", op, r, err)
		}
	}
	r, err := c.Client(1).Control(ctx, protocol.CurrentNode, protocol.ControlGetTunable, 0, 0, protocol.StringN("NoSuchTunable"))
	if err != nil || r.Status != -22 {
		t.Fatalf("unknown tunable: %+v %v", r, err)
	}
}

func TestBanExpiresAndIsVisibleEverywhere(t *testing.T) {
	c := clustertest.Start(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	start := time.Now()
	if err := c.Client(2).SetBanState(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	waitFlags(t, c, clustertest.All(3), map[uint32]uint32{1: protocol.NodeFlagBanned})
	t.Logf("ban visible on every node %v after the request", time.Since(start).Round(time.Millisecond))
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("2 s ban lifted after %v", d)
	}
	t.Logf("2 s ban lifted after %v", time.Since(start).Round(time.Millisecond))
}
