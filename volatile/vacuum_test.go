package volatile

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// fetchQueued reports whether node pnn was asked (VACUUM_FETCH) to take key
// over for deletion.
func (tn *testNet) fetchQueued(pnn, dbid uint32, key string) bool {
	fetch, _ := tn.queued(pnn, dbid, key)
	return fetch
}

// queued reports whether key waits in node pnn's fetch and delete queues.
func (tn *testNet) queued(pnn, dbid uint32, key string) (fetch, del bool) {
	db := tn.mgrs[pnn].DB(dbid)
	db.mu.Lock()
	defer db.mu.Unlock()
	_, fetch = db.fetchQueue[key]
	_, del = db.deleteQueue[key]
	return fetch, del
}

// clientDelete empties key on node pnn, its dmaster, and schedules it for
// deletion, as smbd and `ctdb deletekey` do.
func (tn *testNet) clientDelete(pnn, dbid uint32, key string) {
	tn.t.Helper()
	tn.write(pnn, dbid, key, "")
	r, ok := tn.record(pnn, dbid, key)
	if !ok {
		tn.t.Fatalf("node %d lost %q", pnn, key)
	}
	tn.mgrs[pnn].DB(dbid).ScheduleForDeletion([]byte(key), r.hdr)
}

// clientLock holds key's chain lock in node pnn's file through a lock owner
// of its own, as another process (smbd, a fetch-lock) holds it, until the
// returned function is called.
func (tn *testNet) clientLock(pnn, dbid uint32, key string) func() {
	tn.t.Helper()
	db := tn.mgrs[pnn].DB(dbid)
	lf, err := tdb.OpenLockFile(db.Path)
	if err != nil {
		tn.t.Fatal(err)
	}
	off := tdb.ChainOffset(db.chainOf([]byte(key)))
	// Blocking, as smbd's tdb_chainlock: the daemon may hold the chain
	// for a moment.
	if err := lf.Lock(off, 1); err != nil {
		tn.t.Fatalf("lock %q on node %d: %v", key, pnn, err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			lf.Unlock(off, 1)
			lf.Close()
		}
	}
	tn.t.Cleanup(release)
	return release
}

// vacuum runs one vacuum pass on node pnn; it must end promptly, whatever
// clients hold.
func (tn *testNet) vacuum(pnn, dbid uint32, full bool) {
	tn.t.Helper()
	done := make(chan struct{})
	go func() {
		tn.mgrs[pnn].VacuumDB(tn.mgrs[pnn].DB(dbid), full)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tn.t.Fatalf("vacuum run on node %d waits for something", pnn)
	}
}

// holders lists the nodes whose file holds key. It reads without taking
// the chain lock (marking it taken), which a client may hold.
func (tn *testNet) holders(dbid uint32, key string) []uint32 {
	var out []uint32
	for p := uint32(0); p < uint32(len(tn.mgrs)); p++ {
		db := tn.mgrs[p].DB(dbid)
		db.mu.Lock()
		if err := db.tdb.ChainLockMark([]byte(key)); err != nil {
			tn.t.Fatal(err)
		}
		if db.tdb.Exists([]byte(key)) {
			out = append(out, p)
		}
		db.tdb.ChainLockUnmark([]byte(key))
		db.mu.Unlock()
	}
	return out
}

// deleteOffLmaster has node 1 take key (lmaster 0), fill it with data
// (unless empty) and delete it, and vacuums node 1, which asks node 0 to
// take the record over.
func (tn *testNet) deleteOffLmaster(dbid uint32, key, data string) {
	tn.t.Helper()
	tn.call(1, dbid, protocol.CallNullFunc, key)
	if data != "" {
		tn.write(1, dbid, key, data)
	}
	tn.clientDelete(1, dbid, key)
	tn.vacuum(1, dbid, false)
	waitFor(tn.t, "lmaster asked to take "+key, func() bool { return tn.fetchQueued(0, dbid, key) })
}

// TestVacuumSkipsLockedRecordsUntilReleased: a vacuum run, fast or full,
// that meets a record whose chain a client holds leaves it alone without
// waiting, wherever the lock is (on the lmaster, on a node with a stale copy
// the lmaster asks to delete, on the node that deleted it), and a run after
// the client let go deletes it.
func TestVacuumSkipsLockedRecordsUntilReleased(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	here := keyWithLmaster("here", 0, 3)
	tn.call(0, id, protocol.CallNullFunc, here)
	tn.write(0, id, here, "v")
	tn.clientDelete(0, id, here)
	there := keyWithLmaster("there", 0, 3)
	tn.call(1, id, protocol.CallNullFunc, there)
	tn.write(1, id, there, "v")
	tn.call(0, id, protocol.CallNullFunc, there) // node 1 keeps a stale copy
	tn.clientDelete(0, id, there)
	remote := keyWithLmaster("remote", 0, 3)
	tn.call(1, id, protocol.CallNullFunc, remote)
	tn.write(1, id, remote, "v")
	tn.clientDelete(1, id, remote)
	unlock := []func(){tn.clientLock(0, id, here), tn.clientLock(1, id, there), tn.clientLock(1, id, remote)}

	for _, full := range []bool{false, true} {
		tn.vacuum(1, id, full)
		tn.vacuum(0, id, full)
		tn.vacuum(0, id, full)
	}
	for key, want := range map[string][]uint32{here: {0}, there: {0, 1}, remote: {0, 1}} {
		if got := tn.holders(id, key); len(got) != len(want) {
			t.Errorf("while locked, %s is on nodes %v, want %v", key, got, want)
		}
	}
	if _, del := tn.queued(1, id, remote); tn.fetchQueued(0, id, remote) || !del {
		t.Errorf("a locked record was sent to its lmaster, or dropped from the delete queue")
	}

	for _, u := range unlock {
		u()
	}
	tn.vacuum(1, id, false)
	waitFor(t, "lmaster asked to take "+remote, func() bool { return tn.fetchQueued(0, id, remote) })
	tn.vacuum(0, id, false) // takes remote over, deletes here and there
	tn.vacuum(0, id, false) // deletes remote if it came with data
	for _, key := range []string{here, there, remote} {
		if got := tn.holders(id, key); len(got) != 0 {
			t.Errorf("after the locks went, %s is still on nodes %v", key, got)
		}
	}
}

