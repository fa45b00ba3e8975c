package failover

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Algorithm is the IPAllocAlgorithm tunable: which of 4.17's allocation
// algorithms a takeover run uses.
type Algorithm uint32

// The algorithms 4.17 knows. Any other value selects LCP2, as in 4.17.
const (
	Deterministic    Algorithm = 0
	NonDeterministic Algorithm = 1
	LCP2             Algorithm = 2
)

// String names the algorithm as 4.17's test harness does ("det", "nondet",
// "lcp2"); values 4.17 maps to LCP2 print as "lcp2(N)".
func (a Algorithm) String() string {
	switch a {
	case Deterministic:
		return "det"
	case NonDeterministic:
		return "nondet"
	case LCP2:
		return "lcp2"
	}
	return fmt.Sprintf("lcp2(%d)", uint32(a))
}

// NoNode marks an address held by no node (CTDB_UNKNOWN_PNN).
const NoNode uint32 = 0xFFFFFFFF

// MaxNodes bounds Input.NumNodes. The allocation keeps a few words per node
// and LCP2 sorts the nodes once per move, so an absurd node count from a
// corrupt node map is refused rather than allowed to exhaust memory.
const MaxNodes = 1 << 16

// ErrInvalidInput is wrapped by every error Allocate returns.
var ErrInvalidInput = errors.New("invalid public IP allocation input")

// Address is one public address as the leader sees it before a run.
type Address struct {
	// Addr is IPv4 or IPv6; IPv4-mapped IPv6 is folded to IPv4, as 4.17
	// does when it reads public_addresses. Zoned addresses are refused.
	Addr netip.Addr
	// Owner is the current holder, NoNode if none. 4.17 believes node n
	// holds the address only if n itself reports so; the caller applies
	// that rule (and, when several nodes claim it, the highest pnn wins).
	Owner uint32
	// Hosts are the pnns that can host the address now: the nodes that
	// report it available (see CanHost). Any order; duplicates are
	// harmless.
	Hosts []uint32
}

// Input is everything an allocation depends on.
type Input struct {
	// NumNodes is the size of the node map, deleted nodes included.
	NumNodes int
	// Addresses are the merged public addresses of the cluster, in any
	// order: Allocate sorts them as 4.17 does.
	Addresses []Address
	// Algorithm selects the allocation algorithm.
	Algorithm Algorithm
	// NoIPTakeover forbids any node to gain an address; addresses on nodes
	// that cannot host them still lose their holder. The deterministic
	// algorithm ignores it when it places addresses on their home nodes,
	// as 4.17 does.
	NoIPTakeover bool
	// NoIPFailback turns off rebalancing (LCP2, non-deterministic).
	NoIPFailback bool
	// ForceRebalance lists pnns announced by REBALANCE_NODE: LCP2 may move
	// addresses onto them although they hold some. Pnns outside the node
	// map are ignored, as 4.17 ignores them.
	ForceRebalance []uint32
}

// Assignment is the holder an allocation chose for one address.
type Assignment struct {
	Addr  netip.Addr // IPv4-mapped IPv6 folded to IPv4
	Owner uint32     // NoNode: no node can host it
}

// Move is one decision LCP2 logs at INFO level: an unhosted address placed
// on a node (From is NoNode), or an address moved between nodes to
// rebalance them.
type Move struct {
	Addr     netip.Addr
	From, To uint32
	// FromCost is the LCP2 distance sum the address added to From's
	// imbalance; ToCost is what it adds to To's. Both wrap as 4.17's
	// unsigned 32-bit sums do.
	FromCost, ToCost uint32
}

// String renders the move as 4.17's INFO log line: " ADDR -> D [+y]" for a
// placement (with its leading space) and "S [-x] -> ADDR -> D [+y]" for a
// rebalancing move. The numbers are printed as signed 32-bit values, which
// is what 4.17's %d of an unsigned sum shows.
func (m Move) String() string {
	if m.From == NoNode {
		return fmt.Sprintf(" %s -> %d [+%d]", m.Addr, int32(m.To), int32(m.ToCost))
	}
	return fmt.Sprintf("%d [%d] -> %s -> %d [+%d]",
		int32(m.From), int32(-m.FromCost), m.Addr, int32(m.To), int32(m.ToCost))
}

// Result is the outcome of one allocation.
type Result struct {
	// Assignments holds every address once, in 4.17's list order
	// (descending address key: IPv6 before IPv4, high before low).
	Assignments []Assignment
	// Moves are LCP2's placements and rebalancing moves in the order it
	// made them; empty for the other algorithms, which log none.
	Moves []Move
}

