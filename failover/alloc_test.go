package failover

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// exampleSet is the address set S of the fact sheet's worked examples (§5.5):
// 192.168.20.249-254 and 192.168.21.252-254, in that (input) order.
var exampleSet = []string{
	"192.168.20.249", "192.168.20.250", "192.168.20.251", "192.168.20.252",
	"192.168.20.253", "192.168.20.254", "192.168.21.252", "192.168.21.253", "192.168.21.254",
}

// exampleInput builds an input the way the worked examples describe one:
// node flags per pnn (a node with any of 0x3F set hosts nothing), the
// current owners of addrs (-1 none), and every running node able to host
// every address unless allowed narrows it.
func exampleInput(alg Algorithm, flags []uint32, addrs []string, owners []int, allowed map[string][]uint32) Input {
	in := Input{NumNodes: len(flags), Algorithm: alg}
	for i, s := range addrs {
		a := Address{Addr: netip.MustParseAddr(s), Owner: NoNode}
		if owners[i] >= 0 {
			a.Owner = uint32(owners[i])
		}
		nodes, ok := allowed[s]
		if !ok {
			for n := range flags {
				nodes = append(nodes, uint32(n))
			}
		}
		for _, n := range nodes {
			if flags[n]&0x3F == 0 {
				a.Hosts = append(a.Hosts, n)
			}
		}
		in.Addresses = append(in.Addresses, a)
	}
	return in
}

