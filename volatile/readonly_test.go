package volatile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

type callResult struct {
	st   int32
	data []byte
}

// callAsync starts a client call on node pnn; its answer arrives on the
// channel.
func (tn *testNet) callAsync(pnn, dbid, callid, flags uint32, key string) <-chan callResult {
	tn.t.Helper()
	ch := make(chan callResult, 1)
	ok := tn.mgrs[pnn].ClientCall(&protocol.ReqCall{DBID: dbid, CallID: callid, Flags: flags, Key: []byte(key)},
		func(st int32, data []byte) { ch <- callResult{st, append([]byte(nil), data...)} })
	if !ok {
		tn.t.Fatalf("call on node %d: unknown db", pnn)
	}
	return ch
}

// wait waits for a call's answer.
func (tn *testNet) wait(ch <-chan callResult, what string, dbid uint32, key string) callResult {
	tn.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		tn.t.Fatalf("%s never answered; state:\n%s", what, tn.dump(dbid, key))
		return callResult{}
	}
}

// readRO fetches key on node pnn asking for a read-only copy.
func (tn *testNet) readRO(pnn, dbid uint32, key string) string {
	tn.t.Helper()
	r := tn.wait(tn.callAsync(pnn, dbid, protocol.CallFetchFunc, protocol.CallFlagWantReadonly, key), "read-only fetch", dbid, key)
	if r.st != 0 {
		tn.t.Fatalf("read-only fetch of %q on node %d: status %d", key, pnn, r.st)
	}
	return string(r.data)
}

// attachReadonly attaches name on every node, marked READONLY.
func (tn *testNet) attachReadonly(name string) uint32 {
	id := protocol.DBID(name)
	for _, m := range tn.mgrs {
		m.Sync(map[uint32]DBSpec{id: {Name: name, Flags: protocol.DBFlagReadonly}})
	}
	return id
}

// delegated sets up a record node 1 is dmaster of (lmaster 0) holding
// "v1", with read-only copies on nodes 2 and 3; it returns the key and
// the rsn node 1 had before the delegations.
func delegated(t *testing.T, tn *testNet, id uint32) (string, uint64) {
	t.Helper()
	key := keyWithLmaster("ro", 0, uint32(len(tn.mgrs)))
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "v1")
	before, _ := tn.record(1, id, key)
	for _, p := range []uint32{2, 3} {
		if got := tn.readRO(p, id, key); got != "v1" {
			t.Fatalf("read-only fetch on node %d: %q", p, got)
		}
	}
	if d, _ := tn.record(1, id, key); d.hdr.DMaster != 1 || d.hdr.Flags&protocol.RecFlagROHaveDelegations == 0 {
		t.Fatalf("node 1 after handing out read-only copies: %+v", d.hdr)
	}
	return key, before.hdr.RSN
}

// noReadonlyCopy fails the test if one of nodes holds key with read-only
// flags.
func noReadonlyCopy(t *testing.T, tn *testNet, id uint32, key string, when string, nodes ...uint32) {
	t.Helper()
	for _, p := range nodes {
		if c, ok := tn.record(p, id, key); ok && c.hdr.Flags&protocol.RecFlagsRO != 0 {
			t.Fatalf("node %d keeps read-only flags %s: %+v", p, when, c.hdr)
		}
	}
}

