package volatile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// keyWithLmaster finds a key whose lmaster is pnn in an n-node map.
func keyWithLmaster(prefix string, pnn, n uint32) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if protocol.Hash([]byte(k))%n == pnn {
			return k
		}
	}
}

func TestMigrationMovesRecordAndData(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	key := keyWithLmaster("k", 0, 3)

	// Node 1 asks for a record nobody has: the lmaster (0) hands it over.
	if st, _ := tn.call(1, id, protocol.CallNullFunc, key); st != 0 {
		t.Fatalf("status %d", st)
	}
	r, ok := tn.record(1, id, key)
	if !ok || r.hdr.DMaster != 1 {
		t.Fatalf("node 1 is not dmaster after migration: %+v %v", r.hdr, ok)
	}
	if l, _ := tn.record(0, id, key); l.hdr.DMaster != 1 {
		t.Fatalf("lmaster points to %d, want 1", l.hdr.DMaster)
	}
	tn.write(1, id, key, "hello")

	// Node 2 fetches: the record migrates again, data and all.
	st, data := tn.call(2, id, protocol.CallFetchFunc, key)
	if st != 0 || string(data) != "hello" {
		t.Fatalf("fetch on node 2: %d %q", st, data)
	}
	r2, _ := tn.record(2, id, key)
	if r2.hdr.DMaster != 2 || string(r2.data) != "hello" || r2.hdr.Flags&protocol.RecFlagMigratedWithData == 0 {
		t.Fatalf("node 2 record %+v %q", r2.hdr, r2.data)
	}
	if r2.hdr.RSN <= r.hdr.RSN {
		t.Fatalf("rsn did not grow: %d then %d", r.hdr.RSN, r2.hdr.RSN)
	}
	// Node 1 sent the record to node 2 itself and told the lmaster on
	// the side: the notice may arrive after node 2 answered.
	waitFor(t, "the lmaster to point to node 2", func() bool {
		l, _ := tn.record(0, id, key)
		return l.hdr.DMaster == 2
	})
	// FETCH_WITH_HEADER on the dmaster answers locally with the header.
	st, data = tn.call(2, id, protocol.CallFetchWithHeaderFunc, key)
	if h, _ := protocol.DecodeLtdbHeader(data); st != 0 || h.DMaster != 2 || string(data[24:]) != "hello" {
		t.Fatalf("fetch with header: %d %+v %q", st, h, data)
	}
	// The old dmaster (1) redirects a call from node 0 through the lmaster.
	st, data = tn.call(0, id, protocol.CallFetchFunc, key)
	if st != 0 || string(data) != "hello" {
		t.Fatalf("fetch on node 0: %d %q", st, data)
	}
}

func TestUnknownCallIDFails(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("t.tdb")
	if st, _ := tn.call(0, id, 0x1234, "k"); st != -1 {
		t.Fatalf("status %d", st)
	}
}

func TestFetchCollapse(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	key := keyWithLmaster("c", 0, 3)
	m := tn.mgrs[1]
	before := m.met.fetches.Get()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, _ := tn.call(1, id, protocol.CallNullFunc, key); st != 0 {
				t.Errorf("status %d", st)
			}
		}()
	}
	wg.Wait()
	if n := m.met.fetches.Get() - before; n != 1 {
		t.Fatalf("20 local calls for one record sent %d fetches, want 1", n)
	}
}

