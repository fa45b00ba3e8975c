package client

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// The ctdb client library's g_lock: a lock record in the volatile database
// g_lock.tdb whose value is a list of 32-byte ctdb_g_lock entries (type and
// server id). It is not Samba's g_lock format; only clients of this kind
// understand each other's locks, and the daemon interprets neither.

// gLockDBName is the volatile database holding the g_locks.
const gLockDBName = "g_lock.tdb"

// gLockRetry is how long a lock request waits before trying again while a
// live process holds a conflicting lock (the library's 1 ms).
const gLockRetry = time.Millisecond

// gLockDB attaches g_lock.tdb the first time a transaction needs it and
// keeps it for the client's life: libtdb allows one handle per file and
// process, and the library too attaches a name only once per client.
func (c *Client) gLockDB(ctx context.Context) (*DB, error) {
	c.glockMu.Lock()
	defer c.glockMu.Unlock()
	if c.glock != nil {
		return c.glock, nil
	}
	db, err := c.Attach(ctx, gLockDBName, 0)
	if err != nil {
		return nil, err
	}
	c.glock = db
	return db, nil
}

// serverID is the library's ctdb_client_get_server_id: this process on
// this node, with a task id (the database id for transactions).
func (c *Client) serverID(taskID uint32) protocol.ServerID {
	p := uint64(uint32(pid()))
	return protocol.ServerID{PID: p, TaskID: taskID, VNN: c.pnn, UniqueID: uint64(taskID)<<32 | p}
}

// parseGLocks decodes a g_lock record's data as the library does: as many
// whole entries as fit (trailing bytes are ignored), each of type READ or
// WRITE (else EPROTO).
func parseGLocks(data []byte) ([]protocol.GLock, error) {
	var l protocol.GLockList
	if err := l.Unmarshal(data[:len(data)/protocol.GLockSize*protocol.GLockSize]); err != nil {
		return nil, fmt.Errorf("%w: %v", syscall.EPROTO, err)
	}
	for _, g := range l.Locks {
		if g.Type != protocol.GLockRead && g.Type != protocol.GLockWrite {
			return nil, fmt.Errorf("%w: g_lock type %d", syscall.EPROTO, g.Type)
		}
	}
	return l.Locks, nil
}

// gLockConflicts: only two read locks may be held together.
func gLockConflicts(a, b protocol.GLockType) bool {
	return a != protocol.GLockRead || b != protocol.GLockRead
}

// gLockLock takes the g_lock named key (its NUL included) for sid, as
// ctdb_g_lock_lock: lock the record (migrating it here), then for each
// conflicting entry ask the holder's node whether the holder still exists
// (PROCESS_EXISTS, no timeout but ctx). A live holder means unlock, wait
// gLockRetry and start again; a dead one's entry is removed and the record
// written back. Without conflicts our entry is appended. Failures are
// *TxError with the step that failed.
func (g *DB) gLockLock(ctx context.Context, key []byte, sid protocol.ServerID, typ protocol.GLockType) error {
	for {
		rec, err := g.FetchLock(ctx, key)
		if err != nil {
			return &TxError{Step: TxGLockFetch, Err: err}
		}
		retry, err := g.gLockTry(ctx, rec, sid, typ)
		// The library only logs a failed chain unlock.
		rec.Unlock()
		if err != nil || !retry {
			return err
		}
		t := time.NewTimer(gLockRetry)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &TxError{Step: TxGLockCheck, Err: ctx.Err()}
		}
	}
}

// gLockTry is one pass of gLockLock over the locked record: retry is true
// when a live holder makes us wait.
func (g *DB) gLockTry(ctx context.Context, rec *Record, sid protocol.ServerID, typ protocol.GLockType) (retry bool, err error) {
	locks, err := parseGLocks(rec.Data)
	if err != nil {
		return false, &TxError{Step: TxGLockData, Err: err}
	}
	for i := 0; i < len(locks); {
		l := locks[i]
		if l.SID == sid {
			return false, &TxError{Step: TxGLockDeadlock, Err: syscall.EDEADLK}
		}
		if !gLockConflicts(l.Type, typ) {
			i++
			continue
		}
		alive, err := g.c.processExists(ctx, l.SID.VNN, int32(l.SID.PID))
		if err != nil {
			return false, &TxError{Step: TxGLockCheck, Err: err}
		}
		if alive {
			return true, nil
		}
		// The holder is gone: its entry goes (the last takes its place).
		locks[i] = locks[len(locks)-1]
		locks = locks[:len(locks)-1]
		if err := rec.put((&protocol.GLockList{Locks: locks}).Marshal()); err != nil {
			return false, &TxError{Step: TxGLockStore, Err: err}
		}
	}
	locks = append(locks, protocol.GLock{Type: typ, SID: sid})
	if err := rec.put((&protocol.GLockList{Locks: locks}).Marshal()); err != nil {
		return false, &TxError{Step: TxGLockStore, Err: err}
	}
	return false, nil
}

// processExists asks node vnn whether process pid is one of its clients
// (PROCESS_EXISTS, status 0: it is).
func (c *Client) processExists(ctx context.Context, vnn uint32, pid int32) (bool, error) {
	r, err := c.Control(ctx, vnn, protocol.ControlProcessExists, 0, 0, protocol.U32(uint32(pid)))
	if err != nil {
		return false, err
	}
	return r.Status == 0, nil
}

// gLockUnlock releases sid's g_lock named key, as ctdb_g_lock_unlock: lock
// the record, drop our entry, write the rest back, or, when no entry is
// left, empty the record and schedule it for deletion (waiting for the
// answer, whose status does not matter).
func (g *DB) gLockUnlock(ctx context.Context, key []byte, sid protocol.ServerID) error {
	rec, err := g.FetchLock(ctx, key)
	if err != nil {
		return &TxError{Step: TxUnlockFetch, Err: err}
	}
	locks, err := parseGLocks(rec.Data)
	if err != nil {
		rec.Unlock()
		return &TxError{Step: TxUnlockData, Err: err}
	}
	for i, l := range locks {
		if l.SID == sid {
			locks[i] = locks[len(locks)-1]
			locks = locks[:len(locks)-1]
			break
		}
	}
	if len(locks) != 0 {
		if err := rec.Store((&protocol.GLockList{Locks: locks}).Marshal()); err != nil {
			return &TxError{Step: TxUnlockStore, Err: err}
		}
		return nil
	}
	var ce *ControlError
	if err := rec.Delete(ctx); err != nil && !errors.As(err, &ce) {
		return &TxError{Step: TxUnlockDelete, Err: err}
	}
	return nil
}
