package raftlayer

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/rctdb/rctdb/protocol"
)

// recoverTimeouts returns the RecoverTimeout of nodes 0, 1 and 2.
func recoverTimeouts(s *State) [3]uint32 {
	return [3]uint32{s.TunablesOf(0).RecoverTimeout, s.TunablesOf(1).RecoverTimeout, s.TunablesOf(2).RecoverTimeout}
}

func mustApply(t *testing.T, s *State, c Command) {
	t.Helper()
	if err := s.Apply(c); err != nil {
		t.Fatalf("apply %T: %v", c, err)
	}
}

// TestNodeTunables: a node's own value rules that node only, over the
// cluster-wide value and the default; a cluster-wide set reaches every
// node, its own values included.
func TestNodeTunables(t *testing.T) {
	s := initState(t)
	def := protocol.DefaultTunableValues().RecoverTimeout
	mustApply(t, s, &CmdSetNodeTunable{PNN: 1, Name: "recovertimeout", Value: 33})
	if got := recoverTimeouts(s); got != [3]uint32{def, 33, def} {
		t.Fatalf("after setting node 1: %v", got)
	}
	if v, ok := s.TunableByName(1, "RecoverTimeout"); !ok || v != 33 {
		t.Fatalf("node 1 by name: %d %v", v, ok)
	}
	if l := s.TunableListOf(1); l.Values().RecoverTimeout != 33 {
		t.Fatal("node 1's list misses its value")
	}
	if l := s.TunableListOf(0); l.Values().RecoverTimeout != def {
		t.Fatal("node 0's list has node 1's value")
	}

	// Another tunable set cluster-wide: every node has it, and node 1
	// keeps its own RecoverTimeout.
	mustApply(t, s, &CmdSetTunable{Name: "MonitorInterval", Value: 4})
	for p := range uint32(3) {
		if v := s.TunablesOf(p).MonitorInterval; v != 4 {
			t.Fatalf("node %d MonitorInterval %d after a cluster-wide set", p, v)
		}
	}
	if got := recoverTimeouts(s); got != [3]uint32{def, 33, def} {
		t.Fatalf("a cluster-wide set of another tunable changed node 1's: %v", got)
	}
	// A node's value overrides the cluster-wide one.
	mustApply(t, s, &CmdSetNodeTunable{PNN: 2, Name: "MonitorInterval", Value: 9})
	if a, b := s.TunablesOf(0).MonitorInterval, s.TunablesOf(2).MonitorInterval; a != 4 || b != 9 {
		t.Fatalf("MonitorInterval node 0 %d node 2 %d", a, b)
	}

	// The same tunable set cluster-wide: every node has it.
	mustApply(t, s, &CmdSetTunable{Name: "RecoverTimeout", Value: 40})
	if got := recoverTimeouts(s); got != [3]uint32{40, 40, 40} {
		t.Fatalf("after a cluster-wide set: %v", got)
	}
	if _, ok := s.NodeTunables[1]; ok {
		t.Fatalf("node 1 kept a value a cluster-wide set replaced: %v", s.NodeTunables)
	}

	// A node's value equal to the cluster-wide one is not kept.
	mustApply(t, s, &CmdSetNodeTunable{PNN: 2, Name: "MonitorInterval", Value: 4})
	if len(s.NodeTunables) != 0 {
		t.Fatalf("own values left: %v", s.NodeTunables)
	}
}

