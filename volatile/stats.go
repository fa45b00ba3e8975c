package volatile

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile/migration"
)

// nodeStats are the volatile layer's part of the node statistics.
type nodeStats struct {
	mu          sync.Mutex
	maxHop      uint32
	hopBuckets  [protocol.MaxCountBuckets]uint32
	callLatency protocol.LatencyCounter
	totalCalls  uint32
	roDelegs    uint32
	roRevokes   uint32
}

func (s *nodeStats) roDelegation() {
	s.mu.Lock()
	s.roDelegs++
	s.mu.Unlock()
}

func (s *nodeStats) roRevoke() {
	s.mu.Lock()
	s.roRevokes++
	s.mu.Unlock()
}

func (s *nodeStats) hop(h uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h > s.maxHop {
		s.maxHop = h
	}
	s.hopBuckets[hopBucket(h)]++
}

func (s *nodeStats) call(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callLatency.Add(d.Seconds())
	s.totalCalls++
}

// Fill adds the volatile layer's counters to node statistics.
func (m *Manager) Fill(st *protocol.Statistics) {
	m.stats.mu.Lock()
	st.MaxHopCount = m.stats.maxHop
	st.HopCountBucket = m.stats.hopBuckets
	st.CallLatency = m.stats.callLatency
	st.TotalCalls = m.stats.totalCalls
	st.TotalRODelegations, st.TotalRORevokes = m.stats.roDelegs, m.stats.roRevokes
	m.stats.mu.Unlock()
	st.Locks.NumCalls = uint32(m.met.lockCalls.Get())
	st.Locks.NumCurrent = uint32(m.met.lockCurrent.Get())
	st.Locks.NumPending = uint32(m.met.lockPending.Get())
	st.Locks.NumFailed = uint32(m.met.lockFailed.Get())
	pending := 0
	for _, db := range m.DBs() {
		db.mu.Lock()
		pending += db.core.Fetches()
		l := db.stats.locks
		db.mu.Unlock()
		if l.Latency.Num > 0 {
			if st.Locks.Latency.Num == 0 || l.Latency.Min < st.Locks.Latency.Min {
				st.Locks.Latency.Min = l.Latency.Min
			}
			if l.Latency.Max > st.Locks.Latency.Max {
				st.Locks.Latency.Max = l.Latency.Max
			}
			st.Locks.Latency.Total += l.Latency.Total
			st.Locks.Latency.Num += l.Latency.Num
		}
		for i, b := range l.Buckets {
			st.Locks.Buckets[i] += b
		}
	}
	st.PendingCalls = uint32(pending)
}

// ResetStats clears the node statistics (STATISTICS_RESET).
func (m *Manager) ResetStats() {
	m.stats.mu.Lock()
	m.stats.maxHop, m.stats.hopBuckets = 0, [protocol.MaxCountBuckets]uint32{}
	m.stats.callLatency, m.stats.totalCalls = protocol.LatencyCounter{}, 0
	m.stats.roDelegs, m.stats.roRevokes = 0, 0
	m.stats.mu.Unlock()
}

// dbStats are the statistics of one database; guarded by db.mu.
type dbStats struct {
	locks      protocol.LockStats
	hopBuckets [protocol.MaxCountBuckets]uint32
	hot        hotKeys
	// roDelegations and roRevokes count read-only copies given and
	// revocations completed.
	roDelegations uint32
	roRevokes     uint32
}

func (s *dbStats) reset() { *s = dbStats{} }

func (s *dbStats) hop(h uint32) { s.hopBuckets[hopBucket(h)]++ }

// hotKeys is ctdbd 4.17's hot key table (ctdb_update_db_stat_hot_keys).
// Migrations of each key into this node are counted in windows of
// migrationWindow, a window starting at the first migration after the last
// one ended (hash_count); the table keeps the protocol.MaxHotKeys keys whose
// count in one window was highest, each with that highest count, ordered
// by it ascending, ties in the order the keys came. Slot 0 thus holds the
// smallest count, and a new key replaces it once the table is full.
type hotKeys struct {
	windows    map[string]*migrationCount
	lastExpiry time.Time
	slots      []hotKey
}

// migrationCount is one key's count in its current window.
type migrationCount struct {
	start time.Time
	count uint64
}

