package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// DB is a database attached through the daemon, with its local TDB file
// open the way smbd opens it. libtdb allows one handle per file and
// process: attach a database once per process. A DB serialises its users;
// records are locked with fcntl locks, which belong to the process.
type DB struct {
	c     *Client
	ID    uint32
	Name  string
	Path  string
	Flags uint8 // CTDB_DB_FLAGS_* asked for at attach

	mu  sync.Mutex
	tdb *tdb.DB
}

// Attach attaches a database (flags: 0 volatile, or DBFlagPersistent or
// DBFlagReplicated) and opens its TDB file with the flags the daemon
// reports, as the ctdb client library does.
func (c *Client) Attach(ctx context.Context, name string, flags uint8) (*DB, error) {
	op := protocol.ControlDBAttach
	switch {
	case flags&protocol.DBFlagPersistent != 0:
		op = protocol.ControlDBAttachPersistent
	case flags&protocol.DBFlagReplicated != 0:
		op = protocol.ControlDBAttachReplicated
	}
	r, err := c.call(ctx, c.pnn, op, protocol.CString(name))
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	id, err := protocol.ParseU32(r.Data)
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	if r, err = c.call(ctx, c.pnn, protocol.ControlGetDBPath, protocol.U32(id)); err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	path := protocol.ParseCString(r.Data)
	if r, err = c.call(ctx, c.pnn, protocol.ControlDBGetHealth, protocol.U32(id)); err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	if len(r.Data) > 0 {
		return nil, fmt.Errorf("attach %q: database unhealthy: %s", name, protocol.ParseCString(r.Data))
	}
	openFlags, err := c.u32(ctx, c.pnn, protocol.ControlDBOpenFlags, protocol.U32(id))
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	t, err := tdb.Open(path, 0, int(int32(openFlags)), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	return &DB{c: c, ID: id, Name: name, Path: path, Flags: flags, tdb: t}, nil
}

// replicatedKinds are the database flags of the kinds whose records are on
// every node: reads are local and writes go through transactions.
const replicatedKinds = protocol.DBFlagPersistent | protocol.DBFlagReplicated

// volatile reports whether the database was attached as a volatile one.
func (db *DB) volatile() bool { return db.Flags&replicatedKinds == 0 }

// Close closes the local TDB handle.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.tdb.Close()
}

// Record is a record locked by FetchLock.
type Record struct {
	db     *DB
	Key    []byte
	Header protocol.LtdbHeader
	Data   []byte
	// Migrations counts the calls FetchLock made to bring the record here.
	Migrations int
	locked     bool
}

// FetchLock locks a record of a volatile database the way smbd does: take
// the local chain lock; if this node is the record's dmaster, the record is
// ours; otherwise unlock, ask the daemon to migrate it here (REQ_CALL with
// IMMEDIATE_MIGRATION) and try again. The record stays locked until
// Unlock, Store or Delete. Persistent and replicated databases are refused
// (EINVAL), as by the client library: their records change only through
// transactions.
func (db *DB) FetchLock(ctx context.Context, key []byte) (*Record, error) {
	if !db.volatile() {
		return nil, fmt.Errorf("fetch lock on %s: database not volatile: %w", db.Name, syscall.EINVAL)
	}
	rec := &Record{db: db, Key: append([]byte(nil), key...)}
	for {
		db.mu.Lock()
		// With TDB_MUTEX_LOCKING (the real ctdbd's default) a chain lock
		// is a robust mutex owned by the OS thread that took it: stay on
		// that thread until the unlock.
		runtime.LockOSThread()
		if err := db.tdb.ChainLock(key); err != nil {
			runtime.UnlockOSThread()
			db.mu.Unlock()
			return nil, err
		}
		v, err := db.tdb.Fetch(key)
		if err == nil && len(v) >= protocol.LtdbHeaderSize {
			h, _ := protocol.DecodeLtdbHeader(v)
			if h.DMaster == db.c.pnn && h.Flags&protocol.RecFlagROHaveDelegations == 0 {
				rec.Header, rec.Data, rec.locked = h, append([]byte(nil), v[protocol.LtdbHeaderSize:]...), true
				return rec, nil // db.mu stays held with the chain lock
			}
		} else if err != nil && !errors.Is(err, tdb.ErrNotFound) {
			db.tdb.ChainUnlock(key)
			runtime.UnlockOSThread()
			db.mu.Unlock()
			return nil, err
		}
		db.tdb.ChainUnlock(key)
		runtime.UnlockOSThread()
		db.mu.Unlock()
		if err := db.migrate(ctx, key); err != nil {
			return nil, err
		}
		rec.Migrations++
	}
}

// migrate sends REQ_CALL NULL_FUNC with IMMEDIATE_MIGRATION and waits for
// the daemon's answer.
func (db *DB) migrate(ctx context.Context, key []byte) error {
	st, _, err := db.c.Call(ctx, db.ID, protocol.CallNullFunc, protocol.CallFlagImmediateMigration, key)
	if err != nil {
		return fmt.Errorf("migrate record of %s: %w", db.Name, err)
	}
	if st != 0 {
		return fmt.Errorf("migrate record of %s: status %d", db.Name, st)
	}
	return nil
}

