package volatile

import (
	"context"
	"errors"
	"fmt"

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

// Freeze locks the whole database, waiting for smbd and for our own chain
// operations to let go; record operations queue until Thaw.
func (db *DB) Freeze(ctx context.Context) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return tdb.ErrClosed
	}
	if db.frozen {
		db.mu.Unlock()
		return nil
	}
	db.freezing++
	db.mu.Unlock()

	got := make(chan error, 1)
	go func() { got <- db.wholeLocks.Lock(tdb.AllRecordOffset, 0) }()
	var err error
	select {
	case err = <-got:
	case <-ctx.Done():
		// The kernel wait cannot be abandoned: release the lock once it
		// comes.
		go func() {
			if <-got == nil {
				db.wholeLocks.Unlock(tdb.AllRecordOffset, 0)
			}
		}()
		err = ctx.Err()
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.freezing--
	if err != nil {
		if db.freezing == 0 && !db.frozen {
			db.replayFrozen()
		}
		return fmt.Errorf("freeze %s: %w", db.Name, err)
	}
	if db.frozen || db.closed {
		db.wholeLocks.Unlock(tdb.AllRecordOffset, 0)
		return nil
	}
	db.frozen = true
	db.log.Info("database frozen")
	return nil
}

// Frozen reports whether the database is frozen.
func (db *DB) Frozen() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.frozen
}

// Thaw releases a freeze, runs the operations that queued meanwhile and
// sends pending calls again (the generation may have changed).
func (db *DB) Thaw() error {
	db.mu.Lock()
	if !db.frozen {
		db.mu.Unlock()
		return nil
	}
	if db.txn {
		db.nolock(func() error { return db.tdb.TransactionCancel() })
		db.txn = false
	}
	db.wholeLocks.Unlock(tdb.AllRecordOffset, 0)
	db.frozen = false
	if db.freezing == 0 {
		db.replayFrozen()
	}
	db.mu.Unlock()
	db.log.Info("database thawed")
	db.resend(func(*fetch) bool { return true })
	return nil
}

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