// TestReadonlyCopyHandedOut: on a READONLY database the dmaster keeps the
// record and hands out copies with ctdbd's headers: the dmaster's rsn
// rises by 3 once and it is marked HAVE_DELEGATIONS; each copy names the
// dmaster, two rsns lower, marked HAVE_READONLY, and is stored where it
// was asked for, where a client reads it without the daemon.
func TestReadonlyCopyHandedOut(t *testing.T) {
	tn := newTestNet(t, 4)
	id := tn.attachReadonly("ro.tdb")
	key, rsn := delegated(t, tn, id)

	d, _ := tn.record(1, id, key)
	if d.hdr.DMaster != 1 || d.hdr.RSN != rsn+3 || d.hdr.Flags&protocol.RecFlagsRO != protocol.RecFlagROHaveDelegations || string(d.data) != "v1" {
		t.Fatalf("dmaster's record after delegations: %+v %q (rsn before %d)", d.hdr, d.data, rsn)
	}
	for _, p := range []uint32{2, 3} {
		c, ok := tn.record(p, id, key)
		if !ok || c.hdr.DMaster != 1 || c.hdr.RSN != rsn+1 || c.hdr.Flags&protocol.RecFlagsRO != protocol.RecFlagROHaveReadonly || string(c.data) != "v1" {
			t.Fatalf("read-only copy on node %d: %v %+v %q", p, ok, c.hdr, c.data)
		}
	}
	// FETCH_WITH_HEADER with WANT_READONLY answers with the copy's header.
	r := tn.wait(tn.callAsync(0, id, protocol.CallFetchWithHeaderFunc, protocol.CallFlagWantReadonly, key), "fetch with header", id, key)
	h, err := protocol.DecodeLtdbHeader(r.data)
	if r.st != 0 || err != nil || h.RSN != rsn+1 || h.Flags&protocol.RecFlagROHaveReadonly == 0 || string(r.data[protocol.LtdbHeaderSize:]) != "v1" {
		t.Fatalf("read-only FETCH_WITH_HEADER: %d %+v %q", r.st, h, r.data)
	}
	if st := tn.mgrs[1].DB(id).Statistics(); st.DBRODelegations != 3 {
		t.Fatalf("db_ro_delegations %d, want 3", st.DBRODelegations)
	}
	var ns protocol.Statistics
	tn.mgrs[1].Fill(&ns)
	if ns.TotalRODelegations != 3 {
		t.Fatalf("total_ro_delegations %d, want 3", ns.TotalRODelegations)
	}
}

// TestReadonlyIgnoredOnOrdinaryDatabase: without READONLY a read-only
// request migrates the record like any call.
func TestReadonlyIgnoredOnOrdinaryDatabase(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("plain.tdb")
	key := keyWithLmaster("k", 0, 3)
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "v1")
	if got := tn.readRO(2, id, key); got != "v1" {
		t.Fatalf("fetch: %q", got)
	}
	if c, _ := tn.record(2, id, key); c.hdr.DMaster != 2 || c.hdr.Flags&protocol.RecFlagsRO != 0 {
		t.Fatalf("node 2 after a read-only request on an ordinary database: %+v", c.hdr)
	}
}

// TestWriteRevokesReadonlyCopies: a node that wants the record itself
// (another node, or a client of the dmaster, as Samba does not write a
// record with delegations) gets it only after every read-only copy is
// invalidated; the readers then ask again and see the write.
func TestWriteRevokesReadonlyCopies(t *testing.T) {
	for _, writer := range []uint32{0, 1} {
		t.Run(fmt.Sprintf("writer=%d", writer), func(t *testing.T) {
			tn := newTestNet(t, 4)
			id := tn.attachReadonly("ro.tdb")
			key, rsn := delegated(t, tn, id)

			tn.call(writer, id, protocol.CallNullFunc, key)
			// The call waited for the revocation: no copy is read-only now.
			for _, p := range []uint32{2, 3} {
				c, ok := tn.record(p, id, key)
				if !ok || c.hdr.Flags&protocol.RecFlagsRO != 0 || c.hdr.DMaster == p || c.hdr.RSN != rsn+2 {
					t.Fatalf("node %d's copy after the write call: %v %+v", p, ok, c.hdr)
				}
			}
			if d, _ := tn.record(writer, id, key); d.hdr.DMaster != writer || d.hdr.Flags&protocol.RecFlagsRO != 0 || string(d.data) != "v1" {
				t.Fatalf("writer's record: %+v %q", d.hdr, d.data)
			}
			tn.write(writer, id, key, "v2")
			for _, p := range []uint32{2, 3} {
				if got := tn.readRO(p, id, key); got != "v2" {
					t.Fatalf("node %d reads %q after the write, want v2", p, got)
				}
			}
			if st := tn.mgrs[1].DB(id).Statistics(); st.DBRORevokes != 1 {
				t.Fatalf("db_ro_revokes %d, want 1", st.DBRORevokes)
			}
		})
	}
}