// noneRunning is in with every node in STARTUP: no node reports any
// address available.
func noneRunning(in Input) Input {
	for i := range in.Addresses {
		in.Addresses[i].Hosts = nil
	}
	return in
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestWorkedExamples are the fact sheet's worked examples (§5.5), results in
// list order (descending address).
func TestWorkedExamples(t *testing.T) {
	spread := []int{0, 1, 2, 0, 1, 2, 0, 1, 2} // S in input order
	tests := []struct {
		name string
		in   Input
		want string
	}{{
		name: "lcp2.008 all unassigned",
		in:   exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(-1, 9), nil),
		want: "21.254:0 21.253:1 21.252:2 20.254:0 20.253:1 20.252:2 20.251:0 20.250:1 20.249:2",
	}, {
		name: "lcp2.003 all on node 1, all healthy",
		in:   exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil),
		want: "21.254:2 21.253:0 21.252:1 20.254:2 20.253:0 20.252:1 20.251:2 20.250:0 20.249:1",
	}, {
		name: "lcp2.002 node 1 unhealthy",
		in:   exampleInput(LCP2, []uint32{0, 2, 0}, exampleSet, spread, nil),
		want: "21.254:2 21.253:2 21.252:0 20.254:2 20.253:2 20.252:0 20.251:2 20.250:0 20.249:0",
	}, {
		name: "lcp2.001 nodes 0 and 1 unhealthy",
		in:   exampleInput(LCP2, []uint32{2, 2, 0}, exampleSet, spread, nil),
		want: "21.254:2 21.253:2 21.252:2 20.254:2 20.253:2 20.252:2 20.251:2 20.250:2 20.249:2",
	}, {
		name: "lcp2.015 all unhealthy",
		in:   exampleInput(LCP2, []uint32{2, 2, 2}, exampleSet, spread, nil),
		want: "21.254:-1 21.253:-1 21.252:-1 20.254:-1 20.253:-1 20.252:-1 20.251:-1 20.250:-1 20.249:-1",
	}, {
		name: "lcp2.012 NoIPTakeover keeps all on node 1",
		in: func() Input {
			in := exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil)
			in.NoIPTakeover = true
			return in
		}(),
		want: "21.254:1 21.253:1 21.252:1 20.254:1 20.253:1 20.252:1 20.251:1 20.250:1 20.249:1",
	}, {
		name: "lcp2.024 nobody running",
		in:   noneRunning(exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(-1, 9), nil)),
		want: "21.254:-1 21.253:-1 21.252:-1 20.254:-1 20.253:-1 20.252:-1 20.251:-1 20.250:-1 20.249:-1",
	}, {
		name: "lcp2.028 unbalanced, no empty node: no moves",
		in: exampleInput(LCP2, []uint32{0, 0, 0, 0},
			[]string{"130.216.30.181", "130.216.30.180", "130.216.30.179", "130.216.30.178",
				"130.216.30.177", "130.216.30.176", "130.216.30.175", "130.216.30.174",
				"130.216.30.173", "130.216.30.172", "130.216.30.171", "130.216.30.170",
				"10.19.99.253", "10.19.99.252", "10.19.99.251", "10.19.99.250"},
			[]int{0, 1, 2, 3, 0, 1, 0, 1, 0, 3, 1, 3, 0, 1, 0, 3}, nil),
		want: "130.216.30.181:0 130.216.30.180:1 130.216.30.179:2 130.216.30.178:3 " +
			"130.216.30.177:0 130.216.30.176:1 130.216.30.175:0 130.216.30.174:1 " +
			"130.216.30.173:0 130.216.30.172:3 130.216.30.171:1 130.216.30.170:3 " +
			"10.19.99.253:0 10.19.99.252:1 10.19.99.251:0 10.19.99.250:3",
	}, {
		name: "lcp2.010 two disjoint groups, node 3 becomes healthy",
		in: exampleInput(LCP2, []uint32{0, 0, 0, 0},
			[]string{"192.168.140.1", "192.168.140.2", "192.168.140.3", "192.168.140.4",
				"192.168.209.101", "192.168.209.102"},
			[]int{0, 0, 1, 1, 2, 2},
			map[string][]uint32{
				"192.168.140.1": {0, 1}, "192.168.140.2": {0, 1}, "192.168.140.3": {0, 1},
				"192.168.140.4": {0, 1}, "192.168.209.101": {2, 3}, "192.168.209.102": {2, 3},
			}),
		want: "209.102:3 209.101:2 140.4:1 140.3:1 140.2:0 140.1:0",
	}, {
		name: "nondet.003 all on node 1, all healthy",
		in:   exampleInput(NonDeterministic, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil),
		want: "21.254:0 21.253:2 21.252:0 20.254:2 20.253:0 20.252:2 20.251:1 20.250:1 20.249:1",
	}, {
		name: "det.002 node 1 unhealthy",
		in:   exampleInput(Deterministic, []uint32{0, 2, 0}, exampleSet, spread, nil),
		want: "21.254:0 21.253:0 21.252:2 20.254:0 20.253:2 20.252:2 20.251:0 20.250:0 20.249:2",
	}, {
		name: "det.003 all on node 1: home slots",
		in:   exampleInput(Deterministic, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil),
		want: "21.254:0 21.253:1 21.252:2 20.254:0 20.253:1 20.252:2 20.251:0 20.250:1 20.249:2",
	}, {
		name: "takeover_helper/010 unassigned on 3 nodes",
		in: exampleInput(LCP2, []uint32{0, 0, 0},
			[]string{"10.0.0.31", "10.0.0.32", "10.0.0.33"}, repeat(-1, 3), nil),
		want: "10.0.0.33:0 10.0.0.32:1 10.0.0.31:2",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Allocate(tc.in)
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			var got []string
			for _, a := range res.Assignments {
				s := strings.TrimPrefix(a.Addr.String(), "192.168.")
				got = append(got, s+":"+strconv.Itoa(int(int32(a.Owner))))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

// TestWorkedExampleLCP2Moves checks the moves the fact sheet details for
// lcp2.003 and the unhosted addresses of lcp2.024.
func TestWorkedExampleLCP2Moves(t *testing.T) {
	res, err := Allocate(exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil))
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	want := []string{
		"1 [-121363] -> 192.168.20.253 -> 0 [+0]",
		"1 [-105738] -> 192.168.20.251 -> 2 [+0]",
		"1 [-88649] -> 192.168.21.253 -> 0 [+14161]",
		"1 [-75448] -> 192.168.20.254 -> 2 [+15625]",
		"1 [-59823] -> 192.168.20.250 -> 0 [+29786]",
		"1 [-44198] -> 192.168.21.254 -> 2 [+28322]",
	}
	var got []string
	for _, m := range res.Moves {
		got = append(got, m.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("moves\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// 121363 is the cost of 20.253 on node 1: 15876+16129+3*15625+3*14161.
	if res.Moves[0].FromCost != 15876+16129+3*15625+3*14161 {
		t.Errorf("first move's cost %d", res.Moves[0].FromCost)
	}
	// Every node ends with imbalance 43947 (the three addresses it holds).
	p, err := newPlan(exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet,
		[]int{1, 0, 2, 1, 0, 2, 1, 0, 2}, nil))
	if err != nil {
		t.Fatalf("newPlan: %v", err)
	}
	if imb := newLCP2State(p).imbalance; !slices.Equal(imb, []uint32{43947, 43947, 43947}) {
		t.Errorf("final imbalances %v, want 43947 each", imb)
	}

	res, err = Allocate(noneRunning(exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(-1, 9), nil)))
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if got := res.Unhosted(); len(got) != 9 || got[0].String() != "192.168.21.254" || got[8].String() != "192.168.20.249" {
		t.Errorf("unhosted %v, want all 9 in list order", got)
	}
}

func TestMoveString(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		m    Move
		want string
	}{
		{Move{Addr: a, From: NoNode, To: 2, ToCost: 9216}, " 10.0.0.1 -> 2 [+9216]"},
		{Move{Addr: a, From: 1, To: 0, FromCost: 121363, ToCost: 0}, "1 [-121363] -> 10.0.0.1 -> 0 [+0]"},
		// 4.17 prints unsigned sums with %d: large ones turn negative.
		{Move{Addr: a, From: 3, To: 4, FromCost: 0xFFFFFFF0, ToCost: 0x80000000}, "3 [16] -> 10.0.0.1 -> 4 [+-2147483648]"},
		{Move{Addr: netip.MustParseAddr("fd00::1"), From: NoNode, To: 0}, " fd00::1 -> 0 [+0]"},
	}
	for _, tc := range tests {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestAlgorithmString(t *testing.T) {
	for a, want := range map[Algorithm]string{0: "det", 1: "nondet", 2: "lcp2", 7: "lcp2(7)"} {
		if got := a.String(); got != want {
			t.Errorf("Algorithm(%d) = %q, want %q", uint32(a), got, want)
		}
	}
}

// TestAllocateOrderAndFolding checks 4.17's list order (descending key:
// IPv6 before IPv4, except IPv6 addresses whose first three words are zero)
// and that IPv4-mapped IPv6 is folded to IPv4.
func TestAllocateOrderAndFolding(t *testing.T) {
	in := Input{NumNodes: 1, Algorithm: LCP2}
	for _, s := range []string{"10.0.0.2", "::ffff:10.0.0.3", "fd00::1", "10.0.0.1", "::1", "fd00::1:0", "2001:db8::5"} {
		in.Addresses = append(in.Addresses, Address{Addr: netip.MustParseAddr(s), Owner: NoNode, Hosts: []uint32{0}})
	}
	res, err := Allocate(in)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	var got []string
	for _, a := range res.Assignments {
		got = append(got, a.Addr.String())
	}
	want := []string{"fd00::1:0", "fd00::1", "2001:db8::5", "10.0.0.3", "10.0.0.2", "10.0.0.1", "::1"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestAllocateRejectsBadInput(t *testing.T) {
	ok := Address{Addr: netip.MustParseAddr("10.0.0.1"), Owner: NoNode, Hosts: []uint32{0}}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"negative nodes", Input{NumNodes: -1}, "NumNodes -1"},
		{"too many nodes", Input{NumNodes: MaxNodes + 1}, "NumNodes 65537"},
		{"unset address", Input{NumNodes: 1, Addresses: []Address{ok, {Owner: NoNode}}}, "Addresses[1].Addr is not set"},
		{"zoned", Input{NumNodes: 1, Addresses: []Address{{Addr: netip.MustParseAddr("fe80::1%eth0"), Owner: NoNode}}}, "fe80::1%eth0: a zoned address"},
		{"listed twice", Input{NumNodes: 1, Addresses: []Address{ok, ok}}, "address 10.0.0.1 listed twice (Addresses[0] and [1])"},
		{"mapped twice", Input{NumNodes: 1, Addresses: []Address{ok, {Addr: netip.MustParseAddr("::ffff:10.0.0.1"), Owner: NoNode}}}, "address 10.0.0.1 listed twice"},
		{"same key", Input{NumNodes: 1, Addresses: []Address{ok, {Addr: netip.MustParseAddr("::10.0.0.1"), Owner: NoNode}}}, "addresses 10.0.0.1 and ::a00:1 have the same 4.17 key"},
		{"owner out of range", Input{NumNodes: 2, Addresses: []Address{{Addr: ok.Addr, Owner: 2}}}, "address 10.0.0.1: Owner 2 is not a node (NumNodes 2)"},
		{"host out of range", Input{NumNodes: 2, Addresses: []Address{{Addr: ok.Addr, Owner: NoNode, Hosts: []uint32{1, 5}}}}, "address 10.0.0.1: Hosts[1] = 5 is not a node (NumNodes 2)"},
		{"host NoNode", Input{NumNodes: 2, Addresses: []Address{{Addr: ok.Addr, Owner: NoNode, Hosts: []uint32{NoNode}}}}, "Hosts[0] = 4294967295"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Allocate(tc.in)
			if err == nil {
				t.Fatalf("Allocate accepted %+v", tc.in)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("error %v does not wrap ErrInvalidInput", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestAllocateEdgeInputs(t *testing.T) {
	// No nodes, no addresses: an empty result for every algorithm.
	for _, alg := range []Algorithm{Deterministic, NonDeterministic, LCP2} {
		res, err := Allocate(Input{Algorithm: alg})
		if err != nil || len(res.Assignments) != 0 || len(res.Moves) != 0 {
			t.Errorf("%v, empty input: %+v, %v", alg, res, err)
		}
	}
	// No nodes: every address is unhosted (4.17 never runs with an empty
	// node map; the deterministic modulo must not divide by zero).
	for _, alg := range []Algorithm{Deterministic, NonDeterministic, LCP2} {
		in := Input{Algorithm: alg, Addresses: []Address{{Addr: netip.MustParseAddr("10.0.0.1"), Owner: NoNode}}}
		res, err := Allocate(in)
		if err != nil || len(res.Unhosted()) != 1 {
			t.Errorf("%v, no nodes: %+v, %v", alg, res, err)
		}
	}
	// A force-rebalance pnn outside the node map is ignored, as in 4.17.
	in := exampleInput(LCP2, []uint32{0, 0, 0}, exampleSet, repeat(1, 9), nil)
	in.ForceRebalance = []uint32{7, NoNode}
	if _, err := Allocate(in); err != nil {
		t.Errorf("out-of-range ForceRebalance: %v", err)
	}
}

func TestCanHost(t *testing.T) {
	up := []bool{true}
	tests := []struct {
		name string
		s    HostState
		want bool
	}{
		{"healthy, running, configured, link up", HostState{Running: true, Configured: true, LinksUp: up}, true},
		{"one of two links up", HostState{Running: true, Configured: true, LinksUp: []bool{false, true}}, true},
		{"all links down", HostState{Running: true, Configured: true, LinksUp: []bool{false, false}}, false},
		{"no interfaces", HostState{Running: true, Configured: true}, false},
		{"not running", HostState{Configured: true, LinksUp: up}, false},
		{"not configured", HostState{Running: true, LinksUp: up}, false},
		{"delete pending", HostState{Running: true, Configured: true, DeletePending: true, LinksUp: up}, false},
		{"disconnected", HostState{NodeFlags: 0x01, Running: true, Configured: true, LinksUp: up}, false},
		{"unhealthy", HostState{NodeFlags: 0x02, Running: true, Configured: true, LinksUp: up}, false},
		{"disabled", HostState{NodeFlags: 0x04, Running: true, Configured: true, LinksUp: up}, false},
		{"banned", HostState{NodeFlags: 0x08, Running: true, Configured: true, LinksUp: up}, false},
		{"deleted", HostState{NodeFlags: 0x10, Running: true, Configured: true, LinksUp: up}, false},
		{"stopped", HostState{NodeFlags: 0x20, Running: true, Configured: true, LinksUp: up}, false},
		// 0x40 is the tool's display-only UNKNOWN bit, not a state.
		{"unknown bit only", HostState{NodeFlags: 0x40, Running: true, Configured: true, LinksUp: up}, true},
	}
	for _, tc := range tests {
		if got := CanHost(tc.s); got != tc.want {
			t.Errorf("%s: CanHost = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The flags that stop a node hosting addresses are the node map's INACTIVE
// and DISABLED masks.
func TestUnavailableFlagsMatchProtocol(t *testing.T) {
	if want := protocol.NodeFlagsInactive | protocol.NodeFlagsDisabled; unavailableFlags != want {
		t.Errorf("unavailableFlags %#x, protocol says %#x", unavailableFlags, want)
	}
}