func TestNodeTunableRefused(t *testing.T) {
	if err := (&State{}).Apply(&CmdSetNodeTunable{PNN: 0, Name: "RecoverTimeout", Value: 3}); err == nil {
		t.Fatal("a node's tunable accepted before init")
	}
	s := initState(t)
	for _, c := range []*CmdSetNodeTunable{
		{PNN: 1, Name: "NoSuchTunable", Value: 1},
		{PNN: 3, Name: "RecoverTimeout", Value: 1},
	} {
		if err := s.Apply(c); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	if len(s.NodeTunables) != 0 {
		t.Fatalf("a refused command left %v", s.NodeTunables)
	}
}

// TestRemovedNodeTunables: a removed node's values go with it, and the
// node added after it starts from the cluster's values.
func TestRemovedNodeTunables(t *testing.T) {
	s := initState(t)
	mustApply(t, s, &CmdSetNodeTunable{PNN: 2, Name: "RecoverTimeout", Value: 33})
	mustApply(t, s, &CmdSetView{View: RuntimeView{Generation: 5, VNNMap: []uint32{0, 1}, Disconnected: []uint32{2}}, PrevSeq: s.View.Seq})
	mustApply(t, s, &CmdSetNodes{Nodes: []NodeEntry{
		{PNN: 0, Addr: "127.0.0.1"}, {PNN: 1, Addr: "127.0.0.2"}, {PNN: 2, Deleted: true}, {PNN: 3, Addr: "127.0.0.3"},
	}})
	if len(s.NodeTunables) != 0 {
		t.Fatalf("the removed node's values stayed: %v", s.NodeTunables)
	}
	def := protocol.DefaultTunableValues().RecoverTimeout
	if a, b := s.TunablesOf(2).RecoverTimeout, s.TunablesOf(3).RecoverTimeout; a != def || b != def {
		t.Fatalf("removed node %d, new node on its address %d", a, b)
	}
	if err := s.Apply(&CmdSetNodeTunable{PNN: 2, Name: "RecoverTimeout", Value: 1}); err == nil {
		t.Fatal("a removed node's tunable accepted")
	}
}

// TestNodeTunablesSurviveSnapshot: a snapshot keeps the nodes' own
// values, and a held state does not change under its reader.
func TestNodeTunablesSurviveSnapshot(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	applyCmd(t, f, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	held, _ := f.read()
	applyCmd(t, f, 2, &CmdSetNodeTunable{PNN: 1, Name: "RecoverTimeout", Value: 33})
	if held.TunablesOf(1).RecoverTimeout == 33 || len(held.NodeTunables) != 0 {
		t.Fatal("a held state changed under its reader")
	}
	applyCmd(t, f, 3, &CmdSetNodeTunable{PNN: 2, Name: "RecoverTimeout", Value: 44})
	mid, _ := f.read()
	applyCmd(t, f, 4, &CmdSetNodeTunable{PNN: 1, Name: "RecoverTimeout", Value: 55})
	if mid.TunablesOf(1).RecoverTimeout != 33 {
		t.Fatal("a held state's node values changed under its reader")
	}
	g := newFSM(slog.New(slog.DiscardHandler), nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(persistSnapshot(t, f)))); err != nil {
		t.Fatal(err)
	}
	st, _ := g.read()
	def := protocol.DefaultTunableValues().RecoverTimeout
	if got := recoverTimeouts(st); got != [3]uint32{def, 55, 44} {
		t.Fatalf("restored values %v", got)
	}
}

// oldFormatState is a State as the code before per-node tunables wrote it
// (json.Marshal of it after two cluster-wide SET_TUNABLEs and an attach).
const oldFormatState = `{"cluster_id":"old","nodes":[{"pnn":0,"addr":"127.0.0.1"},{"pnn":1,"addr":"127.0.0.2"},{"pnn":2,"addr":"127.0.0.3"}],"tunables":{"MonitorInterval":5,"RecoverTimeout":77},"view":{"generation":1,"vnn_map":[0,1,2],"decided_by":0,"seq":0},"dbs":{"2719813155":{"name":"a.tdb","flags":0}},"db_order":[2719813155]}`

// oldFormatSetTunable is a SET_TUNABLE log entry as that code wrote it.
const oldFormatSetTunable = "\b{\"name\":\"EnableBans\",\"value\":0}"

// TestRestoreOldFormatState: a snapshot and a log entry written before
// nodes had values of their own load, and their values stay
// cluster-wide.
func TestRestoreOldFormatState(t *testing.T) {
	var snap bytes.Buffer
	snap.WriteString(snapshotMagicV1)
	var hdr [2 + 8]byte
	binary.LittleEndian.PutUint16(hdr[:2], uint16(len("cluster")))
	binary.LittleEndian.PutUint64(hdr[2:], uint64(len(oldFormatState)))
	snap.Write(hdr[:2])
	snap.WriteString("cluster")
	snap.Write(hdr[2:])
	snap.WriteString(oldFormatState)

	f := newFSM(slog.New(slog.DiscardHandler), nil)
	if err := f.Restore(io.NopCloser(&snap)); err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: []byte(oldFormatSetTunable)}); res != nil {
		t.Fatalf("old SET_TUNABLE entry: %v", res)
	}
	st, _ := f.read()
	for p := range uint32(3) {
		tun := st.TunablesOf(p)
		if tun.RecoverTimeout != 77 || tun.MonitorInterval != 5 || tun.EnableBans != 0 {
			t.Fatalf("node %d: RecoverTimeout %d MonitorInterval %d EnableBans %d", p, tun.RecoverTimeout, tun.MonitorInterval, tun.EnableBans)
		}
	}
	if len(st.NodeTunables) != 0 || len(st.DBs) != 1 {
		t.Fatalf("old state loaded as %+v", st)
	}
}