// TestCallsWaitDuringRevocation: while a revocation is stuck, writers and
// readers on other nodes wait (none is answered, none is lost); when it
// ends every one of them is served, the writers one after the other.
func TestCallsWaitDuringRevocation(t *testing.T) {
	tn := newTestNet(t, 4)
	id := tn.attachReadonly("ro.tdb")
	key, _ := delegated(t, tn, id)

	gate := make(chan struct{})
	tn.mu.Lock()
	tn.rpcHook = func(pnn uint32, op protocol.Opcode) error {
		if op == protocol.ControlUpdateRecord && pnn == 3 {
			<-gate
		}
		return nil
	}
	tn.mu.Unlock()
	deferred := tn.mgrs[1].met.deferred.Get()
	w0 := tn.callAsync(0, id, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key)
	waitFor(t, "revocation under way", func() bool {
		d, _ := tn.record(1, id, key)
		return d.hdr.Flags&protocol.RecFlagRORevokingReadonly != 0
	})
	w2 := tn.callAsync(2, id, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key)
	w1 := tn.callAsync(1, id, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key)
	r3 := tn.callAsync(3, id, protocol.CallFetchFunc, protocol.CallFlagWantReadonly, key)
	waitFor(t, "all calls deferred on node 1", func() bool {
		return tn.mgrs[1].met.deferred.Get()-deferred == 4
	})
	for _, ch := range []<-chan callResult{w0, w2, w1, r3} {
		select {
		case r := <-ch:
			t.Fatalf("a call was answered during the revocation: %+v\n%s", r, tn.dump(id, key))
		default:
		}
	}
	close(gate)
	for i, ch := range []<-chan callResult{w0, w2, w1} {
		if r := tn.wait(ch, "writer", id, key); r.st != 0 {
			t.Fatalf("writer %d: status %d", i, r.st)
		}
	}
	if r := tn.wait(r3, "reader", id, key); r.st != 0 || string(r.data) != "v1" {
		t.Fatalf("reader: %d %q", r.st, r.data)
	}
	// One dmaster, which every other copy names or routes to.
	owners := 0
	for p := uint32(0); p < 4; p++ {
		if c, ok := tn.record(p, id, key); ok && c.hdr.DMaster == p {
			owners++
		}
	}
	if owners != 1 {
		t.Fatalf("%d nodes claim the record:\n%s", owners, tn.dump(id, key))
	}
}

// TestFailedRevocationRetried: a holder that does not take the revocation
// leaves the record with its delegations; the revocation is tried again
// and the waiting writer is served once the holder answers.
func TestFailedRevocationRetried(t *testing.T) {
	tn := newTestNet(t, 4)
	id := tn.attachReadonly("ro.tdb")
	key, _ := delegated(t, tn, id)
	fails := 1
	tn.mu.Lock()
	tn.rpcHook = func(pnn uint32, op protocol.Opcode) error {
		tn.mu.Lock()
		defer tn.mu.Unlock()
		if op == protocol.ControlUpdateRecord && pnn == 2 && fails > 0 {
			fails--
			return errors.New("node 2 unreachable")
		}
		return nil
	}
	tn.mu.Unlock()
	if r := tn.wait(tn.callAsync(0, id, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key), "writer", id, key); r.st != 0 {
		t.Fatalf("writer: %d", r.st)
	}
	noReadonlyCopy(t, tn, id, key, "after the write", 2)
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if fails != 0 {
		t.Fatal("the revocation never reached node 2")
	}
}

