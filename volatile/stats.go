package volatile

import (
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
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
		pending += len(db.inflight)
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

func (s *dbStats) reset() {
	*s = dbStats{}
	s.hot.since = time.Now()
}

func (s *dbStats) hop(h uint32) { s.hopBuckets[hopBucket(h)]++ }

func (s *dbStats) migrated(key []byte) { s.hot.add(key) }

// hotKeys keeps the most migrated keys with the space-saving algorithm:
// a bounded table whose least counted entry is replaced by a new key, so
// that frequent keys are found in constant memory.
type hotKeys struct {
	since time.Time
	keys  map[string]uint32
}

const hotKeysTracked = 64

func (h *hotKeys) add(key []byte) {
	if h.keys == nil {
		h.keys = make(map[string]uint32)
	}
	k := string(key)
	if _, ok := h.keys[k]; ok || len(h.keys) < hotKeysTracked {
		h.keys[k]++
		return
	}
	minKey, minCount := "", ^uint32(0)
	for kk, c := range h.keys {
		if c < minCount {
			minKey, minCount = kk, c
		}
	}
	delete(h.keys, minKey)
	h.keys[k] = minCount + 1
}

// top returns at most n keys, most migrated first.
func (h *hotKeys) top(n int) []protocol.HotKey {
	out := make([]protocol.HotKey, 0, len(h.keys))
	for k, c := range h.keys {
		out = append(out, protocol.HotKey{Count: c, Key: []byte(k)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return string(out[i].Key) < string(out[j].Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Statistics returns the database statistics (GET_DB_STATISTICS).
func (db *DB) Statistics() protocol.DBStatistics {
	db.mu.Lock()
	defer db.mu.Unlock()
	return protocol.DBStatistics{
		Locks:           db.stats.locks,
		HopCountBucket:  db.stats.hopBuckets,
		HotKeys:         db.stats.hot.top(protocol.MaxHotKeys),
		DBRODelegations: db.stats.roDelegations,
		DBRORevokes:     db.stats.roRevokes,
	}
}

// HotKeyRates returns the hottest keys with migrations per second since the
// statistics started.
func (db *DB) HotKeyRates() []HotKeyRate {
	db.mu.Lock()
	defer db.mu.Unlock()
	secs := time.Since(db.stats.hot.since).Seconds()
	var out []HotKeyRate
	for _, k := range db.stats.hot.top(protocol.MaxHotKeys) {
		out = append(out, HotKeyRate{Key: k.Key, Migrations: k.Count, PerSecond: float64(k.Count) / secs})
	}
	return out
}

// HotKeyRate is a hot key and how often it migrated.
type HotKeyRate struct {
	Key        []byte
	Migrations uint32
	PerSecond  float64
}

func hex32(v uint32) string { return fmt.Sprintf("%08x", v) }

// hexKey renders a key for logs, shortened.
func hexKey(k []byte) string {
	if len(k) > 32 {
		return hex.EncodeToString(k[:32]) + "..."
	}
	return hex.EncodeToString(k)
}