// Store writes data under the held header and unlocks the record.
func (r *Record) Store(data []byte) error {
	err := r.put(data)
	if uerr := r.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// put writes data under the held header and keeps the record locked, as
// the client library's ctdb_store_record does with its handle.
func (r *Record) put(data []byte) error {
	if !r.locked {
		return errors.New("store: record not locked")
	}
	err := r.db.tdb.Store(r.Key, append(r.Header.AppendTo(nil), data...), tdb.Replace)
	r.Data = append(r.Data[:0], data...)
	return err
}

// Delete empties the record, unlocks it and asks the daemon to schedule it
// for deletion, waiting for the answer as the ctdb client library does.
func (r *Record) Delete(ctx context.Context) error {
	if !r.locked {
		return errors.New("delete: record not locked")
	}
	err := r.db.tdb.Store(r.Key, r.Header.AppendTo(nil), tdb.Replace)
	h := r.Header
	if uerr := r.Unlock(); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	kd := protocol.KeyData{DBID: r.db.ID, Header: h, Key: r.Key}
	_, err = r.db.c.call(ctx, r.db.c.pnn, protocol.ControlScheduleForDeletion, kd.Marshal())
	return err
}

// Unlock releases the record's chain lock.
func (r *Record) Unlock() error {
	if !r.locked {
		return nil
	}
	r.locked = false
	err := r.db.tdb.ChainUnlock(r.Key)
	runtime.UnlockOSThread()
	r.db.mu.Unlock()
	return err
}

// Fetch reads a record without locking it, through the daemon (REQ_CALL
// FETCH_FUNC), as Samba's parse_record does when the local copy is not
// usable; ok is false for an empty or missing record. Persistent and
// replicated databases are read from the local TDB alone: every node has
// all their records.
func (db *DB) Fetch(ctx context.Context, key []byte) (data []byte, ok bool, err error) {
	if !db.volatile() {
		_, d, err := db.FetchLocal(key)
		if err != nil {
			return nil, false, err
		}
		return d, len(d) > 0, nil
	}
	db.mu.Lock()
	v, ferr := db.tdb.Fetch(key)
	db.mu.Unlock()
	if ferr == nil && len(v) >= protocol.LtdbHeaderSize {
		h, _ := protocol.DecodeLtdbHeader(v)
		if h.DMaster == db.c.pnn {
			d := v[protocol.LtdbHeaderSize:]
			return append([]byte(nil), d...), len(d) > 0, nil
		}
	}
	st, d, err := db.c.Call(ctx, db.ID, protocol.CallFetchFunc, 0, key)
	if err != nil {
		return nil, false, err
	}
	if st != 0 {
		return nil, false, fmt.Errorf("fetch record of %s: status %d", db.Name, st)
	}
	return d, len(d) > 0, nil
}

// FetchReadonly reads a record of a volatile database the way Samba's
// parse_record does on a database marked READONLY: from the local TDB
// when this node is the record's dmaster or holds a read-only copy of it
// (local is then true), else through the daemon asking for a read-only
// copy (REQ_CALL FETCH_FUNC with CTDB_WANT_READONLY), which the daemon
// stores here for the next read. ok is false for an empty or missing record.
func (db *DB) FetchReadonly(ctx context.Context, key []byte) (data []byte, ok, local bool, err error) {
	if !db.volatile() {
		return nil, false, false, fmt.Errorf("read-only fetch on %s: database not volatile: %w", db.Name, syscall.EINVAL)
	}
	h, d, err := db.FetchLocal(key)
	if err != nil {
		return nil, false, false, err
	}
	if h.DMaster == db.c.pnn || (h.DMaster != protocol.UnknownPNN && h.Flags&protocol.RecFlagROHaveReadonly != 0) {
		return d, len(d) > 0, true, nil
	}
	st, d, err := db.c.Call(ctx, db.ID, protocol.CallFetchFunc, protocol.CallFlagWantReadonly, key)
	if err != nil {
		return nil, false, false, err
	}
	if st != 0 {
		return nil, false, false, fmt.Errorf("read-only fetch of %s: status %d", db.Name, st)
	}
	return d, len(d) > 0, false, nil
}

// FetchLocal reads a record from the local TDB without locking it, as the
// client library's ctdb_ltdb_fetch: a missing record, or a value too short
// for an ltdb header, gives the header {rsn 0, dmaster UnknownPNN} and no
// data. Only a failing TDB is an error.
func (db *DB) FetchLocal(key []byte) (protocol.LtdbHeader, []byte, error) {
	db.mu.Lock()
	v, err := db.tdb.Fetch(key)
	db.mu.Unlock()
	if err != nil && !errors.Is(err, tdb.ErrNotFound) {
		return protocol.LtdbHeader{}, nil, fmt.Errorf("fetch from %s: %w", db.Name, err)
	}
	if len(v) < protocol.LtdbHeaderSize {
		return protocol.LtdbHeader{DMaster: protocol.UnknownPNN}, nil, nil
	}
	h, _ := protocol.DecodeLtdbHeader(v)
	return h, v[protocol.LtdbHeaderSize:], nil
}

// Call sends a REQ_CALL to the local daemon and waits for its REPLY_CALL.
func (c *Client) Call(ctx context.Context, dbid, callid, flags uint32, key []byte) (int32, []byte, error) {
	ch := make(chan *protocol.ReplyCall, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, nil, c.err
	}
	reqid := c.allocReq()
	c.calls[reqid] = ch
	c.mu.Unlock()
	req := protocol.ReqCall{
		Header: protocol.Header{DestNode: protocol.CurrentNode, SrcNode: c.srcNode(), ReqID: reqid},
		Flags:  flags, DBID: dbid, CallID: callid, Key: key,
	}
	if err := c.write(req.Marshal()); err != nil {
		c.forgetCall(reqid)
		return 0, nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return 0, nil, c.Err()
		}
		return r.Status, r.Data, nil
	case <-ctx.Done():
		c.forgetCall(reqid)
		return 0, nil, fmt.Errorf("call on db 0x%08x: %w", dbid, ctx.Err())
	}
}

func (c *Client) forgetCall(reqid uint32) {
	c.mu.Lock()
	delete(c.calls, reqid)
	c.mu.Unlock()
}
