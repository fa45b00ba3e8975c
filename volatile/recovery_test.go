package volatile

import (
	"context"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

func recData(key string, rsn uint64, dmaster uint32, data string) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: dmaster}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

func TestMergeKeepsNewestCopy(t *testing.T) {
	copies := map[uint32][]protocol.RecData{
		0: {recData("a", 5, 1, "old"), recData("b", 7, 0, "mine"), recData("gone", 9, 0, ""), recData("same", 3, 2, "stale")},
		1: {recData("a", 6, 1, "new"), recData("b", 7, 2, "theirs"), recData("gone", 8, 1, "resurrect?")},
		2: {recData("same", 3, 2, "own"), recData("only", 1, 2, "x")},
	}
	got := map[string]protocol.RecData{}
	for _, r := range Merge(copies, 9) {
		got[string(r.Key)] = r
	}
	want := map[string]struct {
		rsn  uint64
		data string
	}{
		"a":    {6, "new"},  // highest rsn
		"b":    {7, "mine"}, // tie: the copy of the node naming itself dmaster
		"same": {3, "own"},  // tie, the other way round
		"only": {1, "x"},
		// "gone": the newest copy is empty, so the record is deleted
	}
	if len(got) != len(want) {
		t.Fatalf("merged %d records, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		r, ok := got[k]
		if !ok {
			t.Fatalf("record %q missing", k)
		}
		h, _ := protocol.DecodeLtdbHeader(r.Data)
		if h.RSN != w.rsn || string(r.Data[protocol.LtdbHeaderSize:]) != w.data {
			t.Errorf("%q: rsn %d data %q, want %d %q", k, h.RSN, r.Data[protocol.LtdbHeaderSize:], w.rsn, w.data)
		}
		if h.DMaster != 9 || h.Flags&protocol.RecFlagMigratedWithData == 0 {
			t.Errorf("%q: dmaster %d flags %#x, want dmaster 9 with MIGRATED_WITH_DATA", k, h.DMaster, h.Flags)
		}
	}
}

// recoverNet runs a recovery as the leader (the first active node) would:
// freeze, pull from the active nodes, merge, push, thaw.
func (tn *testNet) recoverNet(gen uint32, active []uint32, dbid uint32) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range active {
		tn.mgrs[p].SetRecovering(true)
		tn.mgrs[p].SetView(gen, active, active)
	}
	copies := map[uint32][]protocol.RecData{}
	for _, p := range active {
		recs, err := tn.mgrs[p].DB(dbid).Pull(ctx)
		if err != nil {
			tn.t.Fatalf("pull from %d: %v", p, err)
		}
		copies[p] = recs
	}
	merged := Merge(copies, active[0])
	for _, p := range active {
		if err := tn.mgrs[p].DB(dbid).Push(ctx, merged); err != nil {
			tn.t.Fatalf("push to %d: %v", p, err)
		}
	}
	for _, p := range active {
		tn.mgrs[p].SetRecovering(false)
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

	tn.mu.Lock()
	tn.down[2] = true
	tn.mu.Unlock()
	tn.recoverNet(43, []uint32{0, 1}, id)

	for _, p := range []uint32{0, 1} {
		r, ok := tn.record(p, id, kept)
		if !ok || string(r.data) != "survives" || r.hdr.DMaster != 0 {
			t.Fatalf("node %d after recovery: %v %+v %q", p, ok, r.hdr, r.data)
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
