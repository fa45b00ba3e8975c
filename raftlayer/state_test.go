package raftlayer

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

func threeNodes() []NodeState {
	return []NodeState{{PNN: 0, Addr: "127.0.0.1"}, {PNN: 1, Addr: "127.0.0.2"}, {PNN: 2, Addr: "127.0.0.3"}}
}

func initState(t *testing.T) *State {
	t.Helper()
	s := &State{}
	if err := s.Apply(&CmdInit{ClusterID: "c", Nodes: threeNodes()}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStateInit(t *testing.T) {
	s := &State{}
	if err := s.Apply(&CmdBan{PNN: 1, Seconds: 5, Until: 1}); err == nil {
		t.Fatal("ban before init accepted")
	}
	s = initState(t)
	if s.View.Generation != protocol.InvalidGeneration || !reflect.DeepEqual(s.View.VNNMap, []uint32{0, 1, 2}) {
		t.Fatalf("bootstrap view %+v", s.View)
	}
	if err := s.Apply(&CmdInit{ClusterID: "c", Nodes: threeNodes()[:1]}); err != nil || len(s.Nodes) != 3 {
		t.Fatalf("second init of the same cluster changed state: %v, %d nodes", err, len(s.Nodes))
	}
	var rej *ErrRejected
	if err := s.Apply(&CmdInit{ClusterID: "other", Nodes: threeNodes()}); !errors.As(err, &rej) {
		t.Fatalf("init of another cluster: %v", err)
	}
	if err := (&State{}).Apply(&CmdInit{ClusterID: "c", Nodes: []NodeState{{PNN: 1}}}); err == nil {
		t.Fatal("init with misnumbered nodes accepted")
	}
}

// reportHealthy gives every node a run whose monitor passed.
func reportHealthy(t *testing.T, s *State) {
	t.Helper()
	for i := range s.Nodes {
		p := uint32(i)
		if err := s.Apply(&CmdSetCapabilities{PNN: p, Capabilities: protocol.CapLMaster, Incarnation: uint64(p) + 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(&CmdSetHealth{PNN: p, Incarnation: uint64(p) + 1, Healthy: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStateFlags(t *testing.T) {
	s := initState(t)
	reportHealthy(t, s)
	now := time.Unix(1000, 0)
	steps := []struct {
		cmd   Command
		pnn   uint32
		flags uint32
	}{
		{&CmdBan{PNN: 1, Seconds: 5, Until: now.Add(5 * time.Second).UnixNano()}, 1, protocol.NodeFlagBanned},
		{&CmdSetStopped{PNN: 1, Stopped: true}, 1, protocol.NodeFlagBanned | protocol.NodeFlagStopped},
		{&CmdExpireBan{PNN: 1, Until: 42}, 1, protocol.NodeFlagBanned | protocol.NodeFlagStopped},
		{&CmdExpireBan{PNN: 1, Until: now.Add(5 * time.Second).UnixNano()}, 1, protocol.NodeFlagStopped},
		{&CmdSetStopped{PNN: 1, Stopped: false}, 1, 0},
		{&CmdSetDisabled{PNN: 2, Disabled: true}, 2, protocol.NodeFlagPermanentlyDisabled},
		{&CmdBan{PNN: 0, Seconds: 300, Until: now.Add(300 * time.Second).UnixNano()}, 0, protocol.NodeFlagBanned},
		{&CmdBan{PNN: 0, Seconds: 0}, 0, 0},
	}
	for i, st := range steps {
		if err := s.Apply(st.cmd); err != nil {
			t.Fatalf("step %d %T: %v", i, st.cmd, err)
		}
		if got := s.Flags(st.pnn); got != st.flags {
			t.Fatalf("step %d %T: node %d flags %#x, want %#x", i, st.cmd, st.pnn, got, st.flags)
		}
	}
	if got := s.Active(); !reflect.DeepEqual(got, []uint32{0, 1, 2}) {
		t.Fatalf("disabled node must stay active: %v", got)
	}
	if err := s.Apply(&CmdSetStopped{PNN: 7, Stopped: true}); err == nil {
		t.Fatal("flag on a missing node accepted")
	}
	if err := s.Apply(&CmdBan{PNN: 2, Seconds: 10, Until: now.Add(9500 * time.Millisecond).UnixNano()}); err != nil {
		t.Fatal(err)
	}
	if r := s.BanRemaining(2, now); r != 10 {
		t.Fatalf("ban remaining %d, want 10 (rounded up)", r)
	}
	if r := s.BanRemaining(2, now.Add(time.Minute)); r != 0 {
		t.Fatalf("expired ban remaining %d", r)
	}
}

func TestStateView(t *testing.T) {
	s := initState(t)
	v := RuntimeView{Generation: 77, VNNMap: []uint32{0, 2}, Disconnected: []uint32{1, 1}, DecidedBy: 0}
	if err := s.Apply(&CmdSetView{View: v, PrevSeq: 0}); err != nil {
		t.Fatal(err)
	}
	if s.View.Seq != 1 || !reflect.DeepEqual(s.View.Disconnected, []uint32{1}) {
		t.Fatalf("view %+v", s.View)
	}
	if got := s.Flags(1); got != protocol.NodeFlagDisconnected|protocol.NodeFlagUnhealthy {
		t.Fatalf("flags %#x", got)
	}
	if got := s.Active(); !reflect.DeepEqual(got, []uint32{0, 2}) {
		t.Fatalf("active %v", got)
	}
	// A view computed against an older view is refused.
	if err := s.Apply(&CmdSetView{View: RuntimeView{Generation: 78}, PrevSeq: 0}); err == nil {
		t.Fatal("stale view accepted")
	}
	if err := s.Apply(&CmdSetView{View: RuntimeView{Generation: protocol.InvalidGeneration}, PrevSeq: 1}); err == nil {
		t.Fatal("invalid generation accepted")
	}
	if err := s.Apply(&CmdSetView{View: RuntimeView{Generation: 5, VNNMap: []uint32{9}}, PrevSeq: 1}); err == nil {
		t.Fatal("view naming a missing node accepted")
	}
}

// TestStateHealth: a node is UNHEALTHY until its current run reports a
// passing monitor, at once when it reports a failing one, and again when
// its daemon restarts (a new incarnation) or it is disconnected; a report
// from another run is refused.
func TestStateHealth(t *testing.T) {
	s := initState(t)
	unhealthy := func(pnn uint32) bool { return s.Flags(pnn)&protocol.NodeFlagUnhealthy != 0 }
	if !unhealthy(1) {
		t.Fatal("a node that never reported is healthy")
	}
	if err := s.Apply(&CmdSetHealth{PNN: 1, Incarnation: 7, Healthy: true}); err == nil {
		t.Fatal("health of an unknown run accepted")
	}
	apply := func(c Command) {
		t.Helper()
		if err := s.Apply(c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	apply(&CmdSetCapabilities{PNN: 1, Capabilities: protocol.CapLMaster, Incarnation: 7})
	apply(&CmdSetHealth{PNN: 1, Incarnation: 7, Healthy: true})
	if unhealthy(1) || s.Flags(1) != 0 {
		t.Fatalf("healthy node's flags %#x", s.Flags(1))
	}
	seq := s.View.Seq
	apply(&CmdSetHealth{PNN: 1, Incarnation: 7, Healthy: false})
	if !unhealthy(1) || s.View.Seq != seq {
		t.Fatalf("failing monitor: flags %#x, view seq %d -> %d (health must not touch the view)", s.Flags(1), seq, s.View.Seq)
	}
	apply(&CmdSetHealth{PNN: 1, Incarnation: 7, Healthy: true})
	apply(&CmdSetCapabilities{PNN: 1, Capabilities: protocol.CapLMaster, Incarnation: 8})
	if !unhealthy(1) {
		t.Fatal("a restarted daemon kept its previous run's health")
	}
	apply(&CmdSetHealth{PNN: 1, Incarnation: 8, Healthy: true})
	apply(&CmdSetView{View: RuntimeView{Generation: 9, VNNMap: []uint32{0, 2}, Disconnected: []uint32{1}}, PrevSeq: s.View.Seq})
	if got := s.Flags(1); got != protocol.NodeFlagDisconnected|protocol.NodeFlagUnhealthy {
		t.Fatalf("disconnected node's flags %#x", got)
	}
}

func TestStateTunables(t *testing.T) {
	s := initState(t)
	if err := s.Apply(&CmdSetTunable{Name: "recoverinterval", Value: 7}); err != nil {
		t.Fatal(err)
	}
	if v := s.TunablesOf(0).RecoverInterval; v != 7 {
		t.Fatalf("got %d", v)
	}
	l := s.TunableListOf(0)
	if i, _ := protocol.TunableIndex("RecoverInterval"); l[i] != 7 {
		t.Fatal("tunable list not updated")
	}
	if err := s.Apply(&CmdSetTunable{Name: "RecoverInterval", Value: 1}); err != nil || len(s.Tunables) != 0 {
		t.Fatalf("setting the default must drop the override: %v %v", err, s.Tunables)
	}
	if err := s.Apply(&CmdSetTunable{Name: "NoSuchThing", Value: 1}); err == nil {
		t.Fatal("unknown tunable accepted")
	}
}

func TestCommandCodec(t *testing.T) {
	cmds := []Command{
		&CmdNoop{},
		&CmdInit{ClusterID: "x", Nodes: threeNodes()},
		&CmdBan{PNN: 2, Seconds: 9, Until: 123456789},
		&CmdExpireBan{PNN: 1, Until: 5},
		&CmdSetStopped{PNN: 1, Stopped: true},
		&CmdSetDisabled{PNN: 2, Disabled: true},
		&CmdSetCapabilities{PNN: 1, Capabilities: 3},
		&CmdSetTunable{Name: "EnableBans", Value: 0},
		&CmdSetNodeTunable{PNN: 1, Name: "RecoverTimeout", Value: 33},
		&CmdSetView{View: RuntimeView{Generation: 9, VNNMap: []uint32{0, 1}, Disconnected: []uint32{2}}, PrevSeq: 4},
	}
	for _, c := range cmds {
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip %T: got %+v want %+v", c, got, c)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {99, '{', '}'}, {byte(typeBan), '{'}} {
		if _, err := DecodeCommand(bad); err == nil {
			t.Errorf("decoded %v", bad)
		}
	}
}

func TestStateClone(t *testing.T) {
	s := initState(t)
	s.Apply(&CmdSetTunable{Name: "EnableBans", Value: 0})
	c := s.Clone()
	c.Nodes[0].Stopped = true
	c.View.VNNMap[0] = 9
	c.Tunables["EnableBans"] = 5
	if s.Nodes[0].Stopped || s.View.VNNMap[0] == 9 || s.Tunables["EnableBans"] != 0 {
		t.Fatal("clone shares memory with the original")
	}
}

func TestPublicAddressCommands(t *testing.T) {
	s := initState(t)
	report := NodeAddresses{Addrs: []PublicAddr{{Prefix: "10.0.0.5/24", Ifaces: []string{"eth0"}}}, LinksDown: []string{"eth1"}}
	if err := s.Apply(&CmdSetNodeAddresses{PNN: 1, Addrs: report}); err != nil {
		t.Fatal(err)
	}
	if got := s.PublicAddrs[1]; !got.Equal(report) {
		t.Fatalf("report %+v", got)
	}
	if err := s.Apply(&CmdSetNodeAddresses{PNN: 1, Addrs: NodeAddresses{Addrs: []PublicAddr{{Prefix: "bad"}}}}); err == nil {
		t.Fatal("a bad address was recorded")
	}
	if err := s.Apply(&CmdAssignIPs{Assign: map[string]uint32{"10.0.0.5": 1}, PrevSeq: 0}); err != nil {
		t.Fatal(err)
	}
	if p, ok := s.Holder(netip.MustParseAddr("10.0.0.5")); !ok || p != 1 || s.IPSeq != 1 {
		t.Fatalf("holder %d %v seq %d", p, ok, s.IPSeq)
	}
	// A decision computed from an older assignment is refused whole.
	if err := s.Apply(&CmdAssignIPs{Assign: map[string]uint32{}, PrevSeq: 0}); err == nil {
		t.Fatal("stale assignment applied")
	}
	if err := s.Apply(&CmdAssignIPs{Assign: map[string]uint32{"10.0.0.5": 9}, PrevSeq: 1}); err == nil {
		t.Fatal("assignment to a missing node applied")
	}
	if held := s.HeldBy(1); len(held) != 1 || held[0].String() != "10.0.0.5" {
		t.Fatalf("held by 1: %v", held)
	}
	// An empty report forgets the node's addresses.
	if err := s.Apply(&CmdSetNodeAddresses{PNN: 1}); err != nil || len(s.PublicAddrs) != 0 {
		t.Fatalf("empty report: %v %v", err, s.PublicAddrs)
	}
	// The commands survive encoding.
	for _, c := range []Command{&CmdSetNodeAddresses{PNN: 2, Addrs: report}, &CmdAssignIPs{Assign: map[string]uint32{"fd00::1": 2}, PrevSeq: 3}} {
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := DecodeCommand(b); err != nil || !reflect.DeepEqual(d, c) {
			t.Fatalf("round trip of %T: %+v %v", c, d, err)
		}
	}
}
