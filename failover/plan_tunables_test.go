package failover

import (
	"fmt"
	"testing"

	"github.com/rctdb/rctdb/raftlayer"
)

// TestDesiredFollowsTheLeadersTunables: the allocation obeys the tunables
// of the node that runs it, as 4.17's takeover helper reads its own
// node's: NoIPFailback set on node 2 alone keeps addresses where they are
// only when node 2 leads.
func TestDesiredFollowsTheLeadersTunables(t *testing.T) {
	var nodes []raftlayer.NodeState
	for p := range uint32(3) {
		nodes = append(nodes, raftlayer.NodeState{PNN: p, Addr: fmt.Sprintf("127.0.0.%d", p+1)})
	}
	st := raftlayer.BootstrapState("plan", nodes)
	report := raftlayer.NodeAddresses{}
	st.IPAssign, st.PublicAddrs = map[string]uint32{}, map[uint32]raftlayer.NodeAddresses{}
	for i := range 3 {
		a := fmt.Sprintf("10.9.0.%d", i+1)
		report.Addrs = append(report.Addrs, raftlayer.PublicAddr{Prefix: a + "/24", Ifaces: []string{"eth0"}})
		st.IPAssign[a] = 0 // node 0 holds them all, as after the others came back
	}
	for p := range uint32(3) {
		st.Nodes[p].Incarnation, st.Nodes[p].HealthyIncarnation = uint64(p+1), uint64(p+1)
		st.View.Members = append(st.View.Members, raftlayer.Member{PNN: p, Incarnation: uint64(p + 1)})
		st.PublicAddrs[p] = report
	}
	if err := st.Apply(&raftlayer.CmdSetNodeTunable{PNN: 2, Name: "NoIPFailback", Value: 1}); err != nil {
		t.Fatal(err)
	}
	holders := func(leader uint32) map[uint32]int {
		t.Helper()
		w, err := Desired(st, leader, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := map[uint32]int{}
		for _, p := range w.Assign {
			n[p]++
		}
		return n
	}
	if n := holders(0); n[0] != 1 || n[1] != 1 || n[2] != 1 {
		t.Errorf("led by node 0 (NoIPFailback 0): holders %v, want one address each", n)
	}
	if n := holders(2); n[0] != 3 {
		t.Errorf("led by node 2 (NoIPFailback 1): holders %v, want all on node 0", n)
	}
}
