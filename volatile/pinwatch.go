package volatile

import (
	"sync"
	"time"

	"github.com/rctdb/rctdb/internal/finetimer"
	"github.com/rctdb/rctdb/tdb"
	"github.com/rctdb/rctdb/volatile/migration"
)

// A record that arrived for local clients is pinned here until those
// clients had their turn: other nodes' requests that arrive meanwhile wait
// (hold), so that a client woken by its reply finds the record still here.
// The turn is over when a local process has held the record's chain and
// let it go, or when the record changed (the only client wrote it), or at
// the pin's end. Nothing tells the daemon when smbd takes or drops a chain
// lock, so while requests wait on a pin the watch looks every PinPoll:
// once it finds the chain held it queues the release behind that lock,
// and the kernel wakes it the moment the client unlocks.
//
// Go's timers cannot poll this finely (they wait in epoll with a
// millisecond timeout), so the watch sleeps on a finetimer. A chain is
// shared by the keys that hash to it: another process holding it for
// another key ends the pin early, which costs at most the client's turn,
// never a record.

// pinWatch is the Manager's set of pinned keys with requests waiting.
type pinWatch struct {
	wake chan struct{} // cap 1: the set became non-empty

	mu sync.Mutex
	// keys maps each watched key to when it was put under the watch, so
	// that a key put back while a look at it ended is not forgotten.
	keys map[pinKey]uint64
	seq  uint64
}

type pinKey struct {
	db  *DB
	key string
}

func newPinWatch() *pinWatch {
	return &pinWatch{wake: make(chan struct{}, 1), keys: make(map[pinKey]uint64)}
}

// watchPin puts key under the watch; db.mu is held.
func (db *DB) watchPin(key []byte) {
	w := db.m.pinWatch
	w.mu.Lock()
	w.seq++
	w.keys[pinKey{db, string(key)}] = w.seq
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pinLoop runs the watch while it has keys. It is owned by the Manager
// and ends with m.stop.
func (m *Manager) pinLoop() {
	defer m.wg.Done()
	timer, err := finetimer.New()
	if err != nil {
		m.log.Warn("no fine timer: pins end at millisecond resolution", "err", err)
	} else {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-m.stop:
			case <-stop:
			}
			timer.Close()
		}()
	}
	sleep := func() bool {
		if timer == nil {
			select {
			case <-m.stop:
				return false
			case <-time.After(m.cfg.PinPoll):
				return true
			}
		}
		return timer.Sleep(m.cfg.PinPoll) == nil
	}
	for {
		select {
		case <-m.stop:
			return
		case <-m.pinWatch.wake:
		}
		for m.checkPins() {
			if !sleep() {
				return
			}
		}
	}
}

// checkPins looks at every watched key once; false once none is left.
func (m *Manager) checkPins() bool {
	w := m.pinWatch
	w.mu.Lock()
	keys := make(map[pinKey]uint64, len(w.keys))
	for k, seq := range w.keys {
		keys[k] = seq
	}
	w.mu.Unlock()
	var done []pinKey
	for k := range keys {
		if k.db.checkPin(k.key) {
			done = append(done, k)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range done {
		if w.keys[k] == keys[k] {
			delete(w.keys, k)
		}
	}
	return len(w.keys) > 0
}

// checkPin releases the requests waiting on a pinned key if the local
// clients had their turn, or arranges for that when the chain holder lets
// go; it reports whether the watch is over for key.
func (db *DB) checkPin(k string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return true
	}
	key := []byte(k)
	release := func(why migration.PinEnd) {
		db.withChain(key, func() { db.step(migration.Release{Key: key, Why: why}, key) })
	}
	switch db.core.Pin(key, time.Now()) {
	case migration.PinIdle:
		db.step(migration.Unwatch{Key: key}, nil)
		return true
	case migration.PinOver:
		release(migration.PinDeadline)
		return true
	}
	c := db.chainOf(key)
	if db.held[c] == 0 && db.chains[c] == nil {
		if _, held, err := db.locks.Holder(tdb.ChainOffset(c), 1); err == nil && held {
			// A local process has the chain: serve once it lets go.
			release(migration.PinTurn)
			return true
		}
	}
	// The chain is free or about to be ours: the only client may have
	// written the record in a turn the watch did not see. If the chain
	// turns out busy, the look waits behind its holder, whose turn it was.
	ran, late := false, false
	db.withChain(key, func() {
		ran = true
		db.step(migration.PinLook{Key: key, Late: late}, key)
	})
	if !ran {
		late = true // the look runs under db.mu, after this returns
		return true
	}
	return !db.core.Watched(key)
}
