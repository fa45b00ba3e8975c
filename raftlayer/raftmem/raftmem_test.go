package raftmem

import (
	"context"
	"errors"
	"testing"

	"github.com/rctdb/rctdb/raftlayer"
)

func TestApplyPublishesAndRefusalLeavesNoTrace(t *testing.T) {
	r := New(raftlayer.BootstrapState("c", []raftlayer.NodeState{{PNN: 0, Addr: "127.0.0.1"}}), 0)
	before, idx := r.Current()
	w := r.Watch()
	if _, err := r.Apply(context.Background(), &raftlayer.CmdSetStopped{PNN: 0, Stopped: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w:
	default:
		t.Fatal("Apply did not wake a watcher")
	}
	after, idx2 := r.Current()
	if before.Nodes[0].Stopped || !after.Nodes[0].Stopped || idx2 != idx+1 {
		t.Fatalf("states: before stopped=%v after stopped=%v, index %d -> %d", before.Nodes[0].Stopped, after.Nodes[0].Stopped, idx, idx2)
	}
	var rej *raftlayer.ErrRejected
	if _, err := r.Apply(context.Background(), &raftlayer.CmdSetStopped{PNN: 7}); !errors.As(err, &rej) {
		t.Fatalf("command for a missing node: %v, want ErrRejected", err)
	}
	if st, i := r.Current(); st != after || i != idx2 {
		t.Fatal("a refused command changed the state")
	}
	boom := errors.New("boom")
	r.FailApply(boom)
	if _, err := r.Apply(context.Background(), &raftlayer.CmdNoop{}); !errors.Is(err, boom) {
		t.Fatalf("Apply with FailApply: %v", err)
	}
}
