package volatile

import (
	"bytes"
	"errors"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
	"github.com/rctdb/rctdb/volatile/migration"
)

// The rules of record migration live in package migration, one Core per
// database; this file drives it: it takes the key's chain, reads the record,
// steps the Core and carries out what it decided before the chain goes.

// ReplyFunc answers a client's call (REPLY_CALL status and data).
type ReplyFunc func(status int32, data []byte)

// step runs ev through the database's Core with key's chain held (db.mu
// too) and carries out its actions; key is nil for events that need no
// record.
func (db *DB) step(ev migration.Event, key []byte) {
	var rec migration.Record
	if key != nil {
		rec = db.fetchRecord(key).core()
	}
	db.carryOut(db.core.Step(ev, time.Now(), rec))
}

// carryOut carries out a Core's actions, in order. A record that could not be
// sent stays here (SendFailed), stepped once the batch is done.
func (db *DB) carryOut(acts []migration.Action) {
	m := db.m
	var unsent []migration.SendFailed
	for _, a := range acts {
		switch a := a.(type) {
		case migration.Send:
			for s := &a; s != nil; s = s.Then {
				if !m.send(s.To, s.Msg) {
					if s.Unsent != nil {
						unsent = append(unsent, migration.SendFailed{Key: s.Key, Record: *s.Unsent, To: s.To})
					}
					break
				}
			}
		case migration.Store:
			db.applyStore(a)
		case migration.Answer:
			d := time.Since(a.Client.Start)
			m.met.callLatency.Update(d.Seconds())
			m.stats.call(d)
			a.Client.Reply(a.Status, a.Data)
		case migration.Forget:
			m.forget(a.ReqIDs)
		case migration.Watch:
			db.watchPin(a.Key)
		case migration.Revoke:
			db.revoke(a)
		case migration.Later:
			db.later(a)
		}
	}
	for _, f := range unsent {
		db.step(f, f.Key)
	}
}

// applyStore writes (or deletes) a record as the Core decided.
func (db *DB) applyStore(a migration.Store) {
	if a.Delete {
		if err := db.deleteRecord(a.Key); err != nil && !errors.Is(err, tdb.ErrNotFound) {
			db.log.Error("delete failed", "err", err)
		}
		return
	}
	db.dropPending(a.Key)
	if err := db.tdb.Store(a.Key, a.Record.Encode(), tdb.Replace); err != nil {
		db.log.Error("store failed", "err", err)
	}
	if a.Vacuum {
		db.deleteQueue[string(a.Key)] = a.Record.Header
	}
}

// later steps calls again after a delay (at once for none), with their
// key's chain held.
func (db *DB) later(a migration.Later) {
	run := func() { db.withChain(a.Key, func() { db.step(migration.Rerun{Key: a.Key, Calls: a.Calls}, a.Key) }) }
	if a.Delay <= 0 {
		run()
		return
	}
	time.AfterFunc(a.Delay, func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		if !db.closed {
			run()
		}
	})
}

// ClientCall runs a client's REQ_CALL: at once if this node is the record's
// dmaster, else by fetching the record. Calls for unknown databases are
// dropped without an answer, as ctdbd drops them.
func (m *Manager) ClientCall(c *protocol.ReqCall, reply ReplyFunc) bool {
	db := m.DB(c.DBID)
	if db == nil {
		return false
	}
	m.met.clientCalls.Inc()
	key := bytes.Clone(c.Key)
	ev := migration.LocalCall{Key: key, Flags: c.Flags, Client: migration.Client{CallID: c.CallID, Start: time.Now(), Reply: reply}}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return false
	}
	db.withChain(key, func() { db.step(ev, key) })
	return true
}

func (m *Manager) register(reqid uint32, db *DB) {
	m.callsMu.Lock()
	m.calls[reqid] = db
	m.callsMu.Unlock()
}

// forget removes reqids a Core no longer waits on.
func (m *Manager) forget(ids []uint32) {
	m.callsMu.Lock()
	for _, id := range ids {
		delete(m.calls, id)
	}
	m.callsMu.Unlock()
}

// lookup returns the database whose fetch sent reqid.
func (m *Manager) lookup(reqid uint32) *DB {
	m.callsMu.Lock()
	defer m.callsMu.Unlock()
	return m.calls[reqid]
}

// nodeDB returns the database a node packet names. A packet for a
// database not attached here waits for the attach (see park) and runs
// again through retry.
func (m *Manager) nodeDB(h protocol.Header, dbid uint32, retry func()) *DB {
	if h.Generation != m.Generation() {
		m.met.staleDropped.Inc()
		return nil
	}
	if db := m.DB(dbid); db != nil {
		return db
	}
	refuse := func() { m.refuseUnknownDB(h, dbid) }
	if !m.park(dbid, parkedPacket{run: retry, refuse: refuse}) {
		refuse()
	}
	// The attach may have landed between the lookup and the parking.
	if m.DB(dbid) != nil {
		m.runParked(dbid)
	}
	return nil
}

// withNodeRecord steps ev with key's chain held in the database a node
// packet names. The Core drops it if its generation is over by then (the
// chain may be busy for a while).
func (m *Manager) withNodeRecord(h protocol.Header, dbid uint32, key []byte, ev migration.Event) {
	db := m.nodeDB(h, dbid, func() { m.withNodeRecord(h, dbid, key, ev) })
	if db == nil {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	db.withChain(key, func() { db.step(ev, key) })
}

// HandleReqCall serves another node's REQ_CALL.
func (m *Manager) HandleReqCall(pkt []byte) {
	var c protocol.ReqCall
	if err := c.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REQ_CALL from a node", "err", err)
		return
	}
	c.Key = bytes.Clone(c.Key)
	c.CallData = bytes.Clone(c.CallData)
	m.withNodeRecord(c.Header, c.DBID, c.Key, migration.NodeCall{Call: c})
}

