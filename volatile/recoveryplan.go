package volatile

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// The recovery plan. The leader sees every node's copies of a range of
// hash chains and decides, per record, which copy is the newest and which
// node becomes its dmaster; then it sends each active node only what must
// change in its file. Most records of a large database are where they
// should be after a node is lost, so a recovery writes a fraction of them
// instead of all of them on every node.
//
// What a recovery leaves, for every record whose newest copy has data:
//   - the dmaster D holds the newest copy and names itself;
//   - the lmaster under the new vnn map holds a copy naming D, so that it
//     routes calls there (if it is not D itself);
//   - any other active node holds no copy, or an older (or the same) copy
//     naming an active node other than itself, so that a call it sends
//     reaches a node that knows better. Copies that name a node that left,
//     claim the record, carry read-only flags or disagree with the newest
//     copy at its rsn are replaced by the newest copy naming D.
//
// D is the node the newest copy names if that node holds it and is active:
// it stays where it was. Otherwise the record moves to its lmaster, which
// then is D. A record whose newest copy is empty (deleted) is removed from
// every active node, as are records only non-counting nodes hold.
//
// A copy for an lmaster that has none is pending: the lmaster may keep it
// in memory and write it after the thaw (pending.go). After a node is
// lost these are most of the changes.

// NodeCopy is one node's records of a range of chains, packed as
// tdb.PackChains returns them (values with their ltdb headers).
type NodeCopy struct {
	PNN    uint32
	Packed []byte
	// Counts: the node's copies take part in choosing the newest. A node
	// that was not a member of the last recovered generation holds copies
	// that may be stale; they are only brought in line.
	Counts bool
	// Active: the node serves the new generation and gets changes.
	Active bool
}

// Plan is what one range of chains needs.
type Plan struct {
	// Changes maps an active node to its changes, packed: a record with a
	// value is stored, one with an empty value deleted.
	Changes map[uint32][]byte
	// Pending maps an active node to the copies it needs as the lmaster
	// of records it has no copy of, packed: it may write them after the
	// thaw (see pending.go).
	Pending map[uint32][]byte
	// Records counts the records with data the range keeps.
	Records int
	// Changed counts the changes of all nodes, pending copies included.
	Changed int
}

// Planner plans a recovery's pages. It keeps its index from page to page
// to spare allocations; it is not safe for concurrent use. The index holds
// no pointers (records are offsets into the nodes' buffers), so that the
// garbage collector does not walk it.
type Planner struct {
	vnnmap []uint32
	// self is the lmaster when the vnn map is empty.
	self uint32

	// byHash maps a key's hash to its first entry; entries of keys with
	// the same hash chain by sameHash.
	byHash  map[uint32]int32
	entries []planEntry
	copies  []planCopy
	nodes   []NodeCopy
	// byPNN maps a pnn to its index in nodes, or -1; changes and
	// pending hold each node's changes by that index.
	byPNN   []int32
	changes [][]byte
	pending [][]byte
	changed int
}

type planEntry struct {
	hash     uint32
	sameHash int32
	first    int32 // the entry's last copy seen; copies chain by next
	win      int32 // the newest counting copy, or -1
}

type planCopy struct {
	node, next int32 // node: index into the nodes planned
	keyOff     int32 // the key, then the value, in the node's buffer
	keyLen     int32
	valLen     int32
	hdr        protocol.LtdbHeader
}

func (c *planCopy) key(nodes []NodeCopy) []byte {
	return nodes[c.node].Packed[c.keyOff : c.keyOff+c.keyLen]
}

// data is the value after the ltdb header.
func (c *planCopy) data(nodes []NodeCopy) []byte {
	off := c.keyOff + c.keyLen + protocol.LtdbHeaderSize
	return nodes[c.node].Packed[off : c.keyOff+c.keyLen+c.valLen]
}