// TestRecoveryDropsReadonlyState: a recovery during a stuck revocation
// strips the read-only flags of every copy, the dmaster's copy (rsn above
// every read-only copy's) wins, and the writer that waited is served
// after it without waiting for the revocation.
func TestRecoveryDropsReadonlyState(t *testing.T) {
	tn := newTestNet(t, 4)
	id := tn.attachReadonly("ro.tdb")
	key, _ := delegated(t, tn, id)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	tn.mu.Lock()
	tn.rpcHook = func(pnn uint32, op protocol.Opcode) error {
		if op == protocol.ControlUpdateRecord {
			<-gate
			return errors.New("recovery")
		}
		return nil
	}
	tn.mu.Unlock()
	w := tn.callAsync(0, id, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key)
	waitFor(t, "revocation under way", func() bool {
		d, _ := tn.record(1, id, key)
		return d.hdr.Flags&protocol.RecFlagRORevokingReadonly != 0
	})
	all := []uint32{0, 1, 2, 3}
	tn.recoverNet(43, all, id)
	if r := tn.wait(w, "writer", id, key); r.st != 0 {
		t.Fatalf("writer: %d", r.st)
	}
	if d, _ := tn.record(0, id, key); d.hdr.DMaster != 0 || string(d.data) != "v1" {
		t.Fatalf("writer's node: %+v %q", d.hdr, d.data)
	}
	noReadonlyCopy(t, tn, id, key, "after the recovery", all...)
}

// TestReadonlyCopyOfLostDmaster: when the dmaster is lost, the read-only
// copies (the record as it was, for nobody could write it since) carry it
// through the recovery, without their read-only flags.
func TestReadonlyCopyOfLostDmaster(t *testing.T) {
	tn := newTestNet(t, 4)
	id := tn.attachReadonly("ro.tdb")
	key, _ := delegated(t, tn, id)
	tn.setDown(1)
	tn.recoverNet(43, []uint32{0, 2, 3}, id)
	noReadonlyCopy(t, tn, id, key, "after the recovery", 0, 2, 3)
	for _, p := range []uint32{0, 2, 3} {
		if st, data := tn.call(p, id, protocol.CallFetchFunc, key); st != 0 || string(data) != "v1" {
			t.Fatalf("fetch on node %d after the recovery: %d %q", p, st, data)
		}
	}
}

// TestRevocationUpdateNeverReplacesNewer: UPDATE_RECORD (what a revocation
// sends) is refused during a recovery and never replaces a copy with an
// rsn as high, so a revocation that outlived a recovery cannot bring an
// older copy back.
func TestRevocationUpdateNeverReplacesNewer(t *testing.T) {
	tn := newTestNet(t, 2)
	id := tn.attachReadonly("ro.tdb")
	key := keyWithLmaster("k", 0, 2)
	tn.call(1, id, protocol.CallNullFunc, key)
	tn.write(1, id, key, "new")
	cur, _ := tn.record(0, id, key)
	older := protocol.RecData{Key: []byte(key), Data: (&record{hdr: protocol.LtdbHeader{RSN: cur.hdr.RSN, DMaster: 0}, data: []byte("old")}).encode()}
	db := tn.mgrs[0].DB(id)
	if err := db.UpdateRecords([]protocol.RecData{older}); err != nil {
		t.Fatal(err)
	}
	if r, _ := tn.record(0, id, key); r.hdr != cur.hdr || string(r.data) != string(cur.data) {
		t.Fatalf("an update with an rsn as high replaced %+v %q with %+v %q", cur.hdr, cur.data, r.hdr, r.data)
	}
	tn.mgrs[0].SetRecovering(true)
	defer tn.mgrs[0].SetRecovering(false)
	if err := db.UpdateRecords([]protocol.RecData{older}); !errors.Is(err, errUpdateInRecovery) {
		t.Fatalf("update during a recovery: %v", err)
	}
}
