package volatile

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// update takes what may change of an open database's spec: READONLY and
// STICKY (the kind flags never change) and the lock waiter bound.
func (db *DB) update(spec DBSpec) {
	db.mu.Lock()
	db.flags |= spec.Flags &^ (protocol.DBFlagPersistent | protocol.DBFlagReplicated)
	if spec.LockWaiters > 0 {
		db.lockWaiters = spec.LockWaiters
	}
	db.mu.Unlock()
}

// Flags returns the database's CTDB_DB_FLAGS_*.
func (db *DB) Flags() uint8 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.flags
}

// OpenFlags is what DB_OPEN_FLAGS reports: the TDB flags of the daemon's
// handle, which clients must open the file with (TDB_SEQNUM once enabled).
func (db *DB) OpenFlags() int32 {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return 0
	}
	return int32(db.tdb.Flags())
}

// EnableSeqnum turns on the TDB sequence number and its propagation
// (ENABLE_SEQNUM).
func (db *DB) EnableSeqnum() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed || db.seqnum {
		return
	}
	db.tdb.EnableSeqnum()
	db.seqnum = true
	db.lastSeq = db.tdb.Seqnum()
}

// BumpSeqnum increments the local sequence number because another node's
// copy changed (UPDATE_SEQNUM).
func (db *DB) BumpSeqnum() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.closed {
		db.tdb.IncrementSeqnum()
		db.lastSeq = db.tdb.Seqnum()
	}
}

// SeqnumInterval is how often changed sequence numbers are announced.
const SeqnumInterval = time.Second

// propagateSeqnums tells the active nodes about databases whose sequence
// number changed here, so that their clients' caches notice.
func (m *Manager) propagateSeqnums() {
	now := time.Now()
	for _, db := range m.DBs() {
		db.mu.Lock()
		changed := false
		if db.seqnum && !db.closed && now.Sub(db.seqSent) >= SeqnumInterval {
			if s := db.tdb.Seqnum(); s != db.lastSeq {
				db.lastSeq, changed = s, true
			}
			db.seqSent = now
		}
		db.mu.Unlock()
		if changed {
			m.broadcastActive(protocol.ControlUpdateSeqnum, protocol.U32(db.ID))
		}
	}
}

// broadcastActive sends a NOREPLY control to every other active node.
func (m *Manager) broadcastActive(op protocol.Opcode, data []byte) {
	v := m.view.Load()
	for _, p := range v.active {
		if p == m.cfg.Self {
			continue
		}
		c := protocol.ReqControl{
			Header: protocol.Header{Generation: v.gen, DestNode: p, SrcNode: m.cfg.Self},
			Opcode: op, Flags: protocol.CtrlFlagNoReply, Data: data,
		}
		m.send(p, c.Marshal())
	}
}

// Wipe deletes every record (WIPE_DATABASE).
func (db *DB) Wipe() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return tdb.ErrClosed
	}
	if !db.tryAll() {
		return errors.New("wipe " + db.Name + ": records are locked")
	}
	defer db.unlockAll()
	db.deleteQueue = make(map[string]protocol.LtdbHeader)
	db.pending = nil
	return db.nolock(func() error {
		if !db.txn {
			return db.tdb.Wipe()
		}
		// Within recovery's transaction: delete record by record, so that
		// a cancelled transaction keeps them.
		var keys [][]byte
		if _, err := db.tdb.TraverseRead(func(k, v []byte) bool {
			keys = append(keys, append([]byte(nil), k...))
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := db.tdb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// SeqnumRecord returns the value of the __db_sequence_number__ record
// (GET_DB_SEQNUM): its 8-byte value, else 0.
func (db *DB) SeqnumRecord() uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return 0
	}
	v, err := db.tdb.Fetch(protocol.DBSeqnumKey)
	if err != nil {
		return 0
	}
	r, ok := parseRecord(v)
	if !ok || len(r.data) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(r.data)
}

// errUpdateInRecovery refuses UPDATE_RECORD during a recovery, as ctdbd
// does: the recovery decides the copies.
var errUpdateInRecovery = errors.New("update record: recovery in progress")

// UpdateRecords replaces records that exist here with the given ones
// (UPDATE_RECORD on a volatile database, which a revocation of read-only
// copies sends: records that do not exist are skipped, as ctdbd does, and
// so are copies with an rsn as high, which an update that waited for the
// chain across a recovery must not replace).
func (db *DB) UpdateRecords(recs []protocol.RecData) error {
	if db.m.recovering.Load() {
		return errUpdateInRecovery
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return tdb.ErrClosed
	}
	for _, rd := range recs {
		r, ok := parseRecord(rd.Data)
		if !ok {
			return errors.New("update record: record shorter than its header")
		}
		key := append([]byte(nil), rd.Key...)
		val := r.encode()
		db.withChain(key, func() {
			v, err := db.tdb.Fetch(key)
			if cur, ok := parseRecord(v); err == nil && ok && cur.hdr.RSN < r.hdr.RSN {
				if err := db.tdb.Store(key, val, tdb.Modify); err != nil {
					db.log.Error("update record failed", "err", err)
				}
			}
		})
	}
	return nil
}