type hotKey struct {
	key        []byte
	count      uint32
	lastLogged uint32 // count when the key was last logged
}

const (
	migrationWindow = time.Second
	// windowExpiry is how often windows that have ended are dropped, as
	// ctdbd's migration cleanup timer does.
	windowExpiry = 10 * time.Second
)

// hotKeyNote says what a migration changed in the table, for the log.
type hotKeyNote int

const (
	hotKeyUnchanged hotKeyNote = iota
	hotKeyAdded
	hotKeyRaised // the count at least doubled since last logged
)

// migrated counts a migration of key into this node at now and updates
// the table with the key's count in its window.
func (h *hotKeys) migrated(key []byte, now time.Time) (hotKeyNote, uint32) {
	if h.windows == nil {
		h.windows = make(map[string]*migrationCount)
		h.lastExpiry = now
	}
	if now.Sub(h.lastExpiry) >= windowExpiry {
		for k, w := range h.windows {
			if now.Sub(w.start) >= migrationWindow {
				delete(h.windows, k)
			}
		}
		h.lastExpiry = now
	}
	w := h.windows[string(key)]
	switch {
	case w == nil:
		w = &migrationCount{start: now}
		h.windows[string(key)] = w
	case now.Sub(w.start) >= migrationWindow:
		w.start, w.count = now, 0
	}
	w.count++
	count := uint32(min(w.count, math.MaxInt32))
	return h.update(key, count), count
}

// update records that key reached count in a window.
func (h *hotKeys) update(key []byte, count uint32) hotKeyNote {
	if len(h.slots) == protocol.MaxHotKeys && count <= h.slots[0].count {
		return hotKeyUnchanged
	}
	note := hotKeyAdded
	i := slices.IndexFunc(h.slots, func(s hotKey) bool { return bytes.Equal(s.key, key) })
	switch {
	case i >= 0:
		s := &h.slots[i]
		if count <= s.count {
			return hotKeyUnchanged
		}
		note = hotKeyUnchanged
		if uint64(count) >= 2*uint64(s.lastLogged) {
			note, s.lastLogged = hotKeyRaised, count
		}
		s.count = count
	case len(h.slots) < protocol.MaxHotKeys:
		h.slots = append(h.slots, hotKey{key: bytes.Clone(key), count: count, lastLogged: count})
	default:
		h.slots[0] = hotKey{key: bytes.Clone(key), count: count, lastLogged: count}
	}
	slices.SortStableFunc(h.slots, func(a, b hotKey) int { return cmp.Compare(a.count, b.count) })
	return note
}

// list returns the table in its order.
func (h *hotKeys) list() []protocol.HotKey {
	out := make([]protocol.HotKey, len(h.slots))
	for i, s := range h.slots {
		out[i] = protocol.HotKey{Count: s.count, Key: bytes.Clone(s.key)}
	}
	return out
}

// migrated counts a migration of key into this node for the hot keys, and
// logs a key that enters the table or whose count doubled, as ctdbd does.
// The caller holds db.mu.
func (db *DB) migrated(key []byte) {
	note, count := db.stats.hot.migrated(key, time.Now())
	switch note {
	case hotKeyAdded:
		db.log.Info(fmt.Sprintf("Added hot key database=%s key=%s count=%d", db.Name, hex.EncodeToString(key), count))
	case hotKeyRaised:
		db.log.Info(fmt.Sprintf("Updated hot key database=%s key=%s count=%d", db.Name, hex.EncodeToString(key), count))
	}
}

// Statistics returns the database statistics (GET_DB_STATISTICS): the hot
// keys as the table holds them; the encoding fills the unused slots with
// empty ones, as ctdbd sends them.
func (db *DB) Statistics() protocol.DBStatistics {
	db.mu.Lock()
	defer db.mu.Unlock()
	return protocol.DBStatistics{
		Locks:           db.stats.locks,
		HopCountBucket:  db.stats.hopBuckets,
		HotKeys:         db.stats.hot.list(),
		DBRODelegations: db.stats.roDelegations,
		DBRORevokes:     db.stats.roRevokes,
	}
}

func hex32(v uint32) string { return fmt.Sprintf("%08x", v) }

// hexKey renders a key for logs, shortened.
func hexKey(k []byte) string { return migration.HexKey(k) }