// Unhosted lists, in list order, the addresses no node could take: those
// 4.17 reports as "Failed to find node to cover ip X".
func (r Result) Unhosted() []netip.Addr {
	var out []netip.Addr
	for _, a := range r.Assignments {
		if a.Owner == NoNode {
			out = append(out, a.Addr)
		}
	}
	return out
}

// Allocate computes the holder of every public address as a 4.17 leader
// would for the same input. It is deterministic and does not modify in.
func Allocate(in Input) (Result, error) {
	p, err := newPlan(in)
	if err != nil {
		return Result{}, err
	}
	var moves []Move
	switch in.Algorithm {
	case Deterministic:
		p.deterministic()
	case NonDeterministic:
		p.nonDeterministic(in.NoIPFailback)
	default:
		moves = p.lcp2(in.NoIPFailback, in.ForceRebalance)
	}
	res := Result{Assignments: make([]Assignment, len(p.addrs)), Moves: moves}
	for i, a := range p.addrs {
		res.Assignments[i] = Assignment{Addr: a, Owner: p.owner[i]}
	}
	return res, nil
}

// ipKey is 4.17's sort and distance key of an address: four 32-bit words,
// IPv4 as {0, 0, 0, addr}, IPv6 as its big-endian words.
type ipKey [4]uint32

func keyOf(a netip.Addr) ipKey {
	be := binary.BigEndian
	if a.Is4() {
		b := a.As4()
		return ipKey{0, 0, 0, be.Uint32(b[:])}
	}
	b := a.As16()
	return ipKey{be.Uint32(b[0:]), be.Uint32(b[4:]), be.Uint32(b[8:]), be.Uint32(b[12:])}
}

func compareKeys(a, b ipKey) int {
	for w := range a {
		if c := cmp.Compare(a[w], b[w]); c != 0 {
			return c
		}
	}
	return 0
}

