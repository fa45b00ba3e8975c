package volatile

import (
	"context"
	"os"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
	"github.com/rctdb/rctdb/volatile/migration"
)

// VacuumConfig tunes vacuuming.
type VacuumConfig struct {
	// Interval between fast vacuum runs (VacuumInterval, 10 s).
	Interval time.Duration
	// FullEvery makes every run after FullEvery fast runs scan the whole
	// database for empty records (VacuumFastPathCount, 60; 0 with
	// Tunables: never).
	FullEvery int
	// RepackLimit repacks a database whose free list exceeds it (10000;
	// 0 with Tunables: never).
	RepackLimit int
	// RepackMaxBytes bounds the files vacuuming repacks (2 MiB): a repack
	// holds the whole database (measured here: 6 ms for 1.8 MiB, 35 ms for
	// 4.5 MiB, 0.5 s for 23 MiB), so larger files are left to the next
	// recovery, whose push rewrites them compactly.
	RepackMaxBytes int64
	// Batch bounds the records handled per database and run.
	Batch int
	// Tunables, if set, gives the cluster's tunables, read before each
	// run: their VacuumInterval, VacuumFastPathCount and RepackLimit
	// replace the three fields above, so that `ctdb setvar` changes
	// vacuuming as it does with ctdbd.
	Tunables func() *protocol.TunableValues
}

func (c *VacuumConfig) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.FullEvery <= 0 {
		c.FullEvery = 60
	}
	if c.RepackLimit <= 0 {
		c.RepackLimit = 10000
	}
	if c.RepackMaxBytes <= 0 {
		c.RepackMaxBytes = 2 << 20
	}
	if c.Batch <= 0 {
		c.Batch = 5000
	}
}

// vacuumSettings are the values a vacuum run goes by.
type vacuumSettings struct {
	interval    time.Duration
	fullEvery   int // 0: never full
	repackLimit int // 0: never repack
}

// settings reads the current values. An interval of 0 s, which would make
// ctdbd vacuum without pause, counts as 1 s.
func (c *VacuumConfig) settings() vacuumSettings {
	if c.Tunables == nil {
		return vacuumSettings{interval: c.Interval, fullEvery: c.FullEvery, repackLimit: c.RepackLimit}
	}
	t := c.Tunables()
	return vacuumSettings{
		interval:    time.Duration(max(t.VacuumInterval, 1)) * time.Second,
		fullEvery:   int(t.VacuumFastPathCount),
		repackLimit: int(t.RepackLimit),
	}
}

// ScheduleForDeletion queues a record a client emptied (SCHEDULE_FOR_DELETION).
func (db *DB) ScheduleForDeletion(key []byte, h protocol.LtdbHeader) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.closed {
		db.deleteQueue[string(key)] = h
	}
}

// dbVacuum is the vacuuming schedule of one database.
type dbVacuum struct {
	due      time.Time
	interval time.Duration // the interval due was set with
	fastRuns int
}

// vacuumPoll bounds the loop's sleep, so that a database attached meanwhile
// gets its schedule soon.
const vacuumPoll = time.Second

