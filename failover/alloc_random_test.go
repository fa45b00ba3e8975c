package failover

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// Randomized checks: Allocate equals refAllocate, and the guarantees 4.17
// gives hold, on generated inputs. TestAllocateMatchesReference runs a
// fixed, seeded table in every `go test`; FuzzAllocate explores further
// with `go test -fuzz FuzzAllocate ./failover/`.

// intSource is what the generator draws from: a seeded *rand.Rand, or the
// fuzzer's bytes.
type intSource interface {
	IntN(n int) int
}

// byteSource reads choices from fuzz data; exhausted, it answers 0.
type byteSource struct{ data []byte }

func (b *byteSource) IntN(n int) int {
	if n <= 1 || len(b.data) == 0 {
		return 0
	}
	v := int(b.data[0])
	b.data = b.data[1:]
	if n > 256 && len(b.data) > 0 {
		v = v<<8 | int(b.data[0])
		b.data = b.data[1:]
	}
	return v % n
}

// genAddr draws an address from a few families close enough together to
// make LCP2's distances tie often, including forms 4.17 folds or rejects.
func genAddr(r intSource) netip.Addr {
	low := byte(r.IntN(256))
	switch r.IntN(13) {
	case 0, 1, 2:
		return netip.AddrFrom4([4]byte{192, 168, byte(20 + r.IntN(2)), low})
	case 3, 4:
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(8))})
	case 5:
		return netip.AddrFrom4([4]byte{130, 216, 30, byte(160 + r.IntN(32))})
	case 6, 7:
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, byte(r.IntN(3)), 14: byte(r.IntN(2)), 15: low})
	case 8:
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(r.IntN(2)) << 7, 15: low})
	case 9:
		// IPv4-mapped: the same address as its IPv4 form.
		return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 0, 14: 0, 15: byte(r.IntN(8))})
	case 10:
		// IPv4-compatible: a different address with an IPv4 key.
		return netip.AddrFrom16([16]byte{12: 10, 13: 0, 14: 0, 15: byte(r.IntN(8))})
	case 11:
		// Words that differ in their top bit: LCP2 distance 0 between
		// such addresses, so dsums tie although addresses were added.
		top := func() byte { return byte(r.IntN(2)) << 7 }
		return netip.AddrFrom16([16]byte{0: top(), 4: top(), 8: top(), 12: top(), 15: byte(r.IntN(4))})
	default:
		return netip.AddrFrom16([16]byte{byte(r.IntN(256)), byte(r.IntN(256)), 15: low})
	}
}

// genInput draws an input of at most maxAddrs addresses over at most
// maxNodes nodes. It can be invalid (duplicates, colliding keys, out of
// range pnns) when invalidOK is set; otherwise it avoids that.
func genInput(r intSource, maxAddrs, maxNodes int, invalidOK bool) Input {
	in := Input{NumNodes: 1 + r.IntN(maxNodes)}
	if r.IntN(40) == 0 {
		in.NumNodes = 0
	}
	in.Algorithm = [...]Algorithm{LCP2, LCP2, LCP2, NonDeterministic, NonDeterministic, Deterministic, Deterministic, 9}[r.IntN(8)]
	in.NoIPTakeover = r.IntN(7) == 0
	in.NoIPFailback = r.IntN(7) == 0
	if r.IntN(5) == 0 {
		for range 1 + r.IntN(3) {
			in.ForceRebalance = append(in.ForceRebalance, uint32(r.IntN(in.NumNodes+2)))
		}
	}

	// Nodes down for every address (unhealthy, banned ...), and a chance
	// per node and address of not listing it.
	up := make([]bool, in.NumNodes)
	for n := range up {
		up[n] = r.IntN(4) != 0
	}
	notListed := r.IntN(3) // 0: every node lists every address
	ownerMode, crowded := r.IntN(3), 1+r.IntN(2)
	seen := map[ipKey]bool{}
	for range r.IntN(maxAddrs + 1) {
		a := Address{Addr: genAddr(r), Owner: NoNode}
		if !invalidOK && seen[keyOf(a.Addr.Unmap())] {
			continue
		}
		seen[keyOf(a.Addr.Unmap())] = true
		if in.NumNodes > 0 {
			switch ownerMode {
			case 0: // anywhere
				if r.IntN(5) < 3 {
					a.Owner = uint32(r.IntN(in.NumNodes))
				}
			case 1: // on a few nodes, leaving others empty for LCP2 to fill
				a.Owner = uint32(r.IntN(min(crowded, in.NumNodes)))
			}
		}
		for n := range in.NumNodes {
			if up[n] && (notListed == 0 || r.IntN(2*notListed+1) != 0) {
				a.Hosts = append(a.Hosts, uint32(n))
			}
		}
		if len(a.Hosts) > 1 && r.IntN(4) == 0 {
			// A duplicate host, and the list out of order.
			a.Hosts = append(a.Hosts, a.Hosts[0])
			last := len(a.Hosts) - 2
			a.Hosts[0], a.Hosts[last] = a.Hosts[last], a.Hosts[0]
		}
		if invalidOK && r.IntN(30) == 0 {
			a.Owner = uint32(in.NumNodes + r.IntN(3))
		}
		if invalidOK && r.IntN(30) == 0 {
			a.Hosts = append(a.Hosts, uint32(in.NumNodes+r.IntN(3)))
		}
		in.Addresses = append(in.Addresses, a)
	}
	return in
}