// plan is the working state of one allocation. Addresses are indexed in
// list order; each address's hosts are kept sorted ascending in one flat
// array (hosts[hostStart[i]:hostStart[i+1]]) so that per-(address, host)
// data can live in parallel flat arrays.
type plan struct {
	numNodes   int
	noTakeover bool

	addrs []netip.Addr
	keys  []ipKey
	owner []uint32
	count []int // addresses held per node

	hosts     []uint32
	hostStart []int
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("allocate public IPs: %w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

func newPlan(in Input) (*plan, error) {
	if in.NumNodes < 0 || in.NumNodes > MaxNodes {
		return nil, invalid("NumNodes %d is outside 0..%d", in.NumNodes, MaxNodes)
	}
	type entry struct {
		addr netip.Addr
		key  ipKey
		src  int
	}
	entries := make([]entry, len(in.Addresses))
	for i, a := range in.Addresses {
		if !a.Addr.IsValid() {
			return nil, invalid("Addresses[%d].Addr is not set", i)
		}
		if a.Addr.Zone() != "" {
			return nil, invalid("address %s: a zoned address cannot be public", a.Addr)
		}
		addr := a.Addr.Unmap()
		if a.Owner != NoNode && uint64(a.Owner) >= uint64(in.NumNodes) {
			return nil, invalid("address %s: Owner %d is not a node (NumNodes %d)", addr, a.Owner, in.NumNodes)
		}
		for k, h := range a.Hosts {
			if uint64(h) >= uint64(in.NumNodes) {
				return nil, invalid("address %s: Hosts[%d] = %d is not a node (NumNodes %d)", addr, k, h, in.NumNodes)
			}
		}
		entries[i] = entry{addr: addr, key: keyOf(addr), src: i}
	}
	slices.SortFunc(entries, func(a, b entry) int { return compareKeys(b.key, a.key) })
	for i := 1; i < len(entries); i++ {
		if entries[i].key != entries[i-1].key {
			continue
		}
		a, b := entries[i-1], entries[i]
		if a.src > b.src {
			a, b = b, a // name them in input order
		}
		if a.addr == b.addr {
			return nil, invalid("address %s listed twice (Addresses[%d] and [%d])", a.addr, a.src, b.src)
		}
		// IPv4 a.b.c.d and IPv6 ::a.b.c.d share 4.17's key, which would
		// merge them into one address.
		return nil, invalid("addresses %s and %s have the same 4.17 key", a.addr, b.addr)
	}

	n := len(entries)
	p := &plan{
		numNodes:   in.NumNodes,
		noTakeover: in.NoIPTakeover,
		addrs:      make([]netip.Addr, n),
		keys:       make([]ipKey, n),
		owner:      make([]uint32, n),
		count:      make([]int, in.NumNodes),
		hostStart:  make([]int, n+1),
	}
	for i, e := range entries {
		src := in.Addresses[e.src]
		p.addrs[i], p.keys[i], p.owner[i] = e.addr, e.key, src.Owner
		if src.Owner != NoNode {
			p.count[src.Owner]++
		}
		start := len(p.hosts)
		p.hosts = append(p.hosts, src.Hosts...)
		own := p.hosts[start:]
		slices.Sort(own)
		p.hosts = p.hosts[:start+len(slices.Compact(own))]
		p.hostStart[i+1] = len(p.hosts)
	}
	return p, nil
}

// hostsOf returns address i's hosts, ascending.
func (p *plan) hostsOf(i int) []uint32 { return p.hosts[p.hostStart[i]:p.hostStart[i+1]] }

func (p *plan) canHost(i int, node uint32) bool {
	_, ok := slices.BinarySearch(p.hostsOf(i), node)
	return ok
}

// setOwner moves address i to node (NoNode to unassign it).
func (p *plan) setOwner(i int, node uint32) {
	if old := p.owner[i]; old != NoNode {
		p.count[old]--
	}
	p.owner[i] = node
	if node != NoNode {
		p.count[node]++
	}
}

// unassignUnsuitable drops every holder that cannot host its address now.
func (p *plan) unassignUnsuitable() {
	for i, o := range p.owner {
		if o != NoNode && !p.canHost(i, o) {
			p.setOwner(i, NoNode)
		}
	}
}

// findTakeoverNode is 4.17's choice of a new holder for one address: of
// the nodes that can take it over, the one holding fewest addresses, the
// lowest pnn on ties (the current holder counts its own copy). It reports
// false, leaving the address alone, if no node can take it over.
func (p *plan) findTakeoverNode(i int) bool {
	if p.noTakeover {
		return false
	}
	best := NoNode
	for _, h := range p.hostsOf(i) {
		if best == NoNode || p.count[h] < p.count[best] {
			best = h
		}
	}
	if best == NoNode {
		return false
	}
	p.setOwner(i, best)
	return true
}

// basicAllocateUnassigned gives each unhosted address, in list order, to
// findTakeoverNode's choice.
func (p *plan) basicAllocateUnassigned() {
	for i, o := range p.owner {
		if o == NoNode {
			p.findTakeoverNode(i)
		}
	}
}

// deterministic is IPAllocAlgorithm 0: address i of the list goes home to
// node i mod NumNodes, whatever its hosts and NoIPTakeover say; addresses
// whose home cannot host them are then placed as unhosted ones. There is no
// failback step, so NoIPFailback has no effect.
func (p *plan) deterministic() {
	if p.numNodes > 0 {
		for i := range p.owner {
			p.setOwner(i, uint32(i%p.numNodes))
		}
	}
	p.unassignUnsuitable()
	p.basicAllocateUnassigned()
}

// nonDeterministic is IPAllocAlgorithm 1: keep what can stay, place the
// rest on the least loaded nodes, then, unless failback is off, even out
// the address counts. The evening-out follows 4.17 step for step: scan the
// list for an address whose possible hosts differ by more than one address
// in load, re-place the first address of the most loaded of them, and start
// over, at most len(addresses)+5 times.
func (p *plan) nonDeterministic(noFailback bool) {
	p.unassignUnsuitable()
	p.basicAllocateUnassigned()
	if noFailback || p.noTakeover {
		// Without takeover no node can gain an address, so 4.17's
		// failback finds no node to compare and does nothing.
		return
	}
	limit := len(p.addrs) + 5
	for retries := 0; retries < limit; retries++ {
		maxNode, ok := p.unevenNode()
		if !ok {
			return
		}
		for i, o := range p.owner {
			if o == maxNode {
				p.findTakeoverNode(i)
				break
			}
		}
	}
}

// unevenNode finds the first assigned address (in list order) whose hosts'
// loads differ by more than one and returns the most loaded of those hosts
// (lowest pnn on ties).
func (p *plan) unevenNode() (uint32, bool) {
	for i, o := range p.owner {
		if o == NoNode {
			continue
		}
		hs := p.hostsOf(i)
		if len(hs) == 0 {
			continue
		}
		maxNode, minNode := hs[0], hs[0]
		for _, h := range hs[1:] {
			if p.count[h] > p.count[maxNode] {
				maxNode = h
			}
			if p.count[h] < p.count[minNode] {
				minNode = h
			}
		}
		if p.count[maxNode] > p.count[minNode]+1 {
			return maxNode, true
		}
	}
	return 0, false
}