// vacuumLoop vacuums every database on a schedule of its own, as ctdbd
// does: the first run one interval after the database appeared, the next
// one interval after a run ends; a larger interval set during a wait
// extends the wait, and a run is full once FullEvery fast runs have passed.
func (m *Manager) vacuumLoop() {
	defer m.wg.Done()
	sched := make(map[*DB]*dbVacuum)
	for {
		s := m.cfg.Vacuum.settings()
		next := time.Now().Add(vacuumPoll)
		live := make(map[*DB]bool)
		for _, db := range m.DBs() {
			live[db] = true
			v := sched[db]
			if v == nil {
				v = &dbVacuum{due: time.Now().Add(s.interval), interval: s.interval}
				sched[db] = v
			}
			if !time.Now().Before(v.due) {
				m.scheduledVacuum(db, v, s)
			}
			if v.due.Before(next) {
				next = v.due
			}
		}
		for db := range sched {
			if !live[db] {
				delete(sched, db)
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// scheduledVacuum runs a database's vacuum when it is due, unless the
// interval grew since it was scheduled.
func (m *Manager) scheduledVacuum(db *DB, v *dbVacuum, s vacuumSettings) {
	if s.interval > v.interval {
		v.due, v.interval = v.due.Add(s.interval-v.interval), s.interval
		return
	}
	full := false
	if v.fastRuns >= s.fullEvery {
		full, v.fastRuns = s.fullEvery > 0, 0
	}
	m.VacuumDB(db, full)
	v.fastRuns++
	v.due, v.interval = time.Now().Add(s.interval), s.interval
}

// VacuumDB runs one vacuum pass over a database: with full, empty records
// missing from the delete queue are found first; then the queued records
// this node is lmaster of are deleted everywhere, and the others are sent
// to their lmaster; finally the file is repacked if its free list is long.
func (m *Manager) VacuumDB(db *DB, full bool) {
	m.met.vacuumRuns.Inc()
	if full {
		db.scanEmpty()
	}
	mine, others := db.vacuumCandidates()
	// After taking the candidates: what arrives now is deleted next run.
	m.takeOverQueued(db)
	if len(mine) > 0 {
		m.deleteEverywhere(db, mine)
	}
	for lmaster, recs := range others {
		rb := protocol.RecBuffer{DBID: db.ID, Records: recs}
		m.sendControl(lmaster, protocol.ControlVacuumFetch, rb.Marshal())
	}
	db.maybeRepack(m.cfg.Vacuum.settings().repackLimit)
}

// vacuumCandidates takes up to Batch records off the delete queue that are
// still empty and held here, split into those this node is lmaster of and
// those to send to their lmaster.
func (db *DB) vacuumCandidates() ([]protocol.RecData, map[uint32][]protocol.RecData) {
	m := db.m
	db.mu.Lock()
	defer db.mu.Unlock()
	var mine []protocol.RecData
	others := make(map[uint32][]protocol.RecData)
	n := 0
	for k, queued := range db.deleteQueue {
		if n >= m.cfg.Vacuum.Batch {
			break
		}
		n++
		key := []byte(k)
		c := db.chainOf(key)
		if !db.tryChain(c) {
			continue // a client holds it: next run
		}
		delete(db.deleteQueue, k)
		db.run(c, key, func() {
			r := db.fetchRecord(key)
			if !r.exists || len(r.data) > 0 || r.hdr.DMaster != m.cfg.Self || r.hdr.RSN != queued.RSN || r.hdr.Flags&protocol.RecFlagsRO != 0 {
				// In use again, gone, away and back since it was queued
				// (a later delete queues it again), or read-only copies
				// exist.
				return
			}
			rd := protocol.RecData{Key: key, Data: r.hdr.AppendTo(nil)}
			if l := m.lmaster(key); l == m.cfg.Self {
				mine = append(mine, rd)
			} else {
				others[l] = append(others[l], rd)
			}
		})
		db.unlockChain(c)
	}
	return mine, others
}

// deleteEverywhere deletes records this node is lmaster and dmaster of: the
// other active nodes delete their copies first (TRY_DELETE_RECORDS), and
// only records every node let go are deleted here, so that no stale copy
// elsewhere can outlive the record and bring it back.
func (m *Manager) deleteEverywhere(db *DB, recs []protocol.RecData) {
	failed := make(map[string]bool)
	rb := protocol.RecBuffer{DBID: db.ID, Records: recs}
	req := rb.Marshal()
	for _, p := range m.view.Load().active {
		if p == m.cfg.Self {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := m.rpc.Call(ctx, p, uint32(protocol.ControlTryDeleteRecords), req)
		cancel()
		if err != nil {
			db.log.Info("try-delete on another node failed; records stay for the next pass", "pnn", p, "err", err)
			for _, r := range recs {
				failed[string(r.Key)] = true
			}
			break
		}
		var kept protocol.RecBuffer
		if err := kept.Unmarshal(reply); err != nil {
			for _, r := range recs {
				failed[string(r.Key)] = true
			}
			break
		}
		for _, r := range kept.Records {
			failed[string(r.Key)] = true
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	for _, rd := range recs {
		key := rd.Key
		if failed[string(key)] {
			h, _ := protocol.DecodeLtdbHeader(rd.Data)
			db.deleteQueue[string(key)] = h
			continue
		}
		want, _ := protocol.DecodeLtdbHeader(rd.Data)
		c := db.chainOf(key)
		if !db.tryChain(c) {
			db.deleteQueue[string(key)] = want
			continue
		}
		db.run(c, key, func() {
			r := db.fetchRecord(key)
			if r.exists && len(r.data) == 0 && r.hdr.DMaster == m.cfg.Self && r.hdr.RSN == want.RSN {
				if err := db.deleteRecord(key); err == nil {
					m.met.vacuumed.Inc()
				}
			}
		})
		db.unlockChain(c)
	}
}

// TryDeleteRecords deletes this node's copies of records the lmaster is
// about to delete, and returns those it must keep: a copy this node is
// dmaster of, a newer copy, or one whose chain is busy.
func (db *DB) TryDeleteRecords(recs []protocol.RecData) []protocol.RecData {
	var kept []protocol.RecData
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return recs
	}
	for _, rd := range recs {
		want, err := protocol.DecodeLtdbHeader(rd.Data)
		if err != nil {
			kept = append(kept, rd)
			continue
		}
		key := rd.Key
		c := db.chainOf(key)
		if !db.tryChain(c) {
			kept = append(kept, rd)
			continue
		}
		db.run(c, key, func() {
			r := db.fetchRecord(key)
			switch {
			case !r.exists:
			case r.hdr.DMaster == db.m.cfg.Self, r.hdr.RSN > want.RSN, len(r.data) > 0 && r.hdr.RSN == want.RSN,
				(r.hdr.Flags|want.Flags)&protocol.RecFlagsRO != 0: // as ctdbd, never delete read-only records
				kept = append(kept, rd)
			default:
				if err := db.deleteRecord(key); err != nil {
					kept = append(kept, rd)
				}
				delete(db.deleteQueue, string(key))
			}
		})
		db.unlockChain(c)
	}
	return kept
}

// VacuumFetch queues records another node wants deleted for this node,
// their lmaster, to take over at its next vacuum run, as 4.17 does: a
// record a client fills again before then travels with its data.
func (db *DB) VacuumFetch(recs []protocol.RecData) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	for _, rd := range recs {
		db.fetchQueue[string(rd.Key)] = struct{}{}
	}
}

// vacuumFetchWait bounds how long a vacuum run waits for the records it
// takes over (4.17 kills a run after VacuumMaxRunTime, 120 s).
const vacuumFetchWait = 30 * time.Second

// takeOverQueued migrates the records VacuumFetch queued to this node and
// waits until they are here; those still empty are then in the delete
// queue (storeRecord puts them there), for the next run. A record whose
// chain a client holds stays queued for the next run.
func (m *Manager) takeOverQueued(db *DB) {
	db.mu.Lock()
	done := make(chan struct{}, len(db.fetchQueue))
	sent := 0
	for k := range db.fetchQueue {
		if sent >= m.cfg.Vacuum.Batch {
			break
		}
		key := []byte(k)
		c := db.chainOf(key)
		if !db.tryChain(c) {
			continue
		}
		delete(db.fetchQueue, k)
		db.run(c, key, func() {
			// The record must be in the file itself, not pending.
			v, err := db.tdb.Fetch(key)
			r, ok := parseRecord(v)
			if err != nil || !ok || db.core.Fetching(key) {
				return // gone, or on its way
			}
			wait := migration.Client{Start: time.Now(), Reply: func(int32, []byte) { done <- struct{}{} }}
			db.carryOut(db.core.Step(migration.VacuumFetch{Key: key, Client: wait}, time.Now(), r.core()))
			if db.core.Fetching(key) {
				sent++
			}
		})
		db.unlockChain(c)
	}
	db.mu.Unlock()
	timeout := time.NewTimer(vacuumFetchWait)
	defer timeout.Stop()
	for ; sent > 0; sent-- {
		select {
		case <-done:
		case <-timeout.C:
			db.log.Warn("records taken over for vacuuming did not arrive in time", "missing", sent)
			return
		case <-m.stop:
			return
		}
	}
}

// scanEmpty walks the database chain by chain and queues the empty records
// this node is dmaster of; busy chains are skipped until the next scan.
func (db *DB) scanEmpty() {
	for c := 0; ; c++ {
		db.mu.Lock()
		if db.closed || c >= db.hashSize {
			db.mu.Unlock()
			return
		}
		chain := uint32(c)
		if db.tryChain(chain) {
			db.run(chain, tdb.ChainKey(chain), func() {
				db.tdb.TraverseChain(chain, func(k, v []byte) bool {
					if r, ok := parseRecord(v); ok && len(r.data) == 0 && r.hdr.DMaster == db.m.cfg.Self {
						db.deleteQueue[string(k)] = r.hdr
					}
					return true
				})
			})
			db.unlockChain(chain)
		}
		db.mu.Unlock()
	}
}

// maybeRepack repacks the file when its free list is longer than limit (0:
// never), but only if the whole database can be locked at once: vacuuming
// never waits for clients.
func (db *DB) maybeRepack(limit int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed || limit <= 0 || db.tdb.FreelistSize() < limit {
		return
	}
	st, err := os.Stat(db.Path)
	if err != nil {
		return
	}
	if st.Size() > db.m.cfg.Vacuum.RepackMaxBytes {
		db.log.Debug("free list long but the file is too large to repack without delaying clients", "bytes", st.Size())
		return
	}
	if !db.tryAll() {
		return
	}
	start := time.Now()
	err = db.nolock(db.tdb.Repack)
	db.unlockAll()
	d := time.Since(start)
	db.m.met.vacuumLatency.Update(d.Seconds())
	if err != nil {
		db.log.Warn("repack failed", "err", err)
		return
	}
	db.log.Info("repacked database", "took", d.Round(time.Microsecond))
}

// sendControl sends a NOREPLY control to another node.
func (m *Manager) sendControl(pnn uint32, op protocol.Opcode, data []byte) {
	c := protocol.ReqControl{
		Header: protocol.Header{Generation: m.Generation(), DestNode: pnn, SrcNode: m.cfg.Self},
		Opcode: op, Flags: protocol.CtrlFlagNoReply, Data: data,
	}
	m.send(pnn, c.Marshal())
}
