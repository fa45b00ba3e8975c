package migration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// check verifies what must hold between any two events while no node died
// since the last recovery: every key has exactly one dmaster, counting a
// record in flight (a REQ_DMASTER or REPLY_DMASTER of this generation) as
// its holder, and a key no file holds as its lmaster's; and once nothing
// is on its way, every lmaster knows where its records are. No call may
// go round while its record stays put (sim.noteCall).
func (s *sim) check() error {
	if s == nil {
		return nil
	}
	if s.circling != "" {
		return errors.New(s.circling)
	}
	if s.dirty() {
		return nil
	}
	quiet := len(s.linkOrder()) == 0
	for _, k := range s.keys() {
		h := s.holders(k)
		if len(h) != 1 {
			return fmt.Errorf("key %s has %d dmasters: %v", k, len(h), h)
		}
		if l := s.lmaster([]byte(k)); quiet && h[0].node != l {
			if r, ok := s.nodes[l].file[k]; !ok || r.Header.DMaster != h[0].node {
				return fmt.Errorf("key %s: nothing is on its way, yet its lmaster n%d names n%d as dmaster, not %v", k, l, r.Header.DMaster, h[0])
			}
		}
	}
	return nil
}

// dirty reports whether a node died and no recovery followed yet.
func (s *sim) dirty() bool { return s.killedGen == s.gen }

// keys lists every key a file, a packet or a client names.
func (s *sim) keys() []string {
	seen := map[string]bool{}
	for _, n := range s.nodes {
		for k := range n.file {
			seen[k] = true
		}
	}
	for _, c := range s.clients {
		seen[c.key] = true
	}
	return slices.Sorted(mapKeys(seen))
}

// holder is where a key's authoritative record is: a node, or a packet.
type holder struct {
	node   uint32
	packet bool
	rec    Record
}

func (h holder) String() string {
	if h.packet {
		return fmt.Sprintf("packet to n%d (%s)", h.node, describeRecord(h.rec))
	}
	return fmt.Sprintf("n%d (%s)", h.node, describeRecord(h.rec))
}

func (s *sim) holders(key string) []holder {
	var hs []holder
	for _, n := range s.nodes {
		if !n.alive {
			continue
		}
		r, ok := n.file[key]
		if (ok && r.Header.DMaster == n.pnn) || (!ok && s.lmaster([]byte(key)) == n.pnn) {
			hs = append(hs, holder{node: n.pnn, rec: r})
		}
	}
	for _, l := range s.linkOrder() {
		for _, p := range s.links[l] {
			if r, gen, ok := carried(p.msg, key); ok && gen == s.gen {
				hs = append(hs, holder{node: p.to, packet: true, rec: r})
			}
		}
	}
	return hs
}

// carried returns the record a packet of this key carries to its new
// dmaster, and the packet's generation; a notice carries a copy only.
func carried(msg []byte, key string) (Record, uint32, bool) {
	h, err := protocol.DecodeHeader(msg)
	if err != nil {
		return Record{}, 0, false
	}
	switch h.Operation {
	case protocol.OpReqDMaster:
		var r protocol.ReqDMaster
		if r.Unmarshal(msg) == nil && string(r.Key) == key && r.RecordFlags&RecFlagNotice == 0 {
			return Record{Header: protocol.LtdbHeader{RSN: r.RSN, DMaster: r.DMaster}, Data: r.Data}, h.Generation, true
		}
	case protocol.OpReplyDMaster:
		var r protocol.ReplyDMaster
		if r.Unmarshal(msg) == nil && string(r.Key) == key {
			return Record{Header: protocol.LtdbHeader{RSN: r.RSN, DMaster: h.DestNode}, Data: r.Data}, h.Generation, true
		}
	}
	return Record{}, 0, false
}

// history is what the fuzz test knows each key must hold: the data its
// last write left and the least rsn its record may have.
type history struct {
	data map[string][]byte
	rsn  map[string]uint64
}

// verify checks the authoritative copy of every key against the history:
// the last write's data, an rsn that never went back.
func (hist *history) verify(s *sim) error {
	if s.dirty() {
		return nil
	}
	if err := s.check(); err != nil {
		return err
	}
	for _, k := range s.keys() {
		hs := s.holders(k)
		r := hs[0].rec
		if !bytes.Equal(r.Data, hist.data[k]) {
			return fmt.Errorf("key %s: %v holds %q, the last write was %q", k, hs[0], r.Data, hist.data[k])
		}
		if r.Header.RSN < hist.rsn[k] {
			return fmt.Errorf("key %s: %v went back from rsn %d", k, hs[0], hist.rsn[k])
		}
		hist.rsn[k] = r.Header.RSN
	}
	return nil
}

// rebase takes what a recovery left as the new history: writes on a node
// that died are lost with it, as CTDB's contract allows.
func (hist *history) rebase(s *sim) {
	for _, k := range s.keys() {
		if hs := s.holders(k); len(hs) == 1 {
			hist.data[k], hist.rsn[k] = bytes.Clone(hs[0].rec.Data), hs[0].rec.Header.RSN
		}
	}
}

var fuzzKeys = []string{"a", "b"}

