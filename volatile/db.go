package volatile

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
	"github.com/rctdb/rctdb/volatile/migration"
)

// TDB flags of volatile databases: the file is wiped by its first opener,
// never synced, uses the Jenkins hash; fcntl locking (no mutexes) for now.
const volatileTDBFlags = tdb.ClearIfFirst | tdb.NoSync | tdb.DisallowNesting | tdb.IncompatibleHash

// DB is one attached volatile database.
type DB struct {
	m     *Manager
	log   *slog.Logger
	Name  string
	ID    uint32
	Path  string
	flags uint8 // CTDB_DB_FLAGS_* beyond the kind: READONLY, STICKY

	mu    sync.Mutex // guards everything below and the use of tdb
	tdb   *tdb.DB
	locks *tdb.LockFile
	// wholeLocks holds database-wide locks (freeze, wipe, repack) as a lock
	// owner distinct from the chain locks.
	wholeLocks *tdb.LockFile
	frozen     bool
	// freezeWanted is set from a freeze request until Thaw; freezeDone
	// is closed when that freeze holds or is withdrawn; freezeLocking
	// while a goroutine waits for the all-record lock.
	freezeWanted  bool
	freezeDone    chan struct{}
	freezeLocking bool
	frozenOps     []chainOp // operations queued during a freeze
	txn           bool      // a recovery transaction is open
	hashSize      int
	// lockWaiters bounds the goroutines blocked in the kernel for this
	// database's chain locks (LockProcessesPerDB, as replicated).
	lockWaiters int
	closed      bool
	seqnum      bool // ENABLE_SEQNUM was sent
	lastSeq     int  // seqnum last propagated
	seqSent     time.Time
	// chains holds operations waiting for a busy chain; held counts our
	// operations running on a chain.
	chains    map[uint32]*chainQueue
	held      map[uint32]int
	waiters   int
	waitQueue []uint32
	// core decides how records migrate (package migration); it is used
	// under mu, with the key's chain held.
	core        *migration.Core
	deleteQueue map[string]protocol.LtdbHeader
	// fetchQueue holds the keys other nodes asked this node, their
	// lmaster, to take over for deletion (VACUUM_FETCH).
	fetchQueue map[string]struct{}
	// pending holds the copies a recovery left to write after the thaw
	// (pending.go); materializing is closed when their writer ends.
	pending       map[string][]byte
	materializing chan struct{}
	stats         dbStats
}

func hashKey(key []byte) uint32 { return protocol.Hash(key) }

// fileName is NAME.tdb.PNN's path in dir.
func fileName(dir, name string, pnn uint32) string {
	return filepath.Join(dir, name+"."+strconv.FormatUint(uint64(pnn), 10))
}

// openDB creates (wiping anything left) and opens a database file.
func (m *Manager) openDB(id uint32, spec DBSpec) (*DB, error) {
	name := spec.Name
	path := fileName(m.cfg.Dir, name, m.cfg.Self)
	// A file left by an earlier run is stale; CLEAR_IF_FIRST wipes it unless
	// a process still holds it open, in which case it is wiped below. A
	// file there that is not a TDB is refused, never overwritten.
	t, err := tdb.OpenOrCreate(path, cmp.Or(spec.HashSize, m.cfg.HashSize), volatileTDBFlags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("attach db %q: %w", name, err)
	}
	t.SetMaxDead(5)
	if n, _ := t.TraverseRead(func(k, v []byte) bool { return false }); n > 0 {
		m.log.Warn("volatile database not empty at attach (a process of an earlier run holds it open); wiping it", "db", name)
		if err := t.Wipe(); err != nil {
			t.Close()
			return nil, fmt.Errorf("attach db %q: %w", name, err)
		}
	}
	lf, err := tdb.OpenLockFile(path)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("attach db %q: %w", name, err)
	}
	wl, err := tdb.OpenLockFile(path)
	if err != nil {
		lf.Close()
		t.Close()
		return nil, fmt.Errorf("attach db %q: %w", name, err)
	}
	db := &DB{
		m: m, log: m.log.With("db", name), Name: name, ID: id, Path: path, flags: spec.Flags,
		tdb: t, locks: lf, wholeLocks: wl, hashSize: t.HashSize(), lockWaiters: cmp.Or(spec.LockWaiters, m.cfg.LockWaitersPerDB),
		chains: make(map[uint32]*chainQueue), held: make(map[uint32]int),
		deleteQueue: make(map[string]protocol.LtdbHeader), fetchQueue: make(map[string]struct{}),
	}
	db.core = migration.New(migration.Config{Self: m.cfg.Self, DBID: id, Pin: m.cfg.Pin, Log: db.log, Obs: (*coreObserver)(db)}, (*coreEnv)(db))
	db.stats.reset()
	return db, nil
}

// close closes the database; waiters still blocked release their lock when
// it comes.
func (db *DB) close() {
	db.mu.Lock()
	writer := db.materializing
	defer func() {
		db.mu.Unlock()
		if writer != nil {
			<-writer // it sees closed and ends
		}
	}()
	if db.closed {
		return
	}
	db.closed = true
	if db.freezeWanted && !db.frozen {
		close(db.freezeDone)
	}
	db.freezeWanted = false
	db.step(migration.Close{}, nil)
	db.tdb.Close()
	db.locks.Close()
	db.wholeLocks.Close()
}

// fetchRecord reads key's record; a missing one gets the initial header:
// rsn 0, dmaster = lmaster, flags AUTOMATIC. The chain must be held.
func (db *DB) fetchRecord(key []byte) record {
	v, err := db.tdb.Fetch(key)
	if errors.Is(err, tdb.ErrNotFound) && len(db.pending) > 0 {
		if pv, ok := db.pending[string(key)]; ok {
			v, err = pv, nil
		}
	}
	if err == nil {
		if r, ok := parseRecord(v); ok {
			return r
		}
	} else if !errors.Is(err, tdb.ErrNotFound) {
		db.log.Error("fetch failed", "err", err)
	}
	return record{hdr: protocol.LtdbHeader{DMaster: db.m.lmaster(key), Flags: protocol.RecFlagAutomatic}}
}

// lockLatency records a chain lock wait in the database's statistics.
func (db *DB) lockLatency(d time.Duration) {
	db.stats.locks.Latency.Add(d.Seconds())
	db.stats.locks.NumCalls++
	db.stats.locks.Buckets[latencyBucket(d)]++
}

// latencyBucket is ctdbd's lock latency bucket: 1 ms, 2 ms, 4 ms... up to
// the last bucket.
func latencyBucket(d time.Duration) int {
	b := 0
	for t := time.Millisecond; d > t && b < protocol.MaxCountBuckets-1; t *= 2 {
		b++
	}
	return b
}
