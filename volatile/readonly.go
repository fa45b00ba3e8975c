package volatile

import (
	"context"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile/migration"
)

// Read-only delegations (package migration has the rules): this file runs
// the revocations the Core starts, which call every holder of a copy.

// revokeTimeout bounds the UPDATE_RECORD of a revocation (ctdbd uses its
// ControlTimeout, 60 s; a holder that does not answer is lost anyway).
const revokeTimeout = 30 * time.Second

// readonly reports whether the database hands out read-only copies.
// db.mu must be held.
func (db *DB) readonly() bool { return db.flags&protocol.DBFlagReadonly != 0 }

// revoke runs a revocation the Core started and steps its end with the
// key's chain held.
func (db *DB) revoke(a migration.Revoke) {
	m := db.m
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ok := m.revokeCopies(db, a.Holders, a.Update)
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.closed {
			return
		}
		done := migration.RevokeDone{Key: a.Key, Seq: a.Seq, OK: ok}
		db.withChain(a.Key, func() { db.step(done, a.Key) })
	}()
}

// revokeCopies replaces every holder's read-only copy with rec; false if a
// holder did not take it.
func (m *Manager) revokeCopies(db *DB, holders []uint32, rec protocol.RecData) bool {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req := (&protocol.RecBuffer{DBID: db.ID, Records: []protocol.RecData{rec}}).Marshal()
	ok := true
	for _, p := range holders {
		if _, err := m.rpc.Call(ctx, p, uint32(protocol.ControlUpdateRecord), req); err != nil {
			db.log.Info("revoking a read-only copy failed; trying again", "pnn", p, "key", hexKey(rec.Key), "err", err)
			ok = false
		}
	}
	return ok
}

// dropDelegations forgets delegations and revocations when a recovery
// starts: the recovery strips the read-only flags of every copy. Calls
// that waited for a revocation run again (they queue behind the freeze;
// other nodes' calls of the old generation are then dropped). db.mu held.
func (db *DB) dropDelegations() {
	db.step(migration.Recover{}, nil)
}
