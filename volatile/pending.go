package volatile

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/rctdb/rctdb/tdb"
)

// Pending copies. Most of what a recovery writes after a node is lost are
// copies for the new lmasters of records whose dmaster stayed where it
// was: the lmaster lacked a copy and needs one naming the dmaster, so that
// it routes calls there. Writing hundreds of thousands of them into the
// TDB file takes longer than the rest of the recovery, so the node keeps
// them in memory instead (pending), serves them as if they were in the
// file (fetchRecord), and writes them in the background once the database
// is thawed (materialize), a chain at a time, never waiting for a chain
// that smbd or a call holds.
//
// Only copies for keys the node had no record of are pending, so the file
// never holds a newer record that a pending copy would hide: a pending
// copy is read only when the file has no record of the key. Any write or
// delete of the key drops it. Before a recovery plans, the node writes
// every pending copy into the file (flushPending), so that the leader sees
// them.

// addPending keeps the packed copies of b (its own copy of them) until
// they are written and returns how many it took. db.mu must be held.
func (db *DB) addPending(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	b = append([]byte(nil), b...)
	if db.pending == nil {
		db.pending = make(map[string][]byte)
	}
	for n := 0; ; n++ {
		k, v, rest, ok, err := tdb.NextPacked(b)
		if err != nil {
			return n, fmt.Errorf("pending copies of %s: %w", db.Name, err)
		}
		if !ok {
			return n, nil
		}
		b = rest
		if len(k) == 0 || len(v) == 0 {
			return n, fmt.Errorf("pending copies of %s: a copy without key or value", db.Name)
		}
		// The key aliases the copy of b, which the map keeps alive.
		db.pending[unsafe.String(&k[0], len(k))] = v
	}
}

// dropPending forgets key's pending copy. db.mu must be held.
func (db *DB) dropPending(key []byte) {
	if len(db.pending) > 0 {
		delete(db.pending, string(key))
	}
}

// deleteRecord deletes key's record, from the file or pending; it returns
// tdb.ErrNotFound if there was none. The chain must be held.
func (db *DB) deleteRecord(key []byte) error {
	_, pending := db.pending[string(key)]
	db.dropPending(key)
	err := db.tdb.Delete(key)
	if pending && errors.Is(err, tdb.ErrNotFound) {
		return nil
	}
	return err
}

// flushPending writes every pending copy into the file, on a frozen
// database (its caller runs it under db.nolock).
func (db *DB) flushPending() error {
	db.writePending(len(db.pending), func(_ []byte, write func()) bool { write(); return true })
	if n := len(db.pending); n > 0 {
		return fmt.Errorf("write pending copies of %s: %d failed", db.Name, n)
	}
	db.pending = nil
	return nil
}

// Batches of the background writer: under the all-record lock, taken
// only when no chain is held, it writes materializeBatch copies at once
// (about 3 ms of calls waiting); when a chain is held it writes up to
// chainBatch copies a chain at a time, skipping busy chains. Between
// batches it lets the database go for materializePause.
const (
	materializeBatch = 2048
	chainBatch       = 256
	materializePause = time.Millisecond
)

// startMaterializer starts the background writer of the pending copies if
// there are any, none runs and the node's recovery is over: the writer
// then competes only with clients, not with the rest of the recovery.
// db.mu must be held; the database is thawed.
func (db *DB) startMaterializer() {
	if len(db.pending) == 0 || db.materializing != nil || db.closed || db.freezeHeld() || db.m.recovering.Load() {
		return
	}
	done := make(chan struct{})
	db.materializing = done
	go db.materialize(done)
}

// materialize writes the pending copies into the file until none is left,
// or the database freezes or closes (the next thaw starts it again; close
// waits for it to end).
func (db *DB) materialize(done chan struct{}) {
	defer close(done)
	start, written := time.Now(), 0
	for {
		db.mu.Lock()
		if db.closed || db.freezeHeld() || len(db.pending) == 0 {
			if len(db.pending) == 0 {
				db.pending = nil
				db.log.Info("pending copies written", "records", written, "took", time.Since(start))
			}
			db.materializing = nil
			db.mu.Unlock()
			return
		}
		var n int
		if db.tryAll() {
			db.nolock(func() error {
				n = db.writePending(materializeBatch, func(_ []byte, write func()) bool { write(); return true })
				return nil
			})
			db.unlockAll()
		} else {
			n = db.writePending(chainBatch, func(key []byte, write func()) bool {
				c := db.chainOf(key)
				if !db.tryChain(c) {
					return false
				}
				db.run(c, key, write)
				db.unlockChain(c)
				return true
			})
		}
		written += n
		db.m.met.pendingWritten.Add(n)
		db.mu.Unlock()
		pause := materializePause
		if n == 0 {
			// Every chain tried is busy (or writing fails): wait longer
			// rather than spin.
			pause = 10 * time.Millisecond
		}
		time.Sleep(pause)
	}
}

// writePending writes up to max pending copies, each through locked,
// which runs write with the key's chain held or reports that it is busy,
// and returns how many it wrote. db.mu must be held.
func (db *DB) writePending(max int, locked func(key []byte, write func()) bool) int {
	n, tried := 0, 0
	for k, v := range db.pending {
		if tried == max {
			break
		}
		tried++
		key := unsafe.Slice(unsafe.StringData(k), len(k))
		locked(key, func() {
			// A record written since wins (its write dropped the pending
			// copy anyway).
			if err := db.tdb.Store(key, v, tdb.Insert); err != nil && !errors.Is(err, tdb.ErrExists) {
				db.log.Error("writing a pending copy failed", "err", err)
				return // kept: fetchRecord still serves it
			}
			delete(db.pending, k)
			n++
		})
	}
	return n
}
