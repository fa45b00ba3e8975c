package failover

import (
	"encoding/binary"
	"net/netip"
	"sort"
)

// refAllocate is the straightforward allocation, written from the 4.17
// description (fact sheet §5) without any of Allocate's bookkeeping: a list
// in 4.17's order, every count and distance sum recomputed from the list
// whenever it is needed. It is slow (LCP2 is O(addresses^2 * nodes) per
// step) and serves as the oracle Allocate must equal. It assumes a valid
// input.

type refIP struct {
	addr  netip.Addr
	key   [4]uint32
	pnn   uint32
	avail map[uint32]bool
}

type refState struct {
	num        uint32
	noTakeover bool
	ips        []*refIP // list order
	moves      []Move
}

func refKey(a netip.Addr) [4]uint32 {
	var k [4]uint32
	if a.Is4() {
		b := a.As4()
		k[3] = binary.BigEndian.Uint32(b[:])
		return k
	}
	b := a.As16()
	for w := range k {
		k[w] = binary.BigEndian.Uint32(b[4*w:])
	}
	return k
}

func refAllocate(in Input) Result {
	s := &refState{num: uint32(in.NumNodes), noTakeover: in.NoIPTakeover}
	for _, a := range in.Addresses {
		ip := &refIP{addr: a.Addr.Unmap(), pnn: a.Owner, avail: map[uint32]bool{}}
		ip.key = refKey(ip.addr)
		for _, h := range a.Hosts {
			ip.avail[h] = true
		}
		s.ips = append(s.ips, ip)
	}
	sort.Slice(s.ips, func(i, j int) bool {
		a, b := s.ips[i].key, s.ips[j].key
		for w := range a {
			if a[w] != b[w] {
				return a[w] > b[w]
			}
		}
		return false
	})
	switch in.Algorithm {
	case Deterministic:
		s.det()
	case NonDeterministic:
		s.nondet(in.NoIPFailback)
	default:
		s.lcp2(in.NoIPFailback, in.ForceRebalance)
	}
	var res Result
	for _, ip := range s.ips {
		res.Assignments = append(res.Assignments, Assignment{Addr: ip.addr, Owner: ip.pnn})
	}
	res.Moves = s.moves
	return res
}

func (s *refState) canHost(n uint32, ip *refIP) bool { return ip.avail[n] }

func (s *refState) canTakeover(n uint32, ip *refIP) bool {
	return !s.noTakeover && s.canHost(n, ip)
}

func (s *refState) coverage(n uint32) int {
	c := 0
	for _, ip := range s.ips {
		if ip.pnn == n {
			c++
		}
	}
	return c
}

func (s *refState) unassignUnsuitable() {
	for _, ip := range s.ips {
		if ip.pnn != NoNode && !s.canHost(ip.pnn, ip) {
			ip.pnn = NoNode
		}
	}
}

func (s *refState) findTakeoverNode(ip *refIP) {
	best, min := NoNode, 0
	for n := uint32(0); n < s.num; n++ {
		if !s.canTakeover(n, ip) {
			continue
		}
		c := s.coverage(n)
		if best == NoNode || c < min {
			best, min = n, c
		}
	}
	if best != NoNode {
		ip.pnn = best
	}
}

func (s *refState) basicAllocate() {
	for _, ip := range s.ips {
		if ip.pnn == NoNode {
			s.findTakeoverNode(ip)
		}
	}
}

func (s *refState) det() {
	for i, ip := range s.ips {
		if s.num > 0 {
			ip.pnn = uint32(i) % s.num
		}
	}
	s.unassignUnsuitable()
	s.basicAllocate()
}

func (s *refState) nondet(noFailback bool) {
	s.unassignUnsuitable()
	s.basicAllocate()
	if noFailback {
		return
	}
	retries := 0
again:
	for _, ip := range s.ips {
		if ip.pnn == NoNode {
			continue
		}
		maxNode, minNode := NoNode, NoNode
		maxNum, minNum := 0, 0
		for n := uint32(0); n < s.num; n++ {
			if !s.canTakeover(n, ip) {
				continue
			}
			c := s.coverage(n)
			if maxNode == NoNode || c > maxNum {
				maxNode, maxNum = n, c
			}
			if minNode == NoNode || c < minNum {
				minNode, minNum = n, c
			}
		}
		if maxNode == NoNode {
			continue
		}
		if maxNum > minNum+1 && retries < len(s.ips)+5 {
			for _, tt := range s.ips {
				if tt.pnn == maxNode {
					s.findTakeoverNode(tt)
					retries++
					goto again
				}
			}
		}
	}
}

