package failover

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want uint32
	}{
		// The fact sheet's examples (§5.2).
		{"192.168.20.253", "192.168.20.254", 126},
		{"192.168.20.253", "192.168.20.252", 127},
		{"192.168.20.253", "192.168.20.251", 125},
		{"192.168.20.253", "192.168.20.249", 125},
		{"192.168.20.253", "192.168.21.252", 119},
		{"10.0.0.1", "10.0.0.1", 128},
		// IPv4 keys start with three zero words.
		{"0.0.0.0", "128.0.0.0", 96},
		// IPv6 counts every word, not only up to the first difference.
		{"fd00::1", "fd01::1", 15 + 32 + 32 + 32},
		{"2001:db8::1", "2001:db8::2", 32 + 32 + 32 + 30},
		{"8000:0:8000:0:8000:0:8000:0", "::", 0},
		// IPv6 against IPv4: the IPv4 key's zero words still match.
		{"::1", "0.0.0.1", 128},
		{"fd00::", "0.0.0.0", 0 + 32 + 32 + 32},
	}
	for _, tc := range tests {
		ka, kb := keyOf(netip.MustParseAddr(tc.a)), keyOf(netip.MustParseAddr(tc.b))
		if got := distance(&ka, &kb); got != tc.want {
			t.Errorf("distance(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := refDistance(ka, kb); got != tc.want {
			t.Errorf("refDistance(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// crowdedIPv6 returns n addresses of one /118, all on node 0 of numNodes;
// node 1 can also host the first movable of them.
func crowdedIPv6(n, numNodes, movable int) Input {
	in := Input{NumNodes: numNodes, Algorithm: LCP2}
	for i := range n {
		a := Address{
			Addr:  netip.AddrFrom16([16]byte{0xfd, 0x00, 14: byte(i >> 8 & 3), 15: byte(i)}),
			Owner: 0,
			Hosts: []uint32{0},
		}
		if i < movable {
			a.Hosts = append(a.Hosts, 1)
		}
		in.Addresses = append(in.Addresses, a)
	}
	return in
}

// TestLCP2ImbalanceWraps checks the unsigned 32-bit arithmetic where it
// matters: 800 close addresses on one node have an imbalance above 2^32,
// which 4.17 keeps modulo 2^32 and then compares.
func TestLCP2ImbalanceWraps(t *testing.T) {
	in := crowdedIPv6(800, 2, 3)
	p, err := newPlan(in)
	if err != nil {
		t.Fatalf("newPlan: %v", err)
	}
	var exact uint64
	for i := range p.keys {
		for j := i + 1; j < len(p.keys); j++ {
			d := uint64(distance(&p.keys[i], &p.keys[j]))
			exact += d * d
		}
	}
	if exact <= math.MaxUint32 {
		t.Fatalf("test set too small: imbalance %d does not wrap", exact)
	}
	if got := newLCP2State(p).imbalance[0]; got != uint32(exact) {
		t.Errorf("imbalance %d, want %d mod 2^32 = %d", got, exact, uint32(exact))
	}
	if msg := checkAllocation(in); msg != "" {
		t.Error(msg)
	}
}

// benchAddresses are 1,000 addresses in four /24s.
func benchAddresses() []netip.Addr {
	var out []netip.Addr
	for i := range 1000 {
		out = append(out, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)}))
	}
	return out
}

func benchInput(b *testing.B, scenario string) Input {
	const numNodes = 32
	in := Input{NumNodes: numNodes, Algorithm: LCP2}
	all := make([]uint32, numNodes)
	for n := range all {
		all[n] = uint32(n)
	}
	for _, a := range benchAddresses() {
		in.Addresses = append(in.Addresses, Address{Addr: a, Owner: NoNode, Hosts: all})
	}
	switch scenario {
	case "unassigned":
	case "all-on-one-node":
		for i := range in.Addresses {
			in.Addresses[i].Owner = 0
		}
	case "one-node-failed":
		// Start from the balanced layout, then take node 7 away.
		res, err := Allocate(in)
		if err != nil {
			b.Fatal(err)
		}
		without := make([]uint32, 0, numNodes-1)
		for n := range uint32(numNodes) {
			if n != 7 {
				without = append(without, n)
			}
		}
		in.Addresses = in.Addresses[:0]
		for _, as := range res.Assignments {
			in.Addresses = append(in.Addresses, Address{Addr: as.Addr, Owner: as.Owner, Hosts: without})
		}
	default:
		b.Fatalf("unknown scenario %s", scenario)
	}
	return in
}

// BenchmarkAllocateLCP2 measures the performance goal: 1,000 addresses over
// 32 nodes in under 100 ms, for each scenario.
func BenchmarkAllocateLCP2(b *testing.B) {
	for _, scenario := range []string{"unassigned", "all-on-one-node", "one-node-failed"} {
		b.Run(scenario+"/1000x32", func(b *testing.B) {
			in := benchInput(b, scenario)
			b.ReportAllocs()
			var moves int
			for b.Loop() {
				res, err := Allocate(in)
				if err != nil {
					b.Fatal(err)
				}
				moves = len(res.Moves)
			}
			b.ReportMetric(float64(moves), "moves")
		})
	}
}

// BenchmarkAllocateOtherAlgorithms is for comparison; they are not part of
// the goal.
func BenchmarkAllocateOtherAlgorithms(b *testing.B) {
	for _, alg := range []Algorithm{Deterministic, NonDeterministic} {
		b.Run(fmt.Sprintf("%v/all-on-one-node/1000x32", alg), func(b *testing.B) {
			in := benchInput(b, "all-on-one-node")
			in.Algorithm = alg
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Allocate(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLCP2VersusReference compares Allocate with the straightforward
// reference on a size the reference can still do.
func BenchmarkLCP2VersusReference(b *testing.B) {
	in := Input{NumNodes: 8, Algorithm: LCP2}
	hosts := []uint32{0, 1, 2, 3, 4, 5, 6, 7}
	for _, a := range benchAddresses()[:200] {
		in.Addresses = append(in.Addresses, Address{Addr: a, Owner: 0, Hosts: hosts})
	}
	b.Run("Allocate/all-on-one-node/200x8", func(b *testing.B) {
		for b.Loop() {
			if _, err := Allocate(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference/all-on-one-node/200x8", func(b *testing.B) {
		for b.Loop() {
			refAllocate(in)
		}
	})
}
