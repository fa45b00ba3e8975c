package volatile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile/migration"
)

// After node 2 is lost, the lmaster of a record that stays with its
// dmaster gets a pending copy: calls through it reach the dmaster at once,
// and the copy lands in its file after the thaw.
func TestPendingCopyServesThenIsWritten(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	// Node 1 is its dmaster; its lmaster is 2 now and 0 once 2 is gone.
	var key string
	for i := 0; ; i++ {
		key = fmt.Sprintf("k-%d", i)
		if h := protocol.Hash([]byte(key)); h%3 == 2 && h%2 == 0 {
			break
		}
	}
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "value")
	tn.setDown(2)

	tn.recoverNetFrozen(44, []uint32{0, 1}, id)
	db0 := tn.mgrs[0].DB(id)
	var r record
	var inFile bool
	db0.mu.Lock()
	db0.nolock(func() error { // the database is frozen
		_, err := db0.tdb.Fetch([]byte(key))
		inFile = err == nil
		r = db0.fetchRecord([]byte(key))
		return nil
	})
	db0.mu.Unlock()
	if inFile || !r.exists || r.hdr.DMaster != 1 || string(r.data) != "value" {
		t.Fatalf("node 0 before the thaw: in file %v, record %+v %q", inFile, r.hdr, r.data)
	}
	for _, p := range []uint32{0, 1} {
		tn.mgrs[p].SetRecovering(false)
	}
	waitFor(t, "pending copy written", func() bool {
		r, ok := tn.record(0, id, key)
		return ok && r.hdr.DMaster == 1 && string(r.data) == "value"
	})
	db0.mu.Lock()
	left := len(db0.pending)
	db0.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d pending copies left", left)
	}
	if st, data := tn.call(0, id, protocol.CallFetchFunc, key); st != 0 || string(data) != "value" {
		t.Fatalf("fetch on node 0: %d %q", st, data)
	}
}

// A pending copy is dropped by any write or delete of its key and is
// written into the file before a recovery pulls.
func TestPendingCopyDroppedByWritesAndFlushedForRecovery(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("t.tdb")
	db := tn.mgrs[0].DB(id)
	copyOf := func(key string) []byte {
		return packed(recData(key, 5, 3, "remote"))
	}
	db.mu.Lock()
	for _, k := range []string{"written", "deleted", "flushed"} {
		if n, err := db.addPending(copyOf(k)); err != nil || n != 1 {
			t.Fatal(n, err)
		}
	}
	db.carryOut([]migration.Action{migration.Store{Key: []byte("written"), Record: migration.Record{Header: protocol.LtdbHeader{RSN: 7}, Data: []byte("local"), Exists: true}}})
	if err := db.deleteRecord([]byte("deleted")); err != nil {
		t.Fatalf("delete of a pending copy: %v", err)
	}
	r := db.fetchRecord([]byte("written"))
	d := db.fetchRecord([]byte("deleted"))
	db.mu.Unlock()
	if string(r.data) != "local" || d.exists {
		t.Fatalf("after writes: written %+v %q, deleted exists %v", r.hdr, r.data, d.exists)
	}
	tn.mgrs[0].SetRecovering(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := db.Pull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rd := range recs {
		got[string(rd.Key)] = string(rd.Data[protocol.LtdbHeaderSize:])
	}
	if len(got) != 2 || got["written"] != "local" || got["flushed"] != "remote" {
		t.Fatalf("pulled %v", got)
	}
}
