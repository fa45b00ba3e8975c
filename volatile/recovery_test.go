package volatile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

func recData(key string, rsn uint64, dmaster uint32, data string) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: dmaster}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

func packed(recs ...protocol.RecData) []byte {
	var b []byte
	for _, r := range recs {
		b = tdb.AppendPacked(b, r.Key, r.Data)
	}
	return b
}

// unpack reads a plan's changes for one node: key -> "data@rsn/dmN", or
// "delete".
func unpack(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for {
		k, v, rest, ok, err := tdb.NextPacked(b)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		b = rest
		if len(v) == 0 {
			out[string(k)] = "delete"
			continue
		}
		h, err := protocol.DecodeLtdbHeader(v)
		if err != nil {
			t.Fatal(err)
		}
		if h.Flags&protocol.RecFlagMigratedWithData == 0 || h.Flags&protocol.RecFlagsRO != 0 {
			t.Errorf("%q: flags %#x", k, h.Flags)
		}
		out[string(k)] = fmt.Sprintf("%s@%d/dm%d", v[protocol.LtdbHeaderSize:], h.RSN, h.DMaster)
	}
}

// The new vnn map is [0 1] (node 2 is gone); node 3 is active but was not
// a member, so its copies do not count.
func TestPlanChangesOnlyWhatMustChange(t *testing.T) {
	k := func(name string, lmaster uint32) string { return keyWithLmaster(name, lmaster, 2) }
	var (
		staying   = k("staying", 1) // own copy on 1, its lmaster: nothing to do
		pointer   = k("pointer", 0) // own copy on 1, lmaster 0 has none: 0 learns
		knows     = k("knows", 0)   // own copy on 1, lmaster 0 has an older copy naming 1
		orphan    = k("orphan", 1)  // dmaster 2 died; 0's copy is the newest left
		orphan0   = k("orphan0", 0) // the same, with 0 as its lmaster
		tie       = k("tie", 1)     // equal rsn: 0's own copy beats 1's naming 2
		deleted   = k("deleted", 0) // newest copy empty: gone everywhere
		stale     = k("stale", 1)   // 3 holds a newer-looking copy that does not count
		only3     = k("only3", 0)   // only 3 holds it: gone
		ro        = k("ro", 0)      // dmaster 0 still flags delegations
		claimed   = k("claimed", 0) // 3 wrongly names itself dmaster
		departing = k("departing", 0)
	)
	roHdr := protocol.LtdbHeader{RSN: 4, DMaster: 0, Flags: protocol.RecFlagROHaveDelegations}
	nodes := []NodeCopy{
		{PNN: 1, Counts: true, Active: true, Packed: packed(
			recData(staying, 5, 1, "s"), recData(pointer, 5, 1, "p"), recData(knows, 9, 1, "k"),
			recData(tie, 7, 2, "theirs"), recData(deleted, 3, 0, "doomed"), recData(stale, 2, 1, "st"),
			recData(claimed, 6, 1, "c"))},
		{PNN: 0, Counts: true, Active: true, Packed: packed(
			recData(knows, 8, 1, "old"), recData(orphan, 4, 2, "o"), recData(orphan0, 4, 2, "o0"),
			recData(tie, 7, 0, "mine"), recData(deleted, 4, 0, ""),
			protocol.RecData{Key: []byte(ro), Data: append(roHdr.AppendTo(nil), "r"...)})},
		{PNN: 3, Counts: false, Active: true, Packed: packed(
			recData(stale, 9, 1, "ghost"), recData(only3, 1, 3, "x"), recData(claimed, 2, 3, "c3"))},
		{PNN: 4, Counts: true, Active: false, Packed: packed(recData(departing, 2, 4, "d"))},
	}
	plan, err := NewPlanner([]uint32{0, 1}, 0).Plan(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]map[string]string{
		0: {
			orphan:    "o@4/dm1",  // its copy named the dead node
			orphan0:   "o0@4/dm0", // moves to its lmaster, which becomes dmaster
			deleted:   "delete",
			ro:        "r@4/dm0",
			departing: "d@2/dm0", // the departing node's copy counts; it lands on the lmaster
		},
		1: {
			orphan:  "o@4/dm1", // the lmaster takes it over
			tie:     "mine@7/dm0",
			deleted: "delete",
		},
		3: {
			stale:   "st@2/dm1", // the counting copy wins
			only3:   "delete",
			claimed: "c@6/dm1",
		},
	}
	if _, ok := plan.Changes[4]; ok {
		t.Errorf("changes for departing node 4: %v", unpack(t, plan.Changes[4]))
	}
	// The lmaster lacking a copy may write it later.
	if got := unpack(t, plan.Pending[0]); fmt.Sprint(got) != fmt.Sprint(map[string]string{pointer: "p@5/dm1", claimed: "c@6/dm1"}) || len(plan.Pending) != 1 {
		t.Errorf("pending copies: node 0 %v, all %v", got, plan.Pending)
	}
	for pnn, w := range want {
		got := unpack(t, plan.Changes[pnn])
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("node %d:\n got %v\nwant %v", pnn, got, w)
		}
	}
	if plan.Records != 10 {
		t.Errorf("records kept: %d, want 10", plan.Records)
	}
}

func TestPlanRefusesVNNMapWithInactiveNode(t *testing.T) {
	_, err := NewPlanner([]uint32{0, 2}, 0).Plan([]NodeCopy{{PNN: 0, Counts: true, Active: true}})
	if err == nil {
		t.Fatal("planned for a vnn map naming a node that is not active")
	}
}

