package volatile

import (
	"context"
	"errors"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// Recovery. When the generation changes, the leader makes the copies of
// every volatile database agree: each node freezes its databases, the
// leader pulls the records from the nodes that held them page by page,
// plans what each node must change (recoveryplan.go) and pushes each node
// its changes. A database thaws when its recovery is done, so no record
// changes between the pull and the push.

// SetRecovering freezes every database, and every one attached later,
// while on; turning it off thaws them all.
func (m *Manager) SetRecovering(on bool) {
	m.mu.Lock()
	if m.recovering.Load() == on {
		m.mu.Unlock()
		return
	}
	m.recovering.Store(on)
	dbs := make([]*DB, 0, len(m.dbs))
	for _, db := range m.dbs {
		dbs = append(dbs, db)
	}
	m.mu.Unlock()
	if on {
		m.log.Info("recovery: freezing databases", "count", len(dbs))
	} else {
		m.log.Info("recovery over: thawing databases", "count", len(dbs))
	}
	for _, db := range dbs {
		if on {
			db.mu.Lock()
			if !db.closed {
				db.requestFreeze()
				db.dropDelegations()
			}
			db.mu.Unlock()
		} else {
			db.Thaw()
		}
	}
}

// Recovering reports whether the node keeps its databases frozen for a
// recovery.
func (m *Manager) Recovering() bool { return m.recovering.Load() }

// Pending counts the copies recoveries left to write, over all databases.
func (m *Manager) Pending() int {
	n := 0
	for _, db := range m.DBs() {
		db.mu.Lock()
		n += len(db.pending)
		db.mu.Unlock()
	}
	return n
}

// errNotRecovering refuses recovery work on a node that is not recovering:
// the cluster already moved on, and its records may be in use.
var errNotRecovering = errors.New("node is not in recovery")

// Pull waits for the database to freeze and returns all its records, each
// with its ltdb header in Data.
func (db *DB) Pull(ctx context.Context) ([]protocol.RecData, error) {
	p, err := db.PullPage(ctx, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	var recs []protocol.RecData
	for b := p.Packed; ; {
		k, v, rest, ok, err := tdb.NextPacked(b)
		if err != nil || !ok {
			return recs, err
		}
		recs = append(recs, protocol.RecData{Key: k, Data: v})
		b = rest
	}
}

// Page is part of a database's records: those of hash chains [Start,
// Next). Chains line up between nodes whose files have the same HashSize,
// so the leader can plan the nodes' pages one range at a time.
type Page struct {
	// Packed holds the records as tdb.PackChains packs them, values with
	// their ltdb headers.
	Packed   []byte
	Next     uint32 // the first chain not included; HashSize when done
	HashSize uint32
}

// PullPage waits for the database to freeze and returns the records of the
// chains from start: up to end (exclusive) if end is not 0, else up to and
// including the chain at which the records pass limit bytes (0: no limit).
// The first page of a recovery (start 0) cancels a push an earlier attempt
// left open and writes the pending copies into the file, so that the
// leader plans against what the node holds.
func (db *DB) PullPage(ctx context.Context, start, end uint32, limit int) (Page, error) {
	if !db.m.Recovering() {
		return Page{}, fmt.Errorf("pull %s: %w", db.Name, errNotRecovering)
	}
	if err := db.Freeze(ctx); err != nil {
		return Page{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.frozen {
		return Page{}, fmt.Errorf("pull %s: %w", db.Name, errThawed)
	}
	if start == 0 && db.txn {
		db.nolock(db.tdb.TransactionCancel)
		db.txn = false
	}
	p := Page{HashSize: uint32(db.hashSize)}
	if end == 0 || end > p.HashSize {
		end = p.HashSize
	}
	err := db.nolock(func() error {
		if start == 0 {
			if err := db.flushPending(); err != nil {
				return err
			}
		}
		var err error
		p.Packed, p.Next, err = db.tdb.PackChains(start, end, limit, protocol.LtdbHeaderSize)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("pull %s: %w", db.Name, err)
	}
	return p, nil
}

// Push replaces the content of the frozen database with recs (values with
// their ltdb headers) in one transaction.
func (db *DB) Push(ctx context.Context, recs []protocol.RecData) error {
	var b []byte
	for _, r := range recs {
		b = tdb.AppendPacked(b, r.Key, r.Data)
	}
	return db.apply(ctx, b, nil, true, true, true)
}

// PushPage applies one page of a recovery's changes (packed records: a
// value is stored, an empty value deletes the key). The first page starts
// a transaction, the last commits it, so the database changes at once
// however many pages it takes, and chains not pushed yet can still be
// pulled meanwhile. A thaw or the next first page cancels a transaction
// left open by a failed recovery. pending are copies for keys the node
// has no record of, which it keeps in memory and writes after the thaw
// (pending.go).
func (db *DB) PushPage(ctx context.Context, changes, pending []byte, first, last bool) error {
	return db.apply(ctx, changes, pending, false, first, last)
}

func (db *DB) apply(ctx context.Context, changes, pending []byte, wipe, first, last bool) error {
	if !db.m.Recovering() {
		return fmt.Errorf("push %s: %w", db.Name, errNotRecovering)
	}
	if err := db.Freeze(ctx); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.frozen {
		return fmt.Errorf("push %s: %w", db.Name, errThawed)
	}
	if first && db.txn {
		// A transaction of an interrupted wipe or push: start afresh.
		db.nolock(db.tdb.TransactionCancel)
		db.txn = false
	}
	if !first && !db.txn {
		return fmt.Errorf("push %s: a page of a push that did not start here", db.Name)
	}
	written := 0
	err := db.nolock(func() error {
		if first {
			if err := db.tdb.TransactionStart(); err != nil {
				return err
			}
			db.txn = true
		}
		if wipe {
			if err := db.tdb.Wipe(); err != nil {
				return err
			}
		}
		n, err := db.tdb.ApplyPacked(changes)
		written += n
		if err != nil {
			return err
		}
		if wipe {
			db.pending = nil
		}
		n, err = db.addPending(pending)
		written += n
		if err != nil {
			return err
		}
		if last {
			db.txn = false
			return db.tdb.TransactionCommit()
		}
		return nil
	})
	if err != nil {
		if db.txn {
			db.nolock(db.tdb.TransactionCancel)
			db.txn = false
		}
		return fmt.Errorf("push %s: %w", db.Name, err)
	}
	if last {
		// Whatever was scheduled for deletion is gone or has a new dmaster.
		clear(db.deleteQueue)
	}
	db.m.met.recoveredRecords.Add(written)
	return nil
}
