package volatile

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// traverseBatch is how many chains a traverse locks at once: one short lock
// per batch, never one for the whole walk.
const traverseBatch = 256

type kv struct{ key, value []byte }

// Traverse walks the database and calls emit with every record this node
// holds (it is the dmaster) and its full TDB value, header included; empty
// records only if withEmpty. Chains are locked a batch at a time; a batch
// with a busy chain is walked chain by chain, waiting for busy ones. emit
// runs without locks held; returning false stops the walk.
func (db *DB) Traverse(ctx context.Context, withEmpty bool, emit func(key, value []byte) bool) error {
	self := db.m.cfg.Self
	keep := func(k, v []byte, out *[]kv) {
		r, ok := parseRecord(v)
		if !ok || r.hdr.DMaster != self || (!withEmpty && len(r.data) == 0) {
			return
		}
		*out = append(*out, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
	}
	for start := 0; ; start += traverseBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, done, err := db.walkBatch(ctx, start, keep)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !emit(r.key, r.value) {
				return nil
			}
		}
		if done {
			return nil
		}
	}
}

// walkBatch collects the kept records of chains [start, start+batch).
func (db *DB) walkBatch(ctx context.Context, start int, keep func(k, v []byte, out *[]kv)) ([]kv, bool, error) {
	var out []kv
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, true, tdb.ErrClosed
	}
	end := min(start+traverseBatch, db.hashSize)
	walk := func(c uint32) func() {
		return func() {
			db.tdb.TraverseChain(c, func(k, v []byte) bool { keep(k, v, &out); return true })
		}
	}
	if db.tryRange(start, end) {
		for c := start; c < end; c++ {
			db.run(uint32(c), tdb.ChainKey(uint32(c)), walk(uint32(c)))
		}
		db.unlockRange(start, end)
		db.mu.Unlock()
		return out, end >= db.hashSize, nil
	}
	// Some chain is busy: take them one at a time, queueing for busy ones.
	pending := make(chan struct{}, end-start)
	for c := start; c < end; c++ {
		chain := uint32(c)
		w := walk(chain)
		db.withChain(tdb.ChainKey(chain), func() { w(); pending <- struct{}{} })
	}
	db.mu.Unlock()
	for i := start; i < end; i++ {
		select {
		case <-pending:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return out, end >= db.hashSize, nil
}

// tryRange locks the chains [start, end) at once without waiting, if none
// of them is busy (ours included, see tryChain).
func (db *DB) tryRange(start, end int) bool {
	if db.freezeHeld() {
		return false
	}
	for c := start; c < end; c++ {
		if db.held[uint32(c)] > 0 || db.chains[uint32(c)] != nil {
			return false
		}
	}
	off := tdb.ChainOffset(uint32(start))
	ok, err := db.locks.TryLock(off, tdb.ChainOffset(uint32(end))-off)
	if err != nil {
		db.log.Error("range lock failed", "err", err)
		return false
	}
	return ok
}

func (db *DB) unlockRange(start, end int) {
	off := tdb.ChainOffset(uint32(start))
	if err := db.locks.Unlock(off, tdb.ChainOffset(uint32(end))-off); err != nil {
		db.log.Error("range unlock failed", "err", err)
	}
}

// TraverseRecord is one record as traverse messages carry it.
func TraverseRecord(reqid uint32, key, value []byte) []byte {
	rd := protocol.RecData{ReqID: reqid, Key: key, Data: value}
	return rd.Marshal()
}
