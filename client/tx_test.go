package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// txFixture is a client of a fake daemon of node pnn with the persistent
// database p.tdb attached. The fake migrates g_lock records here on
// REQ_CALL and applies TRANS3_COMMIT to the local TDB, as a daemon does.
type txFixture struct {
	f   *fakeCtdbd
	c   *Client
	db  *DB
	ctx context.Context
}

func newTxFixture(t *testing.T, pnn uint32) *txFixture {
	t.Helper()
	f := newFakeCtdbd(t, pnn)
	c := f.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	db, err := c.Attach(ctx, "p.tdb", protocol.DBFlagPersistent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.onCall(func(req *protocol.ReqCall) int32 {
		if req.DBID != tdb.JenkinsHash([]byte("g_lock.tdb")) || req.Flags != protocol.CallFlagImmediateMigration || req.CallID != protocol.CallNullFunc {
			t.Errorf("REQ_CALL %+v", req)
			return -1
		}
		if err := c.glock.migrateHere(req.Key); err != nil {
			t.Error(err)
			return -1
		}
		return 0
	})
	f.on(protocol.ControlTrans3Commit, func(req *protocol.ReqControl) int32 {
		if err := db.applyBuffer(req.Data); err != nil {
			t.Error(err)
			return -1
		}
		return 0
	})
	f.on(protocol.ControlScheduleForDeletion, func(*protocol.ReqControl) int32 { return 0 })
	return &txFixture{f: f, c: c, db: db, ctx: ctx}
}

// rec is a record of a buffer: key, header and data.
func rec(key string, rsn uint64, dmaster uint32, data []byte) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: dmaster}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

// commits returns the record buffers of the TRANS3_COMMITs sent, checking
// how they were sent.
func (x *txFixture) commits(t *testing.T) []protocol.RecBuffer {
	t.Helper()
	var l []protocol.RecBuffer
	for _, r := range x.f.sent(protocol.ControlTrans3Commit) {
		if r.DestNode != x.c.PNN() || r.SrvID != 0 || r.Flags != 0 {
			t.Errorf("TRANS3_COMMIT to %d srvid %d flags %d", r.DestNode, r.SrvID, r.Flags)
		}
		var rb protocol.RecBuffer
		if err := rb.Unmarshal(r.Data); err != nil || !bytes.Equal(rb.Marshal(), r.Data) {
			t.Fatalf("TRANS3_COMMIT data %x: %v", r.Data, err)
		}
		l = append(l, rb)
	}
	return l
}

func lockKey(id uint32) []byte { return fmt.Appendf(nil, "transaction_db_0x%08x\x00", id) }

