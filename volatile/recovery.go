package volatile

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// Recovery. When the generation changes, the leader makes the copies of
// every volatile database agree: each node freezes its databases, the
// leader pulls the records from the nodes that held them, keeps the newest
// copy of each and pushes the result to every node of the new generation,
// naming itself dmaster. Nodes thaw when the cluster declares the recovery
// over, so no record changes between the pull and the push.

// SetRecovering freezes every database, and every one attached later,
// while on; turning it off thaws them all.
func (m *Manager) SetRecovering(on bool) {
	m.mu.Lock()
	if m.recovering == on {
		m.mu.Unlock()
		return
	}
	m.recovering = on
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
			}
			db.mu.Unlock()
		} else {
			db.Thaw()
		}
	}
}

// Recovering reports whether the node keeps its databases frozen for a
// recovery.
func (m *Manager) Recovering() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.recovering
}

// errNotRecovering refuses recovery work on a node that is not recovering:
// the cluster already moved on, and its records may be in use.
var errNotRecovering = errors.New("node is not in recovery")

// Pull waits for the database to freeze and returns all its records, each
// with its ltdb header in Data.
func (db *DB) Pull(ctx context.Context) ([]protocol.RecData, error) {
	p, err := db.PullPage(ctx, 0, 0, 0)
	return p.Records, err
}

// Page is part of a database's records: those of hash chains [Start,
// Next). Chains line up between nodes whose files have the same HashSize,
// so the leader can merge the nodes' pages one range at a time.
type Page struct {
	Records  []protocol.RecData
	Next     uint32 // the first chain not included; HashSize when done
	HashSize uint32
}

// PullPage waits for the database to freeze and returns the records of the
// chains from start: up to end (exclusive) if end is not 0, else up to and
// including the chain at which the records pass limit bytes (0: no limit).
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
	p := Page{HashSize: uint32(db.hashSize)}
	if end == 0 || end > p.HashSize {
		end = p.HashSize
	}
	size := 0
	chain := start
	err := db.nolock(func() error {
		for ; chain < end; chain++ {
			if limit > 0 && size >= limit {
				break
			}
			_, err := db.tdb.TraverseChain(chain, func(k, v []byte) bool {
				if len(v) >= protocol.LtdbHeaderSize {
					r := protocol.RecData{Key: append([]byte(nil), k...), Data: append([]byte(nil), v...)}
					size += r.Len()
					p.Records = append(p.Records, r)
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("pull %s: %w", db.Name, err)
	}
	p.Next = chain
	return p, nil
}

// Push replaces the content of the frozen database with recs (values with
// their ltdb headers) in one transaction.
func (db *DB) Push(ctx context.Context, recs []protocol.RecData) error {
	return db.PushPage(ctx, recs, 0, 0, true, true)
}

// PushPage writes one page of a recovery's records: they replace what the
// chains [start, end) held (end 0: to the last chain). The first page
// starts a transaction, the last commits it, so the database changes at
// once however many pages it takes, and chains not pushed yet can still be
// pulled meanwhile. A thaw or the next first page cancels a transaction
// left open by a failed recovery.
func (db *DB) PushPage(ctx context.Context, recs []protocol.RecData, start, end uint32, first, last bool) error {
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
	err := db.nolock(func() error {
		if first {
			if err := db.tdb.TransactionStart(); err != nil {
				return err
			}
			db.txn = true
		}
		if err := db.clearChains(start, end); err != nil {
			return err
		}
		for _, r := range recs {
			if err := db.tdb.Store(r.Key, r.Data, tdb.Replace); err != nil {
				return err
			}
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
	db.m.met.recoveredRecords.Add(len(recs))
	return nil
}

// clearChains deletes the records of chains [start, end) (end 0: to the
// last chain); all of them is a wipe. The database is frozen, in a
// transaction.
func (db *DB) clearChains(start, end uint32) error {
	hs := uint32(db.hashSize)
	if end == 0 || end > hs {
		end = hs
	}
	if start == 0 && end == hs {
		return db.tdb.Wipe()
	}
	for chain := start; chain < end; chain++ {
		var keys [][]byte
		if _, err := db.tdb.TraverseChain(chain, func(k, _ []byte) bool {
			keys = append(keys, append([]byte(nil), k...))
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := db.tdb.Delete(k); err != nil && !errors.Is(err, tdb.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// Merge keeps, of the copies the nodes sent (by pnn), the newest of each
// record: the highest rsn, and on a tie the copy of the node that names
// itself dmaster. Records without data are left out, deleting them. The
// result names dmaster as every record's dmaster, so that all nodes agree
// where each record is.
func Merge(copies map[uint32][]protocol.RecData, dmaster uint32) []protocol.RecData {
	type kept struct {
		hdr  protocol.LtdbHeader
		own  bool // the copy came from the node it names dmaster
		data []byte
	}
	best := make(map[string]kept)
	var order []string
	// Visit nodes in pnn order so that the result does not depend on map
	// iteration.
	pnns := make([]uint32, 0, len(copies))
	for p := range copies {
		pnns = append(pnns, p)
	}
	slices.Sort(pnns)
	for _, p := range pnns {
		for _, r := range copies[p] {
			h, err := protocol.DecodeLtdbHeader(r.Data)
			if err != nil {
				continue
			}
			k := string(r.Key)
			c := kept{hdr: h, own: h.DMaster == p, data: r.Data}
			prev, seen := best[k]
			if !seen {
				order = append(order, k)
			} else if h.RSN < prev.hdr.RSN || (h.RSN == prev.hdr.RSN && (prev.own || !c.own)) {
				continue
			}
			best[k] = c
		}
	}
	out := make([]protocol.RecData, 0, len(order))
	for _, k := range order {
		c := best[k]
		if len(c.data) <= protocol.LtdbHeaderSize {
			continue
		}
		h := c.hdr
		h.DMaster = dmaster
		h.Flags |= protocol.RecFlagMigratedWithData
		h.Flags &^= protocol.RecFlagsRO
		v := append(h.AppendTo(make([]byte, 0, len(c.data))), c.data[protocol.LtdbHeaderSize:]...)
		out = append(out, protocol.RecData{Key: []byte(k), Data: v})
	}
	return out
}
