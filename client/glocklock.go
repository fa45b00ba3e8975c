package client

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// HeldGLock is a g_lock this client holds, taken by GLock. Transactions
// take their g_lock themselves; this is for callers that lock a name of
// their own, as ctdb's g_lock_loop test and Samba's g_lock users do.
type HeldGLock struct {
	g   *DB
	key []byte
	sid protocol.ServerID
}

// GLock takes the g_lock called name in g_lock.tdb (attached once per
// client), as ctdb_g_lock_lock: a write lock excludes every other holder,
// a read lock only writers. It waits, retrying every millisecond, while a
// live process holds a conflicting entry, until ctx ends. taskID tells
// apart the server ids of one process (the library passes the database id
// for transactions; ctdb's g_lock_loop passes 1). Failures are *TxError
// with the step that failed.
func (c *Client) GLock(ctx context.Context, name string, taskID uint32, write bool) (*HeldGLock, error) {
	g, err := c.gLockDB(ctx)
	if err != nil {
		return nil, &TxError{Step: TxAttachGLock, DB: gLockDBName, Err: err}
	}
	typ := protocol.GLockRead
	if write {
		typ = protocol.GLockWrite
	}
	l := &HeldGLock{g: g, key: append([]byte(name), 0), sid: c.serverID(taskID)}
	if err := g.gLockLock(ctx, l.key, l.sid, typ); err != nil {
		return nil, l.named(err)
	}
	return l, nil
}

// Unlock releases the g_lock, as ctdb_g_lock_unlock.
func (l *HeldGLock) Unlock(ctx context.Context) error {
	return l.named(l.g.gLockUnlock(ctx, l.key, l.sid))
}

// named puts g_lock.tdb into a *TxError, which gLockLock leaves unnamed.
func (l *HeldGLock) named(err error) error {
	if te, ok := err.(*TxError); ok && te.DB == "" {
		te.DB = gLockDBName
	}
	return err
}