// NewPlanner plans for the new vnn map; self is the leader.
func NewPlanner(vnnmap []uint32, self uint32) *Planner {
	return &Planner{vnnmap: slices.Clone(vnnmap), self: self, byHash: make(map[uint32]int32)}
}

// Plan computes the changes for one range of chains from every node's
// copies of it. Nodes are considered in pnn order, so that ties break
// alike whatever order they come in.
func (p *Planner) Plan(nodes []NodeCopy) (Plan, error) {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeCopy) int { return cmp.Compare(a.PNN, b.PNN) })
	p.nodes = nodes
	defer func() { p.nodes = nil }()
	clear(p.byHash)
	p.entries, p.copies = p.entries[:0], p.copies[:0]
	p.changes, p.pending, p.changed = make([][]byte, len(nodes)), make([][]byte, len(nodes)), 0
	p.byPNN = p.byPNN[:0]
	for i, n := range nodes {
		if len(n.Packed) > math.MaxInt32 {
			return Plan{}, fmt.Errorf("records of node %d: %d bytes in one page", n.PNN, len(n.Packed))
		}
		for int(n.PNN) >= len(p.byPNN) {
			p.byPNN = append(p.byPNN, -1)
		}
		if p.byPNN[n.PNN] >= 0 {
			return Plan{}, fmt.Errorf("records of node %d twice", n.PNN)
		}
		p.byPNN[n.PNN] = int32(i)
	}
	lmasters := p.vnnmap
	if len(lmasters) == 0 {
		lmasters = []uint32{p.self}
	}
	for _, pnn := range lmasters {
		if !p.active(pnn) {
			return Plan{}, fmt.Errorf("lmaster %d is not active", pnn)
		}
	}
	if err := p.index(); err != nil {
		return Plan{}, err
	}
	out := Plan{Changes: make(map[uint32][]byte), Pending: make(map[uint32][]byte)}
	for i := range p.entries {
		out.Records += p.decide(&p.entries[i])
	}
	for i, n := range nodes {
		if len(p.changes[i]) > 0 {
			out.Changes[n.PNN] = p.changes[i]
		}
		if len(p.pending[i]) > 0 {
			out.Pending[n.PNN] = p.pending[i]
		}
	}
	out.Changed = p.changed
	return out, nil
}

// active reports whether pnn is an active node of the page.
func (p *Planner) active(pnn uint32) bool {
	return int(pnn) < len(p.byPNN) && p.byPNN[pnn] >= 0 && p.nodes[p.byPNN[pnn]].Active
}

// index collects every copy by key and finds the newest of each.
func (p *Planner) index() error {
	for ni, n := range p.nodes {
		b := n.Packed
		for off := 0; ; {
			k, v, rest, ok, err := tdb.NextPacked(b[off:])
			if err != nil {
				return fmt.Errorf("records of node %d: %w", n.PNN, err)
			}
			if !ok {
				break
			}
			c := planCopy{node: int32(ni), keyOff: int32(off + tdb.PackedHeaderSize), keyLen: int32(len(k)), valLen: int32(len(v))}
			off = len(b) - len(rest)
			if c.hdr, err = protocol.DecodeLtdbHeader(v); err != nil {
				continue // not a record of ours; pulls leave these out
			}
			ei := p.entryOf(k)
			e := &p.entries[ei]
			c.next = e.first
			ci := int32(len(p.copies))
			p.copies = append(p.copies, c)
			e.first = ci
			if n.Counts && (e.win < 0 || p.newer(ci, e.win)) {
				e.win = ci
			}
		}
	}
	return nil
}

// entryOf finds or adds the entry of key.
func (p *Planner) entryOf(key []byte) int32 {
	h := hashKey(key)
	head, seen := p.byHash[h]
	if seen {
		for ei := head; ei >= 0; ei = p.entries[ei].sameHash {
			if bytes.Equal(p.copies[p.entries[ei].first].key(p.nodes), key) {
				return ei
			}
		}
	} else {
		head = -1
	}
	ei := int32(len(p.entries))
	p.entries = append(p.entries, planEntry{hash: h, sameHash: head, first: -1, win: -1})
	p.byHash[h] = ei
	return ei
}