// gLockValue is the raw g_lock record of the database's transactions.
func (x *txFixture) gLockValue(t *testing.T) []byte {
	t.Helper()
	x.c.glock.mu.Lock()
	defer x.c.glock.mu.Unlock()
	v, err := x.c.glock.tdb.Fetch(lockKey(x.db.ID))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTransactionCommit(t *testing.T) {
	x := newTxFixture(t, 1)
	tx, err := x.db.Transaction(x.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if tx.LockName() != fmt.Sprintf("transaction_db_0x%08x", x.db.ID) {
		t.Errorf("lock name %q", tx.LockName())
	}
	// We hold the write lock.
	sid := x.c.serverID(x.db.ID)
	want := (&protocol.GLockList{Locks: []protocol.GLock{{Type: protocol.GLockWrite, SID: sid}}}).Marshal()
	if v := x.gLockValue(t); !bytes.Equal(v[24:], want) {
		t.Errorf("g_lock record %x", v)
	}
	if sid.PID != uint64(os.Getpid()) || sid.TaskID != x.db.ID || sid.VNN != 1 || sid.UniqueID != uint64(x.db.ID)<<32|uint64(os.Getpid()) {
		t.Errorf("server id %+v", sid)
	}
	if err := tx.Store([]byte("key1"), []byte("value1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(x.ctx); err != nil {
		t.Fatal(err)
	}
	got := x.commits(t)
	wantBuf := protocol.RecBuffer{DBID: x.db.ID, Records: []protocol.RecData{
		rec("key1", 1, 1, []byte("value1")),
		rec(SeqnumKey, 1, 1, protocol.U64(1)),
	}}
	if len(got) != 1 || !bytes.Equal(got[0].Marshal(), wantBuf.Marshal()) {
		t.Errorf("commit %+v", got)
	}
	// Released: the emptied record, scheduled for deletion.
	if v := x.gLockValue(t); len(v) != 24 {
		t.Errorf("g_lock record after commit %x", v)
	}
	if l := x.f.sent(protocol.ControlScheduleForDeletion); len(l) != 1 || !bytes.Contains(l[0].Data, lockKey(x.db.ID)) {
		t.Errorf("SCHEDULE_FOR_DELETION %v", l)
	}
	// Reads outside a transaction are local: no REQ_CALL for p.tdb.
	if d, ok, err := x.db.Fetch(x.ctx, []byte("key1")); err != nil || !ok || string(d) != "value1" {
		t.Errorf("fetch %q %v %v", d, ok, err)
	}

	// Storing the same value changes nothing: no commit.
	tx, err = x.db.Transaction(x.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Store([]byte("key1"), []byte("value1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(x.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(x.commits(t)); n != 1 {
		t.Errorf("%d commits", n)
	}

	// A fetched record goes out with the commit, header unchanged; a
	// delete is an empty record with the next rsn.
	tx, err = x.db.Transaction(x.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := tx.Fetch([]byte("key1")); err != nil || string(d) != "value1" {
		t.Fatalf("tx fetch %q %v", d, err)
	}
	if d, err := tx.Fetch([]byte("nokey")); err != nil || len(d) != 0 {
		t.Fatalf("tx fetch of no record %q %v", d, err)
	}
	if err := tx.Delete([]byte("key1")); err != nil {
		t.Fatal(err)
	}
	if d, err := tx.Fetch([]byte("key1")); err != nil || len(d) != 0 {
		t.Fatalf("tx fetch after delete %q %v", d, err)
	}
	if err := tx.Commit(x.ctx); err != nil {
		t.Fatal(err)
	}
	got = x.commits(t)
	wantBuf.Records = []protocol.RecData{
		rec("key1", 1, 1, []byte("value1")),
		rec("nokey", 0, protocol.UnknownPNN, nil),
		rec("key1", 2, 1, nil),
		rec(SeqnumKey, 2, 1, protocol.U64(2)),
	}
	if len(got) != 2 || !bytes.Equal(got[1].Marshal(), wantBuf.Marshal()) {
		t.Errorf("commit %+v", got[len(got)-1])
	}
	// g_lock.tdb was attached once, its record migrated here once.
	if n := len(x.f.sent(protocol.ControlDBAttach)); n != 1 {
		t.Errorf("%d attaches of g_lock.tdb", n)
	}
	x.f.mu.Lock()
	calls := len(x.f.calls)
	x.f.mu.Unlock()
	if calls != 1 {
		t.Errorf("%d REQ_CALLs", calls)
	}
}

func TestTransactionCommitRetry(t *testing.T) {
	x := newTxFixture(t, 0)
	commit := func(status func(n int, req *protocol.ReqControl) int32) error {
		t.Helper()
		n := 0
		x.f.on(protocol.ControlTrans3Commit, func(req *protocol.ReqControl) int32 {
			n++
			return status(n, req)
		})
		tx, err := x.db.Transaction(x.ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Store([]byte("k"), []byte(fmt.Sprint(time.Now().UnixNano()))); err != nil {
			t.Fatal(err)
		}
		err = tx.Commit(x.ctx)
		if err != nil {
			if cerr := tx.Cancel(x.ctx); cerr != nil {
				t.Error(cerr)
			}
		}
		if v := x.gLockValue(t); len(v) != 24 {
			t.Errorf("g_lock not released: %x", v)
		}
		return err
	}
	apply := func(req *protocol.ReqControl) int32 {
		if err := x.db.applyBuffer(req.Data); err != nil {
			t.Error(err)
		}
		return 0
	}
	// Refused twice, nothing written: sent again until it works.
	if err := commit(func(n int, req *protocol.ReqControl) int32 {
		if n < 3 {
			return -1
		}
		return apply(req)
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(x.commits(t)); n != 3 {
		t.Errorf("%d commits", n)
	}
	// Failed, but a recovery wrote it: the seqnum moved on by one.
	if err := commit(func(n int, req *protocol.ReqControl) int32 { apply(req); return 2 }); err != nil {
		t.Fatal(err)
	}
	if n := len(x.commits(t)); n != 4 {
		t.Errorf("%d commits", n)
	}
	if s, _, err := x.db.Fetch(x.ctx, []byte(SeqnumKey)); err != nil || !bytes.Equal(s, protocol.U64(2)) {
		t.Errorf("seqnum %x %v", s, err)
	}
	// Failed, and another writer's commit moved the seqnum on by one: EIO,
	// not the success a recovery's completion would be.
	err := commit(func(n int, req *protocol.ReqControl) int32 {
		h := protocol.LtdbHeader{RSN: 9}
		x.db.storeRaw([]byte("k"), append(h.AppendTo(nil), "theirs"...))
		x.db.storeRaw([]byte(SeqnumKey), append(h.AppendTo(nil), protocol.U64(3)...))
		return 1
	})
	var oe *CommitOvertakenError
	if te := (*TxError)(nil); !errors.As(err, &te) || te.Step != TxSeqnumMismatch || !errors.As(err, &oe) || oe.Key != "k" || !errors.Is(err, syscall.EIO) {
		t.Errorf("overtaken: %v", err)
	}
	x.db.storeRaw([]byte(SeqnumKey), append((&protocol.LtdbHeader{RSN: 10}).AppendTo(nil), protocol.U64(2)...))
	// Failed, and the seqnum moved on by two: EIO.
	err = commit(func(n int, req *protocol.ReqControl) int32 {
		h := protocol.LtdbHeader{RSN: 11}
		x.db.storeRaw([]byte(SeqnumKey), append(h.AppendTo(nil), protocol.U64(4)...))
		return 1
	})
	var te *TxError
	var me *SeqnumMismatchError
	if !errors.As(err, &te) || te.Step != TxSeqnumMismatch || te.DB != "p.tdb" || !errors.As(err, &me) ||
		*me != (SeqnumMismatchError{Before: 2, Now: 4}) || !errors.Is(err, syscall.EIO) {
		t.Errorf("mismatch: %v", err)
	}
	// A seqnum that is not 8 bytes: EINVAL before anything is sent.
	x.db.storeRaw([]byte(SeqnumKey), append((&protocol.LtdbHeader{}).AppendTo(nil), 1, 2, 3))
	before := len(x.commits(t))
	err = commit(func(int, *protocol.ReqControl) int32 { return 0 })
	if !errors.As(err, &te) || te.Step != TxSeqnum || !errors.Is(err, syscall.EINVAL) || len(x.commits(t)) != before {
		t.Errorf("bad seqnum: %v", err)
	}
}

func TestGLockHolders(t *testing.T) {
	x := newTxFixture(t, 2)
	g, err := x.c.gLockDB(x.ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := lockKey(x.db.ID)
	other := protocol.ServerID{PID: 4242, TaskID: x.db.ID, VNN: 0, UniqueID: uint64(x.db.ID)<<32 | 4242}
	setLocks := func(locks ...protocol.GLock) {
		t.Helper()
		h := protocol.LtdbHeader{RSN: 3, DMaster: 2}
		if err := g.storeRaw(key, append(h.AppendTo(nil), (&protocol.GLockList{Locks: locks}).Marshal()...)); err != nil {
			t.Fatal(err)
		}
	}
	locks := func() []protocol.GLock {
		t.Helper()
		l, err := parseGLocks(x.gLockValue(t)[24:])
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	alive := 0
	x.f.on(protocol.ControlProcessExists, func(req *protocol.ReqControl) int32 {
		if req.DestNode != other.VNN || !bytes.Equal(req.Data, protocol.U32(4242)) {
			t.Errorf("PROCESS_EXISTS to %d: %x", req.DestNode, req.Data)
		}
		if alive > 0 {
			alive--
			return 0
		}
		return -1
	})

	// A writer that is alive three more times, then gone: we wait for it,
	// then its entry is replaced by ours.
	setLocks(protocol.GLock{Type: protocol.GLockWrite, SID: other})
	alive = 3
	tx, err := x.db.Transaction(x.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(x.f.sent(protocol.ControlProcessExists)); n != 4 {
		t.Errorf("%d PROCESS_EXISTS", n)
	}
	if l := locks(); len(l) != 1 || l[0].SID != tx.sid || l[0].Type != protocol.GLockWrite {
		t.Errorf("locks %+v", l)
	}
	if err := tx.Cancel(x.ctx); err != nil {
		t.Fatal(err)
	}

	// A live reader does not stop another reader; releasing leaves its
	// entry, without deleting the record.
	setLocks(protocol.GLock{Type: protocol.GLockRead, SID: other})
	sched := len(x.f.sent(protocol.ControlScheduleForDeletion))
	tx, err = x.db.Transaction(x.ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(x.f.sent(protocol.ControlProcessExists)); n != 4 {
		t.Errorf("%d PROCESS_EXISTS", n)
	}
	if l := locks(); len(l) != 2 || l[1].SID != tx.sid || l[1].Type != protocol.GLockRead {
		t.Errorf("locks %+v", l)
	}
	if err := tx.Store([]byte("k"), []byte("v")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("store in a read-only transaction: %v", err)
	}
	if err := tx.Commit(x.ctx); err != nil {
		t.Fatal(err)
	}
	if l := locks(); len(l) != 1 || l[0].SID != other {
		t.Errorf("locks %+v", l)
	}
	if n := len(x.f.sent(protocol.ControlScheduleForDeletion)); n != sched {
		t.Error("record deleted while a lock is held")
	}
	if n := len(x.f.sent(protocol.ControlTrans3Commit)); n != 0 {
		t.Errorf("%d commits of read-only transactions", n)
	}

	// Our own entry: deadlock. An unknown lock type: EPROTO.
	setLocks(protocol.GLock{Type: protocol.GLockRead, SID: x.c.serverID(x.db.ID)})
	_, err = x.db.Transaction(x.ctx, true)
	var te *TxError
	if !errors.As(err, &te) || te.Step != TxGLockDeadlock || !errors.Is(err, syscall.EDEADLK) {
		t.Errorf("deadlock: %v", err)
	}
	setLocks(protocol.GLock{Type: 7, SID: other})
	if _, err = x.db.Transaction(x.ctx, false); !errors.As(err, &te) || te.Step != TxGLockData || !errors.Is(err, syscall.EPROTO) {
		t.Errorf("bad type: %v", err)
	}
	// Trailing bytes are ignored, as by the library.
	h := protocol.LtdbHeader{DMaster: 2}
	g.storeRaw(key, append(h.AppendTo(nil), 1, 2, 3))
	tx, err = x.db.Transaction(x.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	tx.Cancel(x.ctx)
}

func TestTransactionRefusals(t *testing.T) {
	x := newTxFixture(t, 0)
	v, err := x.c.Attach(x.ctx, "v.tdb", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Transaction(x.ctx, false); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("transaction on a volatile database: %v", err)
	}
	if _, err := x.db.FetchLock(x.ctx, []byte("k")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("fetch lock on a persistent database: %v", err)
	}
	// An attach failure of g_lock.tdb is the first step's.
	x.f.on(protocol.ControlDBAttach, func(*protocol.ReqControl) int32 { return -5 })
	x2 := x.f.connect()
	db, err := x2.Attach(x.ctx, "r.tdb", protocol.DBFlagReplicated)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var te *TxError
	var ce *ControlError
	if _, err := db.Transaction(x.ctx, false); !errors.As(err, &te) || te.Step != TxAttachGLock || !errors.As(err, &ce) || ce.Status != -5 {
		t.Errorf("g_lock.tdb attach failure: %v", err)
	}
}