func refDistance(a, b [4]uint32) uint32 {
	var d uint32
	for w := range a {
		x := a[w] ^ b[w]
		if x == 0 {
			d += 32
			continue
		}
		for x&0x80000000 == 0 {
			x <<= 1
			d++
		}
	}
	return d
}

// dsum is the sum of squared distances from ip to the other addresses on n.
func (s *refState) dsum(ip *refIP, n uint32) uint32 {
	var sum uint32
	for _, t := range s.ips {
		if t.pnn == n && t != ip {
			d := refDistance(ip.key, t.key)
			sum += d * d
		}
	}
	return sum
}

func (s *refState) imbalance(n uint32) uint32 {
	var sum uint32
	for i, a := range s.ips {
		if a.pnn != n {
			continue
		}
		for _, b := range s.ips[i+1:] {
			if b.pnn == n {
				d := refDistance(a.key, b.key)
				sum += d * d
			}
		}
	}
	return sum
}

func (s *refState) lcp2(noFailback bool, force []uint32) {
	s.unassignUnsuitable()
	imb := make([]uint32, s.num)
	cand := make([]bool, s.num)
	for n := uint32(0); n < s.num; n++ {
		imb[n] = s.imbalance(n)
		cand[n] = s.coverage(n) == 0
	}
	for _, n := range force {
		if n < s.num {
			cand[n] = true
		}
	}

	// Place unassigned addresses, cheapest (address, node) pair first.
	for {
		var minIP *refIP
		minNode, minDsum := NoNode, uint32(0)
		for _, ip := range s.ips {
			if ip.pnn != NoNode {
				continue
			}
			for n := uint32(0); n < s.num; n++ {
				if !s.canTakeover(n, ip) {
					continue
				}
				d := s.dsum(ip, n)
				if minNode == NoNode || d < minDsum {
					minIP, minNode, minDsum = ip, n, d
				}
			}
		}
		if minNode == NoNode {
			break
		}
		minIP.pnn = minNode
		imb[minNode] += minDsum
		s.moves = append(s.moves, Move{Addr: minIP.addr, From: NoNode, To: minNode, ToCost: minDsum})
	}

	anyCand := false
	for _, c := range cand {
		anyCand = anyCand || c
	}
	if noFailback || !anyCand {
		return
	}

	for {
		order := make([]uint32, s.num)
		for n := range order {
			order[n] = uint32(n)
		}
		sort.SliceStable(order, func(i, j int) bool { return imb[order[i]] > imb[order[j]] })
		moved := false
		for _, src := range order {
			if imb[src] == 0 {
				break
			}
			var minIP *refIP
			minDst := NoNode
			var minSrcImb, minDstImb, minSrcDsum, minDstDsum uint32
			for _, ip := range s.ips {
				if ip.pnn != src {
					continue
				}
				srcDsum := s.dsum(ip, src)
				srcImb := imb[src] - srcDsum
				for dst := uint32(0); dst < s.num; dst++ {
					if !cand[dst] || !s.canTakeover(dst, ip) {
						continue
					}
					dstDsum := s.dsum(ip, dst)
					dstImb := imb[dst] + dstDsum
					if dstImb < imb[src] && dstDsum < srcDsum &&
						(minDst == NoNode || srcImb+dstImb < minSrcImb+minDstImb) {
						minIP, minDst = ip, dst
						minSrcImb, minDstImb = srcImb, dstImb
						minSrcDsum, minDstDsum = srcDsum, dstDsum
					}
				}
			}
			if minDst != NoNode {
				imb[src], imb[minDst] = minSrcImb, minDstImb
				minIP.pnn = minDst
				s.moves = append(s.moves, Move{Addr: minIP.addr, From: src, To: minDst,
					FromCost: minSrcDsum, ToCost: minDstDsum})
				moved = true
				break
			}
		}
		if !moved {
			return
		}
	}
}