// TestVacuumFetchTakenAtLmasterRun: the lmaster takes over a record another
// node deleted at its own next vacuum run, as 4.17 does, not when asked: a
// record its client filled again meanwhile travels with its data and is
// not deleted, while one that never travelled with data and arrives empty
// is deleted on arrival on both nodes (4.17's VACUUM_MIGRATED rule).
func TestVacuumFetchTakenAtLmasterRun(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("t.tdb")
	revived, empty := keyWithLmaster("revived", 0, 3), keyWithLmaster("empty", 0, 3)
	tn.deleteOffLmaster(id, revived, "v")
	tn.deleteOffLmaster(id, empty, "")
	if r, ok := tn.record(1, id, revived); !ok || r.hdr.DMaster != 1 {
		t.Fatalf("the record left node 1 before the lmaster's run: %v %+v", ok, r.hdr)
	}
	tn.write(1, id, revived, "back")
	tn.vacuum(0, id, false)
	if got := tn.holders(id, empty); len(got) != 0 {
		t.Errorf("after the lmaster took it over, the empty record is on nodes %v", got)
	}
	tn.vacuum(0, id, false)
	r, ok := tn.record(0, id, revived)
	if !ok || r.hdr.DMaster != 0 || string(r.data) != "back" || r.hdr.Flags&protocol.RecFlagMigratedWithData == 0 {
		t.Fatalf("lmaster holds %v %+v %q, want the revived record with its data", ok, r.hdr, r.data)
	}
	if st, data := tn.call(2, id, protocol.CallFetchFunc, revived); st != 0 || string(data) != "back" {
		t.Fatalf("revived record reads %d %q", st, data)
	}
}

// TestVacuumFollowsTunables: with Tunables, the interval, the full runs
// and the repack limit follow the cluster's tunables as they change.
func TestVacuumFollowsTunables(t *testing.T) {
	var interval atomic.Uint32
	interval.Store(1)
	tunables := func() *protocol.TunableValues {
		v := protocol.DefaultTunableValues()
		v.VacuumInterval = interval.Load()
		v.VacuumFastPathCount = 0
		return &v
	}
	tn := newTestNetWith(t, 1, func(c *Config) { c.Vacuum = VacuumConfig{Tunables: tunables} })
	id := tn.attach("t.tdb")
	key := keyWithLmaster("k", 0, 1)
	tn.call(0, id, protocol.CallNullFunc, key)
	tn.write(0, id, key, "v")
	tn.clientDelete(0, id, key)
	start := time.Now()
	waitFor(t, "the record vacuumed away at a 1 s interval", func() bool { return len(tn.holders(id, key)) == 0 })
	t.Logf("vacuumed after %v", time.Since(start).Round(time.Millisecond))

	// Without full runs (VacuumFastPathCount 0), an empty record that was
	// never queued stays.
	db := tn.mgrs[0].DB(id)
	db.mu.Lock()
	r := record{hdr: protocol.LtdbHeader{DMaster: 0, RSN: 3}}
	db.tdb.Store([]byte(key), r.encode(), 0)
	db.mu.Unlock()
	before := tn.mgrs[0].met.vacuumRuns.Get()
	waitFor(t, "two more vacuum runs", func() bool { return tn.mgrs[0].met.vacuumRuns.Get() >= before+2 })
	if len(tn.holders(id, key)) == 0 {
		t.Fatal("a fast run deleted a record that was not queued")
	}
	if s := (&VacuumConfig{Tunables: tunables}).settings(); s.fullEvery != 0 || s.repackLimit != 10000 || s.interval != time.Second {
		t.Fatalf("settings %+v", s)
	}
}

// BenchmarkFullVacuumScan: the full run's walk of a database with ctdbd's
// default 100001 chains and 1000 records.
func BenchmarkFullVacuumScan(b *testing.B) {
	m, err := NewManager(Config{Self: 0, Dir: b.TempDir(), Vacuum: VacuumConfig{Interval: time.Hour}}, nil, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.SetView(1, []uint32{0}, []uint32{0})
	m.SetRecovering(false)
	id := protocol.DBID("bench.tdb")
	m.Sync(map[uint32]DBSpec{id: {Name: "bench.tdb"}})
	db := m.DB(id)
	db.mu.Lock()
	for i := range 1000 {
		r := record{data: []byte("v")}
		db.tdb.Store([]byte(fmt.Sprint("key-", i)), r.encode(), 0)
	}
	db.mu.Unlock()
	b.ResetTimer()
	for b.Loop() {
		db.scanEmpty()
	}
}
