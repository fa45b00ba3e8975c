package server

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

func TestClusterFormsAndAgrees(t *testing.T) {
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	leader := h.leader(all(3))
	ctx := tctx(t)
	var gens []uint32
	for p := uint32(0); p < 3; p++ {
		c := h.client(p)
		if c.PNN() != p {
			t.Fatalf("socket of node %d answers as %d", p, c.PNN())
		}
		vm, err := c.GetVNNMap(ctx, protocol.CurrentNode)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(vm.Map, []uint32{0, 1, 2}) || vm.Generation == protocol.InvalidGeneration {
			t.Fatalf("node %d vnn map %+v", p, vm)
		}
		gens = append(gens, vm.Generation)
		rs, err := c.GetRunstate(ctx, protocol.CurrentNode)
		if err != nil || rs != protocol.RunstateRunning {
			t.Fatalf("node %d runstate %v %v", p, rs, err)
		}
	}
	if gens[0] != gens[1] || gens[1] != gens[2] {
		t.Fatalf("generations differ: %v", gens)
	}
	t.Logf("leader %d generation %d", leader, gens[0])
}

// TestMinorityPartitionGoesInactive splits 5 nodes 2|3 with the leader on
// the small side: the small side must go INACTIVE and lose its leader, the
// big side must elect one and keep serving, and after healing there is one
// cluster with no flag lost.
func TestMinorityPartitionGoesInactive(t *testing.T) {
	h := newHarness(t, 5)
	h.waitFlags(all(5), okMap(0, 1, 2, 3, 4))
	leader := h.leader(all(5))
	ctx := tctx(t)

	// A flag set before the split must survive it.
	other := (leader + 3) % 5
	c := h.client(other)
	if err := c.DisableNode(ctx, other); err != nil {
		t.Fatal(err)
	}

	minority := []uint32{leader, (leader + 1) % 5}
	var majority []uint32
	for p := uint32(0); p < 5; p++ {
		if !slices.Contains(minority, p) {
			majority = append(majority, p)
		}
	}
	split := time.Now()
	h.net.Partition(minority, majority)

	// The small side: every node shows itself DISCONNECTED, and knows no leader.
	testutil.WaitFor(t, 10*time.Second, "minority inactive", func() error {
		for _, p := range minority {
			f, err := h.flagsSeenBy(p)
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
		l, err := h.client(p).WaitLeader(wctx)
		cancel()
		if err != nil || l != protocol.UnknownPNN {
			t.Fatalf("minority node %d reports leader %d (%v)", p, l, err)
		}
	}

	// The big side elects a leader, sees the small side DISCONNECTED and commits.
	newLeader := h.leader(majority)
	if slices.Contains(minority, newLeader) {
		t.Fatalf("majority follows minority leader %d", newLeader)
	}
	dis := protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy
	h.waitFlags(majority, map[uint32]uint32{minority[0]: dis, minority[1]: dis})
	banned := majority[0]
	if banned == other {
		banned = majority[1]
	}
	if err := h.client(majority[2]).SetBanState(ctx, banned, 300); err != nil {
		t.Fatal(err)
	}
	// The small side cannot change anything.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := h.client(minority[1]).StopNode(sctx, minority[1])
	cancel()
	if err == nil {
		t.Fatal("a minority node committed STOP")
	}

	h.net.Heal()
	want := okMap(0, 1, 2, 3, 4)
	want[other] = protocol.NodeFlagPermanentlyDisabled
	want[banned] = protocol.NodeFlagBanned
	want[minority[1]] = 0 // its failed STOP must not have landed
	h.waitFlags(all(5), want)
	if l := h.leader(all(5)); slices.Contains(minority, l) && l == leader {
		t.Logf("old leader %d leads again after healing (allowed)", l)
	}
}

func TestControlToDisconnectedNode(t *testing.T) {
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	ctx := tctx(t)
	h.stop(2)
	h.waitFlags([]uint32{0, 1}, map[uint32]uint32{2: protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy})
	c := h.client(0)
	r, err := c.Control(ctx, 2, protocol.ControlGetPNN, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != -1 || r.ErrMsg != "ctdb_control to disconnected node" {
		t.Fatalf("reply %+v", r)
	}
	// Forwarding to a live node works and answers as that node.
	if p, err := c.GetPNN(ctx, 1); err != nil || p != 1 {
		t.Fatalf("forwarded GET_PNN: %d %v", p, err)
	}
	h.start(2)
	h.waitFlags(all(3), okMap(0, 1, 2))
}

func TestMessagesRouteAndVanishWithTheirConnection(t *testing.T) {
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	ctx := tctx(t)
	const srvid = 0xAE00000000000077
	recv := h.client(2)
	ch, _, err := recv.Subscribe(ctx, srvid, 16)
	if err != nil {
		t.Fatal(err)
	}
	send := h.client(0)
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
	pid := int32(pidOf(t))
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
	testutil.WaitFor(t, 5*time.Second, "srvid gone with its connection", func() error {
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
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	leader := h.leader(all(3))
	ctx := tctx(t)
	got, err := h.client((leader+1)%3).Ipreallocate(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if uint32(got) != leader {
		t.Fatalf("takeover run answered by %d, leader is %d", got, leader)
	}
}

func TestSetvarIsClusterWide(t *testing.T) {
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	ctx := tctx(t)
	obsolete, err := h.client(0).SetTunable(ctx, protocol.CurrentNode, "recoverinterval", 7)
	if err != nil || obsolete {
		t.Fatalf("setvar: %v obsolete=%v", err, obsolete)
	}
	// Answered only once every node applied it: no waiting here.
	for p := uint32(0); p < 3; p++ {
		v, err := h.client(p).GetTunable(ctx, protocol.CurrentNode, "RecoverInterval")
		if err != nil || v != 7 {
			t.Fatalf("node %d: RecoverInterval=%d %v", p, v, err)
		}
	}
	if obsolete, err := h.client(1).SetTunable(ctx, protocol.CurrentNode, "VacuumLimit", 9); err != nil || !obsolete {
		t.Fatalf("obsolete tunable: %v obsolete=%v", err, obsolete)
	}
	r, err := h.client(1).Control(ctx, protocol.CurrentNode, protocol.ControlGetTunable, 0, 0, protocol.StringN("NoSuchTunable"))
	if err != nil || r.Status != -22 {
		t.Fatalf("unknown tunable: %+v %v", r, err)
	}
}

func TestBanExpiresAndIsVisibleEverywhereAtOnce(t *testing.T) {
	h := newHarness(t, 3)
	h.waitFlags(all(3), okMap(0, 1, 2))
	ctx := tctx(t)
	start := time.Now()
	if err := h.client(2).SetBanState(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 3; p++ {
		f, err := h.flagsSeenBy(p)
		if err != nil {
			t.Fatal(err)
		}
		if f[1] != protocol.NodeFlagBanned {
			t.Fatalf("node %d sees node 1 as %s right after the ban returned", p, protocol.NodeFlagsString(f[1]))
		}
	}
	h.waitFlags(all(3), okMap(0, 1, 2))
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("2 s ban lifted after %v", d)
	}
	t.Logf("2 s ban lifted after %v", time.Since(start).Round(time.Millisecond))
}
