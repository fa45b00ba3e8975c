package failover

import "slices"

// placeUnassigned places the unhosted addresses. Each step 4.17 scans every
// unhosted address (list order) on every node that can take it (pnn order)
// and takes the first pair with the smallest dsum, so each step costs
// O(unhosted * nodes). Here each unhosted address keeps a tournament tree
// over its slots whose root is its best slot (smallest dsum, lowest pnn on
// ties). Placing an address on node n changes the dsums on n only, one slot
// per address n can host, and each such change replays one path of that
// address's tree. A step then costs a scan of the unhosted addresses' roots.
func (s *lcp2State) placeUnassigned(moves []Move) []Move {
	var unassigned []int
	for i, o := range s.owner {
		if o == NoNode {
			unassigned = append(unassigned, i)
		}
	}
	if len(unassigned) == 0 {
		return moves
	}
	tr := newSlotTrees(s)
	for _, i := range unassigned {
		tr.build(i)
	}
	for len(unassigned) > 0 {
		pick, pickSlot := -1, -1
		for k, i := range unassigned {
			b := tr.best(i)
			if b >= 0 && (pickSlot < 0 || s.dsum[b] < s.dsum[pickSlot]) {
				pick, pickSlot = k, b
			}
		}
		if pick < 0 {
			break
		}
		i := unassigned[pick]
		to, cost := s.hosts[pickSlot], s.dsum[pickSlot]
		s.imbalance[to] += cost
		s.moveTo(i, pickSlot)
		moves = append(moves, Move{Addr: s.addrs[i], From: NoNode, To: to, ToCost: cost})
		unassigned = slices.Delete(unassigned, pick, pick+1)

		for _, slot := range s.byNode[to] {
			if s.owner[s.slotAddr[slot]] == NoNode {
				tr.update(slot)
			}
		}
	}
	return moves
}

// slotTrees holds one tournament tree per address over the address's slots.
// The tree of address i has 2h-1 nodes for its h slots, stored at
// node[2*hostStart[i]+1 : 2*hostStart[i]+2h] with the usual layout (node k
// has children 2k and 2k+1, leaves at h..2h-1 relative to the base); each
// node holds the winning slot of its subtree. The winner of two slots is the
// one with the smaller (dsum, slot) pair, and since an address's slots are
// in pnn order that is 4.17's smallest dsum, lowest pnn. The pair order is
// total, so the root is the overall winner whatever the tree's shape.
type slotTrees struct {
	s    *lcp2State
	node []int32
}

func newSlotTrees(s *lcp2State) *slotTrees {
	return &slotTrees{s: s, node: make([]int32, 2*len(s.hosts)+1)}
}

func (tr *slotTrees) winner(a, b int32) int32 {
	da, db := tr.s.dsum[a], tr.s.dsum[b]
	if da < db || (da == db && a < b) {
		return a
	}
	return b
}

// build fills address i's tree.
func (tr *slotTrees) build(i int) {
	lo, hi := tr.s.hostStart[i], tr.s.hostStart[i+1]
	h, base := hi-lo, 2*lo
	for j := range h {
		tr.node[base+h+j] = int32(lo + j)
	}
	for k := h - 1; k >= 1; k-- {
		tr.node[base+k] = tr.winner(tr.node[base+2*k], tr.node[base+2*k+1])
	}
}

// best is address i's best slot, -1 if it has no host.
func (tr *slotTrees) best(i int) int {
	lo, hi := tr.s.hostStart[i], tr.s.hostStart[i+1]
	if hi == lo {
		return -1
	}
	return int(tr.node[2*lo+1])
}

// update replays the path of slot after its dsum changed.
func (tr *slotTrees) update(slot int) {
	i := tr.s.slotAddr[slot]
	lo, hi := tr.s.hostStart[i], tr.s.hostStart[i+1]
	h, base := hi-lo, 2*lo
	for k := (h + slot - lo) / 2; k >= 1; k /= 2 {
		tr.node[base+k] = tr.winner(tr.node[base+2*k], tr.node[base+2*k+1])
	}
}