// recoverNet runs a recovery as the leader (the first active node) would:
// freeze, pull from the active nodes, plan, push, thaw.
func (tn *testNet) recoverNet(gen uint32, active []uint32, dbid uint32) {
	tn.t.Helper()
	tn.recoverNetFrozen(gen, active, dbid)
	for _, p := range active {
		tn.mgrs[p].SetRecovering(false)
	}
}

// recoverNetFrozen is recoverNet without the thaw.
func (tn *testNet) recoverNetFrozen(gen uint32, active []uint32, dbid uint32) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range active {
		tn.mgrs[p].SetRecovering(true)
		tn.mgrs[p].SetView(gen, active, active)
	}
	var copies []NodeCopy
	for _, p := range active {
		page, err := tn.mgrs[p].DB(dbid).PullPage(ctx, 0, 0, 0)
		if err != nil {
			tn.t.Fatalf("pull from %d: %v", p, err)
		}
		copies = append(copies, NodeCopy{PNN: p, Packed: page.Packed, Counts: true, Active: true})
	}
	plan, err := NewPlanner(active, active[0]).Plan(copies)
	if err != nil {
		tn.t.Fatal(err)
	}
	for _, p := range active {
		if err := tn.mgrs[p].DB(dbid).PushPage(ctx, plan.Changes[p], plan.Pending[p], true, true); err != nil {
			tn.t.Fatalf("push to %d: %v", p, err)
		}
	}
}

func TestRecoveryAfterNodeLoss(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	// kept: node 1 is dmaster, node 2 the lmaster, which then dies.
	kept := keyWithLmaster("kept", 2, 3)
	tn.call(1, id, protocol.CallNullFunc, kept)
	tn.write(1, id, kept, "survives")
	// deleted: node 0 took it from node 1 (which keeps an older copy with
	// data) and deleted it.
	deleted := keyWithLmaster("deleted", 2, 3)
	tn.call(1, id, protocol.CallNullFunc, deleted)
	tn.write(1, id, deleted, "doomed")
	tn.call(0, id, protocol.CallNullFunc, deleted)
	tn.write(0, id, deleted, "")
	// lost: only node 2 had it.
	lost := keyWithLmaster("lost", 2, 3)
	tn.call(2, id, protocol.CallNullFunc, lost)
	tn.write(2, id, lost, "with node 2")

	tn.setDown(2)
	tn.recoverNet(43, []uint32{0, 1}, id)

	// kept stays with its dmaster; its lmaster under the new map knows.
	if r, ok := tn.record(1, id, kept); !ok || string(r.data) != "survives" || r.hdr.DMaster != 1 {
		t.Fatalf("node 1 after recovery: %v %+v %q", ok, r.hdr, r.data)
	}
	if l := protocol.Hash([]byte(kept)) % 2; l != 1 {
		if r, ok := tn.record(l, id, kept); !ok || r.hdr.DMaster != 1 {
			t.Fatalf("lmaster %d after recovery: %v %+v", l, ok, r.hdr)
		}
	}
	// Calls route by the new map and find every record where recovery
	// put it; nothing hangs on the dead node.
	for _, p := range []uint32{1, 0} {
		if st, data := tn.call(p, id, protocol.CallFetchFunc, kept); st != 0 || string(data) != "survives" {
			t.Fatalf("fetch %q on node %d: %d %q", kept, p, st, data)
		}
		if st, data := tn.call(p, id, protocol.CallFetchFunc, deleted); st != 0 || len(data) != 0 {
			t.Fatalf("deleted record came back on node %d: %d %q", p, st, data)
		}
		if st, data := tn.call(p, id, protocol.CallFetchFunc, lost); st != 0 || len(data) != 0 {
			t.Fatalf("fetch %q on node %d: %d %q", lost, p, st, data)
		}
	}
}

func TestPullRefusedOutsideRecovery(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("t.tdb")
	if _, err := tn.mgrs[0].DB(id).Pull(context.Background()); err == nil {
		t.Fatal("pull outside recovery succeeded")
	}
	if err := tn.mgrs[0].DB(id).Push(context.Background(), nil); err == nil {
		t.Fatal("push outside recovery succeeded")
	}
}

func TestFreezeWithdrawnByThawBeforeItHolds(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("t.tdb")
	db := tn.mgrs[0].DB(id)
	// Hold a chain as smbd would, on a lock owner of our own.
	db.mu.Lock()
	c := db.chainOf([]byte("k"))
	if !db.tryChain(c) {
		db.mu.Unlock()
		t.Fatal("chain busy")
	}
	db.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- db.Freeze(ctx) }()
	waitFor(t, "freeze requested", func() bool {
		db.mu.Lock()
		defer db.mu.Unlock()
		return db.freezeLocking
	})
	db.Thaw()
	if err := <-errc; err == nil {
		t.Fatal("freeze reported success after being withdrawn")
	}
	cancel()
	db.mu.Lock()
	db.unlockChain(c)
	db.mu.Unlock()
	// The locker lets go of the lock it finally gets: a new freeze works.
	waitFor(t, "locker gone", func() bool {
		db.mu.Lock()
		defer db.mu.Unlock()
		return !db.freezeLocking
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := db.Freeze(ctx2); err != nil {
		t.Fatal(err)
	}
	db.Thaw()
	if st, _ := tn.call(0, id, protocol.CallNullFunc, "k"); st != 0 {
		t.Fatalf("call after thaw: %d", st)
	}
}
