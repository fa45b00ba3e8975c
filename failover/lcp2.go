package failover

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// LCP2 ("longest common prefix squared") places addresses so that each node
// holds addresses that are far apart, spreading every subnet over the
// cluster. The cost of address a on node n is dsum(a, n), the sum of
// distance(a, b)^2 over the other addresses b on n; a node's imbalance is
// the sum of distance^2 over the pairs of addresses it holds. All sums are
// unsigned 32-bit and wrap, as in 4.17.
//
// 4.17 recomputes each dsum from the whole address list whenever it needs
// one, which costs O(addresses^2 * nodes) per step. Here every dsum that can
// matter, those of an address on the nodes that can host it, is kept up to
// date as addresses move: a move touches only the addresses the two nodes
// can host. Wrapping addition is associative, so the maintained sums equal
// 4.17's recomputed ones bit for bit.

// distance is 4.17's LCP2 distance of two keys: per 32-bit word, the
// number of leading bits the words share (32 if equal), summed over all
// four words. It does not stop at the first differing word.
func distance(a, b *ipKey) uint32 {
	return uint32(bits.LeadingZeros32(a[0]^b[0]) + bits.LeadingZeros32(a[1]^b[1]) +
		bits.LeadingZeros32(a[2]^b[2]) + bits.LeadingZeros32(a[3]^b[3]))
}

func distanceSquared(a, b *ipKey) uint32 {
	d := distance(a, b)
	return d * d
}

// lcp2State is the working state of one LCP2 allocation.
type lcp2State struct {
	*plan

	// Per (address, host) slot, parallel to plan.hosts: the address the
	// slot belongs to and its dsum on that host.
	slotAddr []int
	dsum     []uint32
	// byNode[n] lists the slots whose host is n, in list order of their
	// addresses: the addresses whose dsum on n changes when n gains or
	// loses an address.
	byNode [][]int

	imbalance []uint32
}

// lcp2 is IPAllocAlgorithm 2 (and every unknown value): keep what can stay,
// place the unhosted addresses one at a time where they cost least, then,
// unless failback is off, move addresses onto rebalance candidates (nodes
// that held nothing before the run, and the forced ones) while that lowers
// the imbalance.
func (p *plan) lcp2(noFailback bool, forceRebalance []uint32) []Move {
	p.unassignUnsuitable()
	if p.noTakeover {
		// No node may gain an address, so neither placement nor
		// rebalancing has a move to make.
		return nil
	}
	s := newLCP2State(p)
	candidates := make([]bool, p.numNodes)
	for n := range candidates {
		candidates[n] = p.count[n] == 0
	}
	for _, n := range forceRebalance {
		if uint64(n) < uint64(p.numNodes) {
			candidates[n] = true
		}
	}
	moves := s.placeUnassigned(nil)
	if noFailback || !slices.Contains(candidates, true) {
		return moves
	}
	return s.rebalance(moves, candidates)
}

func newLCP2State(p *plan) *lcp2State {
	s := &lcp2State{
		plan:      p,
		slotAddr:  make([]int, len(p.hosts)),
		dsum:      make([]uint32, len(p.hosts)),
		byNode:    make([][]int, p.numNodes),
		imbalance: make([]uint32, p.numNodes),
	}
	perNode := make([]int, p.numNodes)
	for _, h := range p.hosts {
		perNode[h]++
	}
	for n, c := range perNode {
		s.byNode[n] = make([]int, 0, c)
	}
	ownerSlot := make([]int, len(p.addrs))
	for i := range p.addrs {
		for slot := p.hostStart[i]; slot < p.hostStart[i+1]; slot++ {
			s.slotAddr[slot] = i
			h := p.hosts[slot]
			s.byNode[h] = append(s.byNode[h], slot)
			if h == p.owner[i] {
				ownerSlot[i] = slot
			}
		}
	}
	// Adding the held addresses one by one, each adds its dsum against
	// the ones added before it: every pair once, the imbalance. (Every
	// holder can host its address: unsuitable ones were unassigned.)
	for i, o := range p.owner {
		if o == NoNode {
			continue
		}
		s.imbalance[o] += s.dsum[ownerSlot[i]]
		s.addTo(i, o)
	}
	return s
}

// addTo adds address i's contribution to the dsum on node n of every
// address n can host.
func (s *lcp2State) addTo(i int, n uint32) {
	k := &s.keys[i]
	for _, slot := range s.byNode[n] {
		if a := s.slotAddr[slot]; a != i {
			s.dsum[slot] += distanceSquared(&s.keys[a], k)
		}
	}
}