// TestContentionHopcountStaysLow: three nodes fight over a few records;
// every call is answered, each record has one dmaster in the end, and no
// call travels far.
func TestContentionHopcountStaysLow(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	keys := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for p := uint32(0); p < 3; p++ {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					k := keys[rand.IntN(len(keys))]
					if st, _ := tn.call(p, id, protocol.CallNullFunc, k); st != 0 {
						t.Errorf("status %d", st)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, k := range keys {
		holders := 0
		for p := uint32(0); p < 3; p++ {
			if r, ok := tn.record(p, id, k); ok && r.hdr.DMaster == p {
				holders++
			}
		}
		if holders != 1 {
			t.Errorf("key %q has %d dmasters", k, holders)
		}
	}
	for p := uint32(0); p < 3; p++ {
		if h := tn.mgrs[p].stats.maxHop; h >= 10 {
			t.Errorf("node %d saw hopcount %d", p, h)
		}
	}
}

func TestStaleGenerationDroppedAndCallResent(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	key := keyWithLmaster("g", 0, 3)
	// Node 1 moves to a new generation alone: its call is stamped with it
	// and dropped by the others, so it waits...
	tn.mgrs[1].SetView(43, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	ch := make(chan int32, 1)
	tn.mgrs[1].ClientCall(&protocol.ReqCall{DBID: id, CallID: protocol.CallNullFunc, Key: []byte(key)},
		func(st int32, _ []byte) { ch <- st })
	select {
	case <-ch:
		t.Fatal("call answered across generations")
	case <-time.After(200 * time.Millisecond):
	}
	if tn.mgrs[0].met.staleDropped.Get() == 0 {
		t.Fatal("stale packet not counted as dropped")
	}
	// ...until everyone is on the new generation: then it is sent again.
	tn.mgrs[0].SetView(43, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	tn.mgrs[2].SetView(43, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	tn.mgrs[1].SetView(44, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	tn.mgrs[0].SetView(44, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	tn.mgrs[2].SetView(44, []uint32{0, 1, 2}, []uint32{0, 1, 2})
	// The recovery that comes with a new generation thaws the databases,
	// which sends pending calls again.
	tn.mgrs[1].SetRecovering(true)
	tn.mgrs[1].SetRecovering(false)
	select {
	case st := <-ch:
		if st != 0 {
			t.Fatalf("status %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call not resent after the generation change")
	}
}

func TestVacuumDeletesEverywhereAndNeverResurrects(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	key := keyWithLmaster("v", 0, 3)
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "doomed")
	tn.call(2, id, protocol.CallNullFunc, key) // node 1 keeps a stale copy
	if r, ok := tn.record(1, id, key); !ok || string(r.data) != "doomed" {
		t.Fatalf("node 1 should keep a stale copy: %v %q", ok, r.data)
	}
	// The client on node 2 deletes: empty record, scheduled for deletion.
	tn.write(2, id, key, "")
	r, _ := tn.record(2, id, key)
	tn.mgrs[2].DB(id).ScheduleForDeletion([]byte(key), r.hdr)

	// Node 2 is not the lmaster: its vacuum asks node 0 to take the
	// record, which node 0's next vacuum run does; the run after deletes
	// it on every node.
	tn.mgrs[2].VacuumDB(tn.mgrs[2].DB(id), false)
	waitFor(t, "lmaster asked to take the record", func() bool { return tn.fetchQueued(0, id, key) })
	tn.mgrs[0].VacuumDB(tn.mgrs[0].DB(id), false)
	if r, ok := tn.record(0, id, key); !ok || r.hdr.DMaster != 0 {
		t.Fatalf("the lmaster's run did not take the record: %v %+v", ok, r.hdr)
	}
	tn.mgrs[0].VacuumDB(tn.mgrs[0].DB(id), false)
	for p := uint32(0); p < 3; p++ {
		if r, ok := tn.record(p, id, key); ok {
			t.Errorf("node %d still has the record: %+v %q", p, r.hdr, r.data)
		}
	}
	// A later fetch finds nothing: no stale copy came back.
	if st, data := tn.call(1, id, protocol.CallFetchFunc, key); st != 0 || len(data) != 0 {
		t.Fatalf("deleted record came back: %d %q", st, data)
	}
}

func TestFreezeQueuesCallsUntilThaw(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("t.tdb")
	db := tn.mgrs[0].DB(id)
	if err := db.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch := make(chan int32, 1)
	tn.mgrs[0].ClientCall(&protocol.ReqCall{DBID: id, CallID: protocol.CallNullFunc, Key: []byte("k")},
		func(st int32, _ []byte) { ch <- st })
	select {
	case <-ch:
		t.Fatal("call ran on a frozen database")
	case <-time.After(100 * time.Millisecond):
	}
	if err := db.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	if err := db.Wipe(); err != nil {
		t.Fatal(err)
	}
	if err := db.TransactionCommit(); err != nil {
		t.Fatal(err)
	}
	db.Thaw()
	select {
	case st := <-ch:
		if st != 0 {
			t.Fatalf("status %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call not run after thaw")
	}
}

func TestTraverseSeesOwnRecords(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	want := map[string]uint32{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("r%d", i)
		p := uint32(i % 3)
		tn.call(p, id, protocol.CallNullFunc, k)
		if i%10 != 0 {
			tn.write(p, id, k, "v")
			want[k] = p
		}
	}
	got := map[string]uint32{}
	for p := uint32(0); p < 3; p++ {
		err := tn.mgrs[p].DB(id).Traverse(context.Background(), false, func(k, v []byte) bool {
			if _, dup := got[string(k)]; dup {
				t.Errorf("%q reported twice", k)
			}
			got[string(k)] = p
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("traverse saw %d records, want %d (empty ones skipped)", len(got), len(want))
	}
	for k, p := range want {
		if got[k] != p {
			t.Errorf("%q seen on node %d, dmaster is %d", k, got[k], p)
		}
	}
}

func TestSeqnumPropagates(t *testing.T) {
	tn := newTestNet(t, 2)
	id := tn.attach("t.tdb")
	db0, db1 := tn.mgrs[0].DB(id), tn.mgrs[1].DB(id)
	db0.EnableSeqnum()
	db1.EnableSeqnum()
	if db0.OpenFlags()&protocol.TDBSeqnum == 0 {
		t.Fatal("DB_OPEN_FLAGS lacks TDB_SEQNUM after ENABLE_SEQNUM")
	}
	s1 := func() int { db1.mu.Lock(); defer db1.mu.Unlock(); return db1.tdb.Seqnum() }
	before := s1()
	tn.call(0, id, protocol.CallNullFunc, keyWithLmaster("s", 0, 2)) // a store on node 0
	db0.mu.Lock()
	db0.seqSent = time.Time{}
	db0.mu.Unlock()
	tn.mgrs[0].propagateSeqnums()
	waitFor(t, "seqnum bumped on node 1", func() bool { return s1() != before })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPinEndsOnceTheOnlyClientWrote: a record pinned for the one local
// client that asked for it goes to the next node at once after that client
// wrote it, instead of waiting out the pin.
func TestPinEndsOnceTheOnlyClientWrote(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	tn.mgrs[1].cfg.Pin = time.Hour
	key := keyWithLmaster("p", 0, 3)
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "written")
	start := time.Now()
	if st, data := tn.call(2, id, protocol.CallFetchFunc, key); st != 0 || string(data) != "written" {
		t.Fatalf("fetch on node 2: %d %q", st, data)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the record waited out its pin: %v", d)
	}
}

// A freeze that cannot get the database names the process holding it.
func TestFreezeNamesLockHolder(t *testing.T) {
	tn := newTestNet(t, 1)
	id := tn.attach("holder.tdb")
	db := tn.mgrs[0].DB(id)
	// A classic fcntl chain lock, as smbd takes it (this test process
	// plays smbd).
	if err := db.tdb.ChainLock([]byte("busy")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := db.Freeze(ctx)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("freeze blocked by a chain lock: %v", err)
	}
	db.tdb.ChainUnlock([]byte("busy"))
	if err := db.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Thaw()
}

// TestClosedManagerRefusesWork: after Close nothing is opened again and
// calls are refused, so that nothing runs on a closed database.
func TestClosedManagerRefusesWork(t *testing.T) {
	m, err := NewManager(Config{Self: 0, Dir: t.TempDir(), HashSize: 17}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := protocol.DBID("c.tdb")
	if _, err := m.Ensure(id, DBSpec{Name: "c.tdb"}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close() // twice is harmless
	if _, err := m.Ensure(id, DBSpec{Name: "c.tdb"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ensure after Close: %v", err)
	}
	if m.DB(id) != nil {
		t.Fatal("a closed manager still lists its database")
	}
	call := &protocol.ReqCall{DBID: id, Key: []byte("k"), CallID: protocol.CallFetchFunc}
	if m.ClientCall(call, func(int32, []byte) { t.Error("a closed manager answered a call") }) {
		t.Fatal("a closed manager took a client call")
	}
}

// TestAttachRefusesAFileThatIsNotATDB: a file in the database's place that
// is not a TDB makes the attach fail with an error naming it; the file is
// left as it was and the manager goes on serving other databases.
func TestAttachRefusesAFileThatIsNotATDB(t *testing.T) {
	dir := t.TempDir()
	m, err := NewManager(Config{Self: 0, Dir: dir, HashSize: 17}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := fileName(dir, "junk.tdb", 0)
	junk := []byte("an administrator's notes, not a TDB")
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = m.Ensure(protocol.DBID("junk.tdb"), DBSpec{Name: "junk.tdb"})
	if !errors.Is(err, tdb.ErrNotTDB) || !strings.Contains(err.Error(), path) {
		t.Fatalf("attach over a file that is not a TDB: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, junk) {
		t.Fatal("the file was changed")
	}
	if m.DB(protocol.DBID("junk.tdb")) != nil {
		t.Fatal("the refused database is attached")
	}
	if _, err := m.Ensure(protocol.DBID("other.tdb"), DBSpec{Name: "other.tdb"}); err != nil {
		t.Fatalf("attach of another database after the refusal: %v", err)
	}
}

// TestRemoveStaleFilesTakesOnlyThisNodesDatabases: the files of an earlier
// run of this node go; another node's (nodes sharing a directory in test
// mode), other files and directories stay.
func TestRemoveStaleFilesTakesOnlyThisNodesDatabases(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.tdb.0", "b.tdb.0", "a.tdb.1", "notes.txt.0", "a.tdb.10"} {
		if err := os.WriteFile(dir+"/"+n, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(dir+"/sub.tdb.0", 0o755); err != nil {
		t.Fatal(err)
	}
	RemoveStaleFiles(dir, 0, slog.New(slog.DiscardHandler))
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if got, want := strings.Join(left, " "), "a.tdb.1 a.tdb.10 notes.txt.0 sub.tdb.0"; got != want {
		t.Fatalf("left %q, want %q", got, want)
	}
}