// FuzzMigration drives three nodes through random calls, deliveries,
// writes, time and one node's death, and checks after every step that
// each record has one dmaster, holds its last write with an rsn that never
// goes back, that a FETCH answers the last write, and, once everything is
// delivered and the pins ran out, that every client was answered without
// waiting for a resend.
func FuzzMigration(f *testing.F) {
	f.Add([]byte{0, 0, 2, 2, 2, 2, 2, 3, 1, 9, 2, 2, 2, 2})
	f.Add([]byte{0, 1, 0, 2, 1, 17, 2, 2, 2, 2, 2, 2, 4, 3, 5, 2, 2, 2})
	f.Add([]byte{0, 1, 1, 2, 2, 2, 2, 2, 2, 0, 9, 3, 1, 4, 2, 2, 2, 3, 2, 6, 2, 2, 2, 2, 2})
	f.Add([]byte{0, 0, 0, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 7, 2, 2, 2, 2, 2, 5, 2, 2, 2})
	f.Add([]byte{8, 0, 0, 8, 1, 1, 0, 2, 2, 2, 3, 0, 2, 2, 2, 2, 6, 4, 5, 5, 2, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			ops = ops[:400]
		}
		runFuzz(t, ops)
	})
}

func runFuzz(t *testing.T, ops []byte) { runFuzzWith(t, ops, nil) }

func runFuzzWith(t *testing.T, ops []byte, got func(*sim)) {
	s := newSim(3)
	if got != nil {
		got(s)
	}
	s.lmasters["a"], s.lmasters["b"] = 0, 1
	hist := &history{data: map[string][]byte{}, rsn: map[string]uint64{}}
	var fail error
	s.onAnswer = func(n *simNode, c *simClient, a Answer) {
		if fail != nil || c.callid != protocol.CallFetchFunc || a.Status != 0 || s.dirty() {
			return
		}
		if r, ok := n.file[c.key]; ok && r.Header.DMaster != n.pnn {
			fail = fmt.Errorf("%s answered on n%d, which is not the dmaster of %s (%s)", c.name, n.pnn, c.key, describeRecord(r))
		} else if !bytes.Equal(a.Data, hist.data[c.key]) {
			fail = fmt.Errorf("%s read %q from %s, the last write was %q", c.name, a.Data, c.key, hist.data[c.key])
		}
	}
	writes := 0
	byte := func(i *int) int {
		if *i >= len(ops) {
			return 0
		}
		*i++
		return int(ops[*i-1])
	}
	for i := 0; i < len(ops); {
		op := byte(&i)
		switch op % 12 {
		case 0, 1: // a client's FETCH or NULL call
			node, key := uint32(byte(&i)%3), fuzzKeys[byte(&i)%2]
			if s.nodes[node].alive {
				s.call(node, key, uint32(op%12), 0)
			}
		case 2, 3: // one packet on a link
			if ls := s.linkOrder(); len(ls) > 0 {
				s.deliver(ls[byte(&i)%len(ls)])
			}
		case 4: // a client writes a record its node holds
			node, key := s.nodes[byte(&i)%3], fuzzKeys[byte(&i)%2]
			if r, ok := node.file[key]; node.alive && ok && r.Header.DMaster == node.pnn {
				writes++
				data := fmt.Appendf(nil, "w%d", writes)
				if s.write(node, key, string(data)) == nil && !s.dirty() {
					hist.data[key] = data
				}
			}
		case 5: // pins run out, the watch looks
			s.tick(200 * time.Microsecond)
		case 6: // fetches are sent again
			s.tick(simCallTimeout + time.Millisecond)
		case 7: // a node dies; the cluster recovers at the next 10 or 11
			if s.alive() > 2 {
				s.kill(uint32(byte(&i) % 3))
			}
		case 10, 11:
			if s.dirty() {
				s.recover()
				hist.rebase(s)
			}
		case 8: // a local process holds a chain, or lets it go
			node, key := s.nodes[byte(&i)%3], fuzzKeys[byte(&i)%2]
			if node.locked[key] {
				s.unlock(node, key)
			} else {
				node.locked[key] = true
			}
		case 9:
			// Until the recovery after a death, calls may circle between
			// the nodes that live (their record died): the recovery's new
			// generation drops them.
			if !s.deliverAll(1000) && !s.dirty() {
				fail = fmt.Errorf("packets still flowing after 1000 deliveries")
			}
		}
		if fail == nil {
			fail = hist.verify(s)
		}
		if fail != nil {
			t.Fatalf("after op %d of %v: %v\n%s", i, ops, fail, s.trace())
		}
	}
	// Everything settles without a resend: every client is answered once
	// the packets are delivered and the pins ran out. A request that
	// needed its resend timer would stall a client for CallTimeout.
	if s.dirty() {
		s.recover()
		hist.rebase(s)
	}
	for _, n := range s.nodes {
		for _, k := range slices.Sorted(mapKeys(n.locked)) {
			s.unlock(n, k)
		}
	}
	for range 20 {
		if !s.deliverAll(10000) {
			t.Fatalf("packets still flowing after 10000 deliveries\n%s", s.trace())
		}
		s.tick(simPin)
		if err := hist.verify(s); err != nil || fail != nil {
			t.Fatalf("settling: %v %v\n%s", err, fail, s.trace())
		}
	}
	for _, c := range s.clients {
		if !c.answered && s.nodes[c.node].alive {
			t.Fatalf("%s on n%d (%s) was not answered without a resend\n%s", c.name, c.node, c.key, s.trace())
		}
	}
}

func (s *sim) alive() int {
	n := 0
	for _, nd := range s.nodes {
		if nd.alive {
			n++
		}
	}
	return n
}

// trace is the last of what happened, for failures.
func (s *sim) trace() string {
	out := s.out
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	return fmt.Sprintf("%d events; the last:\n%s", len(s.out), strings.Join(out, "\n"))
}

// TestRandomRuns runs the fuzz test's checks on a fixed set of random
// inputs, so that every make test explores more than the seeds.
func TestRandomRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 1000
	if testing.Short() {
		n = 200
	}
	for range n {
		ops := make([]byte, r.IntN(400))
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		runFuzz(t, ops)
		if t.Failed() {
			return
		}
	}
}
