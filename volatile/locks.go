package volatile

import (
	"time"

	"github.com/rctdb/rctdb/tdb"
)

// chainOp is an operation waiting for a hash chain. fn runs with the chain
// held and db.mu locked; it must not block.
type chainOp struct {
	key    []byte
	fn     func()
	queued time.Time
}

// chainQueue holds the operations waiting for one chain.
type chainQueue struct {
	ops []chainOp
	// waiting is set while a waiter goroutine blocks for the chain's lock.
	waiting bool
}

// withChain runs fn with key's chain held: at once if the chain is free,
// else after the operations already waiting for it. db.mu must be held;
// fn runs with it held (now or later).
func (db *DB) withChain(key []byte, fn func()) {
	c := db.chainOf(key)
	if db.freezeHeld() {
		// A freeze goes first; under a freeze the database is locked whole
		// by a lock owner of its own, so chains cannot be taken.
		if db.held[c] > 0 {
			db.run(c, key, fn)
			return
		}
		db.frozenOps = append(db.frozenOps, chainOp{key: key, fn: fn, queued: time.Now()})
		return
	}
	if db.held[c] > 0 {
		// An operation of ours already holds the chain (fn of an operation
		// on the same chain): OFD locks of one owner merge, so running now
		// is both possible and required.
		db.run(c, key, fn)
		return
	}
	if q := db.chains[c]; q != nil {
		q.ops = append(q.ops, chainOp{key: key, fn: fn, queued: time.Now()})
		db.m.met.lockPending.Inc()
		return
	}
	ok, err := db.locks.TryLock(tdb.ChainOffset(c), 1)
	if err != nil {
		db.log.Error("chain lock failed", "chain", c, "err", err)
		return
	}
	db.m.met.lockCalls.Inc()
	if ok {
		db.run(c, key, fn)
		db.unlockChain(c)
		return
	}
	db.m.met.lockPending.Inc()
	q := &chainQueue{ops: []chainOp{{key: key, fn: fn, queued: time.Now()}}}
	db.chains[c] = q
	db.startWaiter(c, q)
}

// run marks the chain held for libtdb and runs fn.
func (db *DB) run(c uint32, key []byte, fn func()) {
	if err := db.tdb.ChainLockMark(key); err != nil {
		db.log.Error("chain lock mark failed", "err", err)
		return
	}
	db.held[c]++
	fn()
	db.held[c]--
	if db.held[c] == 0 {
		delete(db.held, c)
	}
	if err := db.tdb.ChainLockUnmark(key); err != nil {
		db.log.Error("chain lock unmark failed", "err", err)
	}
}

// tryChain takes chain c for an operation that does not queue (vacuuming,
// try-delete): false if the chain is busy, including when a waiter of ours
// is queued for it, because the kernel may already have granted that
// waiter's lock, which an OFD lock of the same owner would share.
func (db *DB) tryChain(c uint32) bool {
	if db.freezeHeld() || db.held[c] > 0 || db.chains[c] != nil {
		return false
	}
	ok, err := db.locks.TryLock(tdb.ChainOffset(c), 1)
	if err != nil {
		db.log.Error("chain lock failed", "chain", c, "err", err)
		return false
	}
	return ok
}

// tryAll takes the all-record lock without waiting; false if any chain is
// held, by smbd or by us (it is taken on the whole-database descriptor, a
// lock owner of its own). Work under it runs through db.nolock; unlockAll
// releases it.
func (db *DB) tryAll() bool {
	if db.frozen {
		return true // a freeze holds it already
	}
	ok, err := db.wholeLocks.TryLock(tdb.AllRecordOffset, 0)
	if err != nil {
		db.log.Error("all-record lock failed", "err", err)
		return false
	}
	return ok
}

func (db *DB) unlockAll() {
	if db.frozen {
		return
	}
	if err := db.wholeLocks.Unlock(tdb.AllRecordOffset, 0); err != nil {
		db.log.Error("all-record unlock failed", "err", err)
	}
}

// chainOf is the hash chain of key.
func (db *DB) chainOf(key []byte) uint32 { return tdb.Chain(hashKey(key), db.hashSize) }

func (db *DB) unlockChain(c uint32) {
	if err := db.locks.Unlock(tdb.ChainOffset(c), 1); err != nil {
		db.log.Error("chain unlock failed", "chain", c, "err", err)
	}
}

// startWaiter starts a goroutine that waits in the kernel for chain c, or
// queues c for one if the database has LockWaitersPerDB waiters already.
func (db *DB) startWaiter(c uint32, q *chainQueue) {
	if db.waiters >= db.lockWaiters {
		db.waitQueue = append(db.waitQueue, c)
		return
	}
	db.waiters++
	q.waiting = true
	db.m.met.lockCurrent.Inc()
	go db.waitChain(c)
}

// waitChain blocks until chain c is free, then runs the operations queued
// for it. The wait cannot be abandoned: if the database closed meanwhile the
// lock is simply released.
func (db *DB) waitChain(c uint32) {
	off := tdb.ChainOffset(c)
	start := time.Now()
	err := db.locks.Lock(off, 1)
	waited := time.Since(start)
	db.m.met.lockWait.Update(waited.Seconds())
	db.mu.Lock()
	defer db.mu.Unlock()
	db.waiters--
	db.m.met.lockCurrent.Dec()
	db.lockLatency(waited)
	q := db.chains[c]
	delete(db.chains, c)
	if err != nil {
		db.log.Error("waiting for chain lock failed", "chain", c, "err", err)
		db.m.met.lockFailed.Inc()
	} else if db.closed {
		db.locks.Unlock(off, 1)
	} else if db.freezeHeld() {
		// A freeze is waiting or holds the database: give the chain back
		// and let the operations wait for the thaw.
		db.locks.Unlock(off, 1)
		if q != nil {
			for _, op := range q.ops {
				db.m.met.lockPending.Dec()
				db.frozenOps = append(db.frozenOps, op)
			}
		}
	} else if q != nil {
		for _, op := range q.ops {
			db.m.met.lockPending.Dec()
			db.run(c, op.key, op.fn)
		}
		db.unlockChain(c)
	} else {
		db.unlockChain(c)
	}
	db.startQueuedWaiter()
}

// startQueuedWaiter gives a freed waiter slot to the oldest chain waiting
// for one.
func (db *DB) startQueuedWaiter() {
	for len(db.waitQueue) > 0 && db.waiters < db.lockWaiters {
		c := db.waitQueue[0]
		db.waitQueue = db.waitQueue[1:]
		if q := db.chains[c]; q != nil && !q.waiting {
			db.startWaiter(c, q)
		}
	}
}