// removeFrom undoes addTo.
func (s *lcp2State) removeFrom(i int, n uint32) {
	k := &s.keys[i]
	for _, slot := range s.byNode[n] {
		if a := s.slotAddr[slot]; a != i {
			s.dsum[slot] -= distanceSquared(&s.keys[a], k)
		}
	}
}

// moveTo gives address i, held by another node or by none, to the host of
// slot, one of i's slots.
func (s *lcp2State) moveTo(i, slot int) {
	to := s.hosts[slot]
	if from := s.owner[i]; from != NoNode {
		s.removeFrom(i, from)
	}
	s.addTo(i, to)
	s.setOwner(i, to)
}

// rebalance is 4.17's LCP2 failback: order the nodes by imbalance,
// highest first (pnn order on ties, as the stable sort of 4.17's C library
// leaves them), and let the first node with a worthwhile move make it;
// repeat until no node has one. A move of address t from src to dst is
// worthwhile if dst stays below src's current imbalance and t costs dst
// less than it costs src; of those, src makes the one with the smallest
// sum of the two new imbalances (first found on ties).
func (s *lcp2State) rebalance(moves []Move, candidates []bool) []Move {
	// Destinations are always candidates and candidates never change, so
	// each address's candidate slots are listed once.
	candStart := make([]int, len(s.addrs)+1)
	var candSlots []int
	for t := range s.addrs {
		for slot := s.hostStart[t]; slot < s.hostStart[t+1]; slot++ {
			if candidates[s.hosts[slot]] {
				candSlots = append(candSlots, slot)
			}
		}
		candStart[t+1] = len(candSlots)
	}

	order := make([]uint32, s.numNodes)
	for {
		for n := range order {
			order[n] = uint32(n)
		}
		slices.SortStableFunc(order, func(a, b uint32) int {
			return cmp.Compare(s.imbalance[b], s.imbalance[a])
		})
		moved := false
		for _, src := range order {
			if s.imbalance[src] == 0 {
				break
			}
			if m, ok := s.bestMoveFrom(src, candSlots, candStart); ok {
				moves = append(moves, m)
				moved = true
				break
			}
		}
		if !moved {
			return moves
		}
	}
}

// bestMoveFrom finds and makes src's best worthwhile move, if it has one.
// candSlots[candStart[t]:candStart[t+1]] are address t's slots on
// candidates.
func (s *lcp2State) bestMoveFrom(src uint32, candSlots, candStart []int) (Move, bool) {
	srcImb := s.imbalance[src]
	// noMove is above every uint32 sum, so the first worthwhile move
	// always wins.
	const noMove = math.MaxUint32 + 1
	bestAddr, bestSlot, bestSum := -1, -1, uint64(noMove)
	var bestSrcCost uint32
	for _, srcSlot := range s.byNode[src] {
		t := s.slotAddr[srcSlot]
		if s.owner[t] != src {
			continue
		}
		srcCost := s.dsum[srcSlot]
		if slot, sum := s.bestDestination(candSlots[candStart[t]:candStart[t+1]], srcImb, srcCost, bestSum); slot >= 0 {
			bestAddr, bestSlot, bestSum, bestSrcCost = t, slot, sum, srcCost
		}
	}
	if bestSlot < 0 {
		return Move{}, false
	}
	dst, dstCost := s.hosts[bestSlot], s.dsum[bestSlot]
	s.imbalance[src] -= bestSrcCost
	s.imbalance[dst] += dstCost
	s.moveTo(bestAddr, bestSlot)
	return Move{Addr: s.addrs[bestAddr], From: src, To: dst, FromCost: bestSrcCost, ToCost: dstCost}, true
}

// bestDestination returns the first of slots that takes an address costing
// srcCost from a node of imbalance srcImb worthwhile with a sum of new
// imbalances below bestSum, and that sum; -1 if none.
func (s *lcp2State) bestDestination(slots []int, srcImb, srcCost uint32, bestSum uint64) (int, uint64) {
	dsum, hosts, imbalance := s.dsum, s.hosts, s.imbalance
	newSrcImb := srcImb - srcCost
	best := -1
	for _, slot := range slots {
		dstCost := dsum[slot]
		newDstImb := imbalance[hosts[slot]] + dstCost
		// Most pairs are worthwhile, few beat the best: test that
		// first.
		if sum := uint64(newSrcImb + newDstImb); sum < bestSum && dstCost < srcCost && newDstImb < srcImb {
			best, bestSum = slot, sum
		}
	}
	return best, bestSum
}
