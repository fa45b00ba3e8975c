package volatile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/tdb"
)

// Freezing. A frozen database holds the all-record lock, taken on its own
// descriptor (a different lock owner than the chain locks, so that it
// excludes our own chain operations too and a chain unlock can never cut a
// hole into it). While a freeze is requested, record operations queue
// instead of competing for chains, and waiters that obtain a chain give it
// back at once: the freeze goes first. Work on a frozen database runs with
// TDB_NOLOCK, as ctdbd's does: the lock is held, and libtdb refuses
// transactions with locks marked.

// ErrFrozen is returned by operations that need a thawed database.
var ErrFrozen = errors.New("database is frozen")

// errThawed is a freeze abandoned by a thaw before it held.
var errThawed = errors.New("thawed before the freeze took hold")

// Freeze locks the whole database, waiting for smbd and for our own chain
// operations to let go; record operations queue until Thaw. A freeze that
// ctx abandons stays requested: only Thaw withdraws it.
func (db *DB) Freeze(ctx context.Context) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return tdb.ErrClosed
	}
	done := db.requestFreeze()
	db.mu.Unlock()
	slow := time.NewTimer(freezeReportAfter)
	defer slow.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-slow.C:
			db.log.Warn("freeze waits for a lock", "holder", db.lockHolder())
		case <-ctx.Done():
			return fmt.Errorf("freeze %s (lock held by %s): %w", db.Name, db.lockHolder(), ctx.Err())
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.frozen {
		return fmt.Errorf("freeze %s: %w", db.Name, errThawed)
	}
	return nil
}

// requestFreeze asks for a freeze and returns a channel closed once it
// holds or is withdrawn. One goroutine waits in the kernel for the
// all-record lock, however many ask. db.mu must be held.
func (db *DB) requestFreeze() <-chan struct{} {
	if db.frozen {
		return closedChan
	}
	if !db.freezeWanted {
		db.freezeWanted = true
		db.freezeDone = make(chan struct{})
	}
	if !db.freezeLocking {
		db.freezeLocking = true
		go db.lockWhole()
	}
	return db.freezeDone
}

// freezeReportAfter is how long a freeze waits before it names who holds
// the database.
const freezeReportAfter = time.Second

// lockHolder names a process holding a lock in the database, for logs.
func (db *DB) lockHolder() string {
	pid, held, err := db.wholeLocks.Holder(tdb.AllRecordOffset, 0)
	switch {
	case err != nil:
		return err.Error()
	case !held:
		return "nobody now"
	case pid <= 0:
		return "this daemon"
	}
	return fmt.Sprintf("pid %d", pid)
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// lockWhole waits for the all-record lock and freezes the database with
// it, unless the freeze was withdrawn meanwhile.
func (db *DB) lockWhole() {
	err := db.wholeLocks.Lock(tdb.AllRecordOffset, 0)
	db.mu.Lock()
	defer db.mu.Unlock()
	db.freezeLocking = false
	switch {
	case err != nil && db.closed:
		return // the descriptor closed under the wait
	case err != nil:
		db.log.Error("freeze: waiting for the all-record lock failed", "err", err)
		if db.freezeWanted && !db.closed {
			// Try again shortly rather than leave the freeze hanging.
			db.freezeLocking = true
			time.AfterFunc(100*time.Millisecond, db.lockWhole)
		}
		return
	case db.closed || !db.freezeWanted:
		db.wholeLocks.Unlock(tdb.AllRecordOffset, 0)
		return
	}
	db.frozen = true
	close(db.freezeDone)
	db.log.Info("database frozen")
}

// Frozen reports whether the database is frozen.
func (db *DB) Frozen() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.frozen
}

// Thaw releases or withdraws a freeze, runs the operations that queued
// meanwhile and sends pending calls again (the generation may have
// changed). Once the node's recovery is over it starts writing the
// database's pending copies.
func (db *DB) Thaw() error {
	db.mu.Lock()
	if !db.freezeWanted {
		db.startMaterializer()
		db.mu.Unlock()
		return nil
	}
	db.freezeWanted = false
	if db.frozen {
		if db.txn {
			db.nolock(func() error { return db.tdb.TransactionCancel() })
			db.txn = false
		}
		db.wholeLocks.Unlock(tdb.AllRecordOffset, 0)
		db.frozen = false
		db.log.Info("database thawed")
	} else {
		// The locker still waits in the kernel; it lets go of the lock
		// as soon as it gets it.
		close(db.freezeDone)
	}
	db.replayFrozen()
	db.startMaterializer()
	db.mu.Unlock()
	db.resend(time.Time{})
	return nil
}

// freezeHeld reports whether record operations must queue: a freeze holds
// the database or is waiting for it. db.mu must be held.
func (db *DB) freezeHeld() bool { return db.frozen || db.freezeWanted }

// replayFrozen runs the operations queued during a freeze; db.mu held.
func (db *DB) replayFrozen() {
	ops := db.frozenOps
	db.frozenOps = nil
	for _, op := range ops {
		db.withChain(op.key, op.fn)
	}
}

// TransactionStart, TransactionCommit and TransactionCancel run a TDB
// transaction on a frozen database (recovery's and wipedb's).
func (db *DB) TransactionStart() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.frozen {
		return fmt.Errorf("transaction on %s: %w", db.Name, errNotFrozen)
	}
	if db.txn {
		return nil
	}
	if err := db.nolock(db.tdb.TransactionStart); err != nil {
		return err
	}
	db.txn = true
	return nil
}

func (db *DB) TransactionCommit() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.txn {
		return fmt.Errorf("commit on %s: no transaction", db.Name)
	}
	db.txn = false
	return db.nolock(db.tdb.TransactionCommit)
}

func (db *DB) TransactionCancel() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.txn {
		return nil
	}
	db.txn = false
	return db.nolock(db.tdb.TransactionCancel)
}

var errNotFrozen = errors.New("database is not frozen")

// nolock runs fn with libtdb's own locking off; the caller holds the whole
// database (frozen, or tryAll).
func (db *DB) nolock(fn func() error) error {
	db.tdb.AddFlags(tdb.NoLock)
	defer db.tdb.RemoveFlags(tdb.NoLock)
	return fn()
}