// HandleReqDMaster is the lmaster's part of a migration: it records the new
// dmaster and passes the record on.
func (m *Manager) HandleReqDMaster(pkt []byte) {
	var p protocol.ReqDMaster
	if err := p.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REQ_DMASTER from a node", "err", err)
		return
	}
	p.Key, p.Data = bytes.Clone(p.Key), bytes.Clone(p.Data)
	m.withNodeRecord(p.Header, p.DBID, p.Key, migration.DMasterRequest{Req: p})
}

// HandleReplyDMaster makes this node the record's dmaster and answers the
// calls that waited for it.
func (m *Manager) HandleReplyDMaster(pkt []byte) {
	var p protocol.ReplyDMaster
	if err := p.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REPLY_DMASTER from a node", "err", err)
		return
	}
	p.Key, p.Data = bytes.Clone(p.Key), bytes.Clone(p.Data)
	m.withNodeRecord(p.Header, p.DBID, p.Key, migration.DMasterReply{Reply: p})
}

// HandleReplyCall finishes a fetch another node answered by running the
// call itself (a read-only copy).
func (m *Manager) HandleReplyCall(pkt []byte) {
	var r protocol.ReplyCall
	if err := r.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REPLY_CALL from a node", "err", err)
		return
	}
	if r.Generation != m.Generation() {
		m.met.staleDropped.Inc()
		return
	}
	db := m.lookup(r.ReqID)
	if db == nil {
		return
	}
	r.Data = bytes.Clone(r.Data)
	db.mu.Lock()
	defer db.mu.Unlock()
	key, ok := db.core.FetchKey(r.ReqID)
	if db.closed || !ok {
		return
	}
	db.withChain(key, func() { db.step(migration.CallReply{Reply: r}, key) })
}

// HandleReplyError fails a fetch another node refused.
func (m *Manager) HandleReplyError(pkt []byte) {
	var r protocol.ReplyError
	if err := r.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REPLY_ERROR from a node", "err", err)
		return
	}
	db := m.lookup(r.ReqID)
	if db == nil {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.closed {
		db.step(migration.CallError{ReqID: r.ReqID, From: r.SrcNode, Msg: protocol.ParseCString(r.Msg)}, nil)
	}
}

// resendStale sends again fetches that got no answer for CallTimeout: a
// packet may have been lost with a link that broke and healed.
func (m *Manager) resendStale() {
	cutoff := time.Now().Add(-m.cfg.CallTimeout)
	for _, db := range m.DBs() {
		db.resend(cutoff)
	}
}

// resend sends again the fetches sent before cutoff (all for the zero
// time), each with its chain held.
func (db *DB) resend(cutoff time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	gen := db.m.Generation()
	for _, ref := range db.core.StaleFetches(cutoff) {
		ev := migration.Resend{Fetch: ref, Gen: gen}
		db.withChain(ref.Key, func() { db.step(ev, ref.Key) })
	}
}

// coreEnv is the database as its Core sees it.
type coreEnv DB

func (e *coreEnv) Generation() uint32        { return e.m.Generation() }
func (e *coreEnv) Lmaster(key []byte) uint32 { return e.m.lmaster(key) }
func (e *coreEnv) Readonly() bool            { return (*DB)(e).readonly() }

// NewReqID also tells the Manager which database waits on the reqid: the
// replies that name no database find it so.
func (e *coreEnv) NewReqID() uint32 {
	id := e.m.newReqID()
	e.m.register(id, (*DB)(e))
	return id
}

// coreObserver turns what a Core does into metrics and statistics.
type coreObserver DB

func (o *coreObserver) Observe(t migration.Tally, key []byte, v float64) {
	met, db := o.m.met, (*DB)(o)
	switch t {
	case migration.TallyCollapsed:
		met.collapsed.Inc()
	case migration.TallyFetch:
		met.fetches.Inc()
	case migration.TallyCallSent:
		met.callsSent.Inc()
	case migration.TallyRedirect:
		met.redirects.Inc()
	case migration.TallyServed:
		o.m.stats.hop(uint32(v))
		db.stats.hop(uint32(v))
	case migration.TallyMigratedOut:
		met.migrationsOut.Inc()
	case migration.TallyMigratedIn:
		// Hot keys count arrivals, as ctdbd's do.
		db.migrated(key)
		met.migrationsIn.Inc()
	case migration.TallyInconsistent:
		met.inconsistent.Inc()
	case migration.TallyDeferred:
		met.deferred.Inc()
	case migration.TallyStale:
		met.staleDropped.Inc()
	case migration.TallyFetchDone:
		met.fetchLatency.Update(v)
	case migration.TallyDelegated:
		o.m.stats.hop(uint32(v))
		db.stats.hop(uint32(v))
		db.stats.roDelegations++
		o.m.stats.roDelegation()
		met.delegations.Inc()
	case migration.TallyRevoke:
		met.revokes.Inc()
	case migration.TallyRevoked:
		db.stats.roRevokes++
		o.m.stats.roRevoke()
	case migration.TallyResent:
		met.resent.Inc()
	case migration.TallyPinTurn:
		met.pinEnds(pinTurn).Inc()
	case migration.TallyPinWrite:
		met.pinEnds(pinWrite).Inc()
	case migration.TallyPinDeadline:
		met.pinEnds(pinDeadline).Inc()
	case migration.TallyOldNotice:
		met.oldNotices.Inc()
	}
}