// newer reports whether copy a beats copy b, the current newest: a higher
// rsn, or on a tie the copy of the node naming itself dmaster. Copies come
// in pnn order, so an equal one does not replace the earlier.
func (p *Planner) newer(a, b int32) bool {
	ca, cb := &p.copies[a], &p.copies[b]
	if ca.hdr.RSN != cb.hdr.RSN {
		return ca.hdr.RSN > cb.hdr.RSN
	}
	return ca.hdr.DMaster == p.nodes[ca.node].PNN && cb.hdr.DMaster != p.nodes[cb.node].PNN
}

// decide adds the changes one record needs (see the rules above) and
// reports whether the record is kept.
func (p *Planner) decide(e *planEntry) int {
	nodes := p.nodes
	if e.win < 0 || p.copies[e.win].valLen == protocol.LtdbHeaderSize {
		for ci := e.first; ci >= 0; ci = p.copies[ci].next {
			c := &p.copies[ci]
			if n := nodes[c.node]; n.Active {
				p.changes[c.node] = p.change(p.changes[c.node], c.key(nodes), protocol.LtdbHeader{}, nil, true)
			}
		}
		return 0
	}
	w := &p.copies[e.win]
	key, wdata := w.key(nodes), w.data(nodes)
	holder := nodes[w.node]
	l := p.self
	if len(p.vnnmap) > 0 {
		l = p.vnnmap[e.hash%uint32(len(p.vnnmap))]
	}
	d := l
	if w.hdr.DMaster == holder.PNN && holder.Active {
		d = holder.PNN
	}
	newest := protocol.LtdbHeader{RSN: w.hdr.RSN, DMaster: d, Flags: (w.hdr.Flags | protocol.RecFlagMigratedWithData) &^ protocol.RecFlagsRO}
	haveD, haveL := false, false
	for ci := e.first; ci >= 0; ci = p.copies[ci].next {
		c := &p.copies[ci]
		n := nodes[c.node]
		if !n.Active {
			continue
		}
		ro := c.hdr.Flags&protocol.RecFlagsRO != 0
		same := c.hdr.RSN == w.hdr.RSN && (ci == e.win || bytes.Equal(c.data(nodes), wdata))
		agrees := c.hdr.RSN < w.hdr.RSN || same
		var ok bool
		switch n.PNN {
		case d:
			haveD = true
			ok = c.hdr.DMaster == d && same && !ro
		case l:
			haveL = true
			ok = c.hdr.DMaster == d && agrees && !ro
		default:
			ok = c.hdr.DMaster != n.PNN && p.active(c.hdr.DMaster) && agrees && !ro
		}
		if !ok {
			p.changes[c.node] = p.change(p.changes[c.node], key, newest, wdata, false)
		}
	}
	if !haveD {
		p.changes[p.byPNN[d]] = p.change(p.changes[p.byPNN[d]], key, newest, wdata, false)
	}
	if l != d && !haveL {
		// The lmaster has no copy: one it may write later will do.
		p.pending[p.byPNN[l]] = p.change(p.pending[p.byPNN[l]], key, newest, wdata, false)
	}
	return 1
}

// change appends a packed change to b: the record (header and data), or
// the key's deletion.
func (p *Planner) change(b []byte, key []byte, h protocol.LtdbHeader, data []byte, del bool) []byte {
	vlen := 0
	if !del {
		vlen = protocol.LtdbHeaderSize + len(data)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = binary.LittleEndian.AppendUint32(b, uint32(vlen))
	b = append(b, key...)
	if !del {
		b = h.AppendTo(b)
		b = append(b, data...)
	}
	p.changed++
	return b
}