// validInput is Allocate's validation, restated: what must be refused.
func validInput(in Input) bool {
	if in.NumNodes < 0 || in.NumNodes > MaxNodes {
		return false
	}
	keys := map[ipKey]bool{}
	for _, a := range in.Addresses {
		if !a.Addr.IsValid() || a.Addr.Zone() != "" {
			return false
		}
		k := refKey(a.Addr.Unmap())
		if keys[k] {
			return false
		}
		keys[k] = true
		if a.Owner != NoNode && int64(a.Owner) >= int64(in.NumNodes) {
			return false
		}
		for _, h := range a.Hosts {
			if int64(h) >= int64(in.NumNodes) {
				return false
			}
		}
	}
	return true
}

func cloneInput(in Input) Input {
	out := in
	out.ForceRebalance = slices.Clone(in.ForceRebalance)
	out.Addresses = slices.Clone(in.Addresses)
	for i := range out.Addresses {
		out.Addresses[i].Hosts = slices.Clone(out.Addresses[i].Hosts)
	}
	return out
}

// permuted reverses the address list and every host list.
func permuted(in Input) Input {
	out := cloneInput(in)
	slices.Reverse(out.Addresses)
	for i := range out.Addresses {
		slices.Reverse(out.Addresses[i].Hosts)
	}
	return out
}

func sameResult(a, b Result) bool {
	return slices.Equal(a.Assignments, b.Assignments) && slices.Equal(a.Moves, b.Moves)
}

// checkAllocation runs Allocate on in and checks it against the reference
// and the guarantees of 4.17. It returns a description of the first
// violation, "" if none.
func checkAllocation(in Input) string {
	orig := cloneInput(in)
	res, err := Allocate(in)
	if !reflect.DeepEqual(in, orig) {
		return "Allocate modified its input"
	}
	if valid := validInput(in); (err == nil) != valid {
		return fmt.Sprintf("valid input %v, but Allocate returned error %v", valid, err)
	}
	if err != nil {
		return ""
	}
	if want := refAllocate(in); !sameResult(res, want) {
		return fmt.Sprintf("differs from the reference:\n got %s moves %v\nwant %s moves %v",
			formatAssignments(res.Assignments), res.Moves, formatAssignments(want.Assignments), want.Moves)
	}
	if again, _ := Allocate(in); !sameResult(again, res) {
		return "a second run gave another result"
	}
	if perm, _ := Allocate(permuted(in)); !sameResult(perm, res) {
		return "permuting the input changed the result"
	}
	return checkGuarantees(in, res)
}

