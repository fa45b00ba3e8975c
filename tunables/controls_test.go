package tunables

import (
	"context"
	"syscall"
	"testing"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/raftlayer/raftmem"
)

func serve(t *testing.T, tab control.Table, op protocol.Opcode, data []byte) control.Reply {
	t.Helper()
	h, ok := tab[op]
	if !ok {
		t.Fatalf("no handler for %s", op)
	}
	return h.Serve(context.Background(), &control.Request{ReqControl: protocol.ReqControl{Opcode: op, Data: data}})
}

// TestSetOnThisNodeOrEveryNode: a plain set changes the addressed node's
// value only (4.17's contract), the cluster-wide one every node's; gets
// read the node's own value; unknown names fail as in ctdbd.
func TestSetOnThisNodeOrEveryNode(t *testing.T) {
	r := raftmem.New(raftlayer.BootstrapState("c", []raftlayer.NodeState{{PNN: 0, Addr: "127.0.0.1"}, {PNN: 1, Addr: "127.0.0.2"}}), 0)
	commit := func(ctx context.Context, c raftlayer.Command) error { _, err := r.Apply(ctx, c); return err }
	state := func() *raftlayer.State { st, _ := r.Current(); return st }
	node1 := Controls(Config{Self: 1, State: state, Commit: commit})
	node0 := Controls(Config{Self: 0, State: state, Commit: commit})
	get := func(tab control.Table, name string) uint32 {
		rep := serve(t, tab, protocol.ControlGetTunable, protocol.StringN(name))
		if rep.Status != 0 || len(rep.Data) != 4 {
			t.Fatalf("get %s: %+v", name, rep)
		}
		return uint32(rep.Data[0]) | uint32(rep.Data[1])<<8 | uint32(rep.Data[2])<<16 | uint32(rep.Data[3])<<24
	}
	before := get(node0, "MonitorInterval")
	set := protocol.SetTunable{Name: "MonitorInterval", Value: before + 3}
	if rep := serve(t, node1, protocol.ControlSetTunable, set.Marshal()); rep.Status != 0 {
		t.Fatalf("set on node 1: %+v", rep)
	}
	if get(node1, "MonitorInterval") != before+3 || get(node0, "MonitorInterval") != before {
		t.Fatal("a plain set must change the addressed node only")
	}
	set.Value = before + 5
	if rep := serve(t, node0, protocol.ControlSetTunableCluster, set.Marshal()); rep.Status != 0 {
		t.Fatalf("cluster-wide set: %+v", rep)
	}
	if get(node1, "MonitorInterval") != before+5 || get(node0, "MonitorInterval") != before+5 {
		t.Fatal("a cluster-wide set must change every node")
	}
	bad := protocol.SetTunable{Name: "NoSuchTunable", Value: 1}
	if rep := serve(t, node0, protocol.ControlSetTunable, bad.Marshal()); rep.Status != -1 {
		t.Fatalf("set of an unknown tunable: %+v, want -1", rep)
	}
	if rep := serve(t, node0, protocol.ControlGetTunable, protocol.StringN("NoSuchTunable")); rep.Status != -int32(syscall.EINVAL) {
		t.Fatalf("get of an unknown tunable: %+v, want -EINVAL", rep)
	}
	for _, def := range protocol.Tunables {
		if def.Obsolete {
			o := protocol.SetTunable{Name: def.Name, Value: 1}
			if rep := serve(t, node0, protocol.ControlSetTunable, o.Marshal()); rep.Status != 1 {
				t.Fatalf("set of obsolete %s: %+v, want status 1", def.Name, rep)
			}
			break
		}
	}
}
