package membership

import (
	"net/netip"
	"testing"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/raftlayer"
)

func TestNodesFileBehind(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	state := []raftlayer.NodeState{
		{PNN: 0, Addr: "10.0.0.1"},
		{PNN: 1, Deleted: true, RemovedAddr: "10.0.0.2"},
		{PNN: 2, Addr: "10.0.0.3"},
	}
	cases := []struct {
		name   string
		file   []config.Node
		behind bool
	}{
		{"equal", []config.Node{{PNN: 0, Addr: a("10.0.0.1")}, {PNN: 1, Deleted: true}, {PNN: 2, Addr: a("10.0.0.3")}}, false},
		{"misses the added node", []config.Node{{PNN: 0, Addr: a("10.0.0.1")}, {PNN: 1, Deleted: true}}, true},
		{"misses the removal", []config.Node{{PNN: 0, Addr: a("10.0.0.1")}, {PNN: 1, Addr: a("10.0.0.2")}, {PNN: 2, Addr: a("10.0.0.3")}}, true},
		{"ahead: a line more", []config.Node{{PNN: 0, Addr: a("10.0.0.1")}, {PNN: 1, Deleted: true}, {PNN: 2, Addr: a("10.0.0.3")}, {PNN: 3, Addr: a("10.0.0.4")}}, false},
		{"ahead: a removal", []config.Node{{PNN: 0, Deleted: true}, {PNN: 1, Deleted: true}}, false},
		{"conflicting address", []config.Node{{PNN: 0, Addr: a("10.0.0.9")}, {PNN: 1, Deleted: true}}, false},
	}
	for _, tc := range cases {
		if got := fileBehind(tc.file, state); got != tc.behind {
			t.Errorf("%s: behind = %v, want %v", tc.name, got, tc.behind)
		}
	}
}