// checkGuarantees checks what 4.17 promises about any allocation.
func checkGuarantees(in Input, res Result) string {
	if len(res.Assignments) != len(in.Addresses) {
		return fmt.Sprintf("%d assignments for %d addresses", len(res.Assignments), len(in.Addresses))
	}
	byAddr := map[netip.Addr]Address{}
	for _, a := range in.Addresses {
		byAddr[a.Addr.Unmap()] = a
	}
	ownerAfterUnassign := map[netip.Addr]uint32{}
	for i, as := range res.Assignments {
		a, ok := byAddr[as.Addr]
		if !ok {
			return fmt.Sprintf("assignment of unknown address %s", as.Addr)
		}
		if i > 0 && compareKeys(keyOf(res.Assignments[i-1].Addr), keyOf(as.Addr)) <= 0 {
			return fmt.Sprintf("%s listed after %s: not in descending order", as.Addr, res.Assignments[i-1].Addr)
		}
		ownerCanHost := a.Owner != NoNode && slices.Contains(a.Hosts, a.Owner)
		ownerAfterUnassign[as.Addr] = NoNode
		if ownerCanHost {
			ownerAfterUnassign[as.Addr] = a.Owner
		}
		if as.Owner != NoNode && !slices.Contains(a.Hosts, as.Owner) {
			return fmt.Sprintf("%s given to %d, which cannot host it", as.Addr, as.Owner)
		}
		switch {
		case in.Algorithm == Deterministic && in.NoIPTakeover:
			want := NoNode
			if in.NumNodes > 0 && slices.Contains(a.Hosts, uint32(i%in.NumNodes)) {
				want = uint32(i % in.NumNodes)
			}
			if as.Owner != want {
				return fmt.Sprintf("NoIPTakeover, deterministic: %s on %d, want its home or none (%d)", as.Addr, int32(as.Owner), int32(want))
			}
		case in.NoIPTakeover:
			if want := ownerAfterUnassign[as.Addr]; as.Owner != want {
				return fmt.Sprintf("NoIPTakeover: %s on %d, want %d", as.Addr, int32(as.Owner), int32(want))
			}
		default:
			if (as.Owner == NoNode) != (len(a.Hosts) == 0) {
				return fmt.Sprintf("%s on %d with hosts %v", as.Addr, int32(as.Owner), a.Hosts)
			}
		}
		if in.NoIPFailback && in.Algorithm != Deterministic && ownerCanHost && as.Owner != a.Owner {
			return fmt.Sprintf("NoIPFailback: %s moved from %d to %d", as.Addr, a.Owner, int32(as.Owner))
		}
	}
	if in.Algorithm == Deterministic || in.Algorithm == NonDeterministic {
		if len(res.Moves) != 0 {
			return fmt.Sprintf("%v reported moves", in.Algorithm)
		}
		return ""
	}
	// LCP2's moves, replayed on the holders that could keep their
	// addresses, must lead to the result.
	cur := ownerAfterUnassign
	for _, m := range res.Moves {
		if cur[m.Addr] != m.From {
			return fmt.Sprintf("move %v: %s is on %d", m, m.Addr, int32(cur[m.Addr]))
		}
		cur[m.Addr] = m.To
	}
	for _, as := range res.Assignments {
		if cur[as.Addr] != as.Owner {
			return fmt.Sprintf("moves leave %s on %d, result says %d", as.Addr, int32(cur[as.Addr]), int32(as.Owner))
		}
	}
	return ""
}

func TestAllocateMatchesReference(t *testing.T) {
	tables := []struct {
		name               string
		cases              int
		maxAddrs, maxNodes int
		invalidOK          bool
	}{
		{"small", 3000, 16, 5, false},
		{"small-invalid", 500, 16, 5, true},
		{"medium", 300, 48, 9, false},
		{"large", 20, 150, 16, false},
	}
	for ti, tb := range tables {
		t.Run(tb.name, func(t *testing.T) {
			for c := range tb.cases {
				seed := uint64(ti)<<32 | uint64(c)
				in := genInput(rand.New(rand.NewPCG(seed, 0x4c435032)), tb.maxAddrs, tb.maxNodes, tb.invalidOK)
				if msg := checkAllocation(in); msg != "" {
					t.Fatalf("seed %#x: %s\ninput %+v", seed, msg, in)
				}
			}
		})
	}
}

func FuzzAllocate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte("\x04\x02\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("lcp2 rebalancing across several nodes, with ties and IPv6"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := genInput(&byteSource{data: data}, 24, 7, true)
		if msg := checkAllocation(in); msg != "" {
			t.Fatalf("%s\ninput %+v", msg, in)
		}
	})
}
