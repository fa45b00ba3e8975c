package volatile

import (
	"bytes"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// callFlagFollows marks a REQ_CALL, between rctdb nodes only, that waited
// for a record at its dmaster and is sent on to the node the record was
// just given to: that node can hold it until the record arrives.
const callFlagFollows uint32 = 0x00010000

// waitingCall is another node's request held here until a record is free.
type waitingCall struct {
	c   protocol.ReqCall
	pkt []byte
}

// ReplyFunc answers a client's call (REPLY_CALL status and data).
type ReplyFunc func(status int32, data []byte)

// fetch is a call this node sent to become a record's dmaster, with the
// local calls waiting for it.
type fetch struct {
	db      *DB
	key     []byte
	callid  uint32
	flags   uint32
	reqids  []uint32
	sentAt  time.Time
	started time.Time
	local   []localCall
}

type localCall struct {
	callid uint32
	// readonly: the client asked for a read-only copy (CTDB_WANT_READONLY
	// on a READONLY database).
	readonly bool
	reply    ReplyFunc
	start    time.Time
}

// runID is the call function run for the call: a read-only request fetches
// the record with its header, as ctdbd turns it into FETCH_WITH_HEADER.
func (lc localCall) runID() uint32 {
	if lc.readonly {
		return protocol.CallFetchWithHeaderFunc
	}
	return lc.callid
}

// answer shapes what runID returned for the client.
func (lc localCall) answer(data []byte) []byte {
	if lc.readonly {
		return replyData(lc.callid, true, data)
	}
	return data
}

// fail answers every local call with an error; the fetch is over.
func (f *fetch) fail() {
	for _, l := range f.local {
		l.reply(-1, nil)
	}
	f.local = nil
}

// ClientCall runs a client's REQ_CALL: at once if this node is the record's
// dmaster, else by fetching the record. Calls for unknown databases are
// dropped without an answer, as ctdbd drops them. CTDB_WANT_READONLY is
// honoured on READONLY databases only.
func (m *Manager) ClientCall(c *protocol.ReqCall, reply ReplyFunc) bool {
	db := m.DB(c.DBID)
	if db == nil {
		return false
	}
	m.met.clientCalls.Inc()
	key := append([]byte(nil), c.Key...)
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return false
	}
	flags := c.Flags
	if !db.readonly() {
		flags &^= protocol.CallFlagWantReadonly
	}
	lc := localCall{callid: c.CallID, readonly: flags&protocol.CallFlagWantReadonly != 0, reply: reply, start: time.Now()}
	db.withChain(key, func() { db.clientCallLocked(key, flags, lc) })
	return true
}

func (db *DB) clientCallLocked(key []byte, flags uint32, lc localCall) {
	m := db.m
	if f := db.inflight[string(key)]; f != nil {
		f.local = append(f.local, lc)
		m.met.collapsed.Inc()
		return
	}
	r := db.clearRevoked(key, db.fetchRecord(key))
	if rv := db.revokes[string(key)]; rv != nil {
		db.deferLocal(rv, key, flags, lc)
		return
	}
	if r.hdr.DMaster == m.cfg.Self {
		if !lc.readonly && r.hdr.Flags&roHeld != 0 {
			db.deferLocal(db.startRevoke(key, r), key, flags, lc)
			return
		}
		data, st := db.runCall(key, r, lc.runID())
		db.finishLocal(lc, st, lc.answer(data))
		return
	}
	f := &fetch{db: db, key: key, callid: protocol.CallNullFunc, flags: flags, started: time.Now(), local: []localCall{lc}}
	if lc.readonly {
		f.callid = protocol.CallFetchWithHeaderFunc
	}
	db.inflight[string(key)] = f
	m.met.fetches.Inc()
	db.sendFetch(f, r.hdr.DMaster)
}

// finishLocal answers a local call and records its latency.
func (db *DB) finishLocal(lc localCall, status int32, data []byte) {
	d := time.Since(lc.start)
	db.m.met.callLatency.Update(d.Seconds())
	db.m.stats.call(d)
	lc.reply(status, data)
}

// runCall executes a call function on a record this node is dmaster of.
// A missing record is created with its initial header, which only the
// lmaster (the implicit dmaster of a missing record) can reach.
func (db *DB) runCall(key []byte, r record, callid uint32) ([]byte, int32) {
	switch callid {
	case protocol.CallNullFunc:
		if !r.exists {
			db.storeRecord(key, r)
		}
		return nil, 0
	case protocol.CallFetchFunc:
		return append([]byte(nil), r.data...), 0
	case protocol.CallFetchWithHeaderFunc:
		return r.encode(), 0
	}
	return nil, -1
}

// sendFetch sends (again) the REQ_CALL of f to dest under a new reqid.
func (db *DB) sendFetch(f *fetch, dest uint32) {
	m := db.m
	reqid := m.newReqID()
	m.register(reqid, f)
	f.sentAt = time.Now()
	c := protocol.ReqCall{
		Header: protocol.Header{Generation: m.Generation(), DestNode: dest, SrcNode: m.cfg.Self, ReqID: reqid},
		Flags:  f.flags, DBID: db.ID, CallID: f.callid, Key: f.key,
	}
	m.met.callsSent.Inc()
	db.log.Debug("call sent", "key", hexKey(f.key), "to", dest, "reqid", reqid)
	m.send(dest, c.Marshal())
}

func (m *Manager) register(reqid uint32, f *fetch) {
	m.callsMu.Lock()
	m.calls[reqid] = f
	f.reqids = append(f.reqids, reqid)
	m.callsMu.Unlock()
}

// forget removes every reqid of f.
func (m *Manager) forget(f *fetch) {
	m.callsMu.Lock()
	for _, id := range f.reqids {
		if m.calls[id] == f {
			delete(m.calls, id)
		}
	}
	f.reqids = nil
	m.callsMu.Unlock()
}

func (m *Manager) lookup(reqid uint32) *fetch {
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

// HandleReqCall serves another node's REQ_CALL: this node either hands the
// record over, redirects the call, or keeps it until the record it is
// waiting for arrives.
func (m *Manager) HandleReqCall(pkt []byte) {
	var c protocol.ReqCall
	if err := c.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REQ_CALL from a node", "err", err)
		return
	}
	m.withNodeRecord(c.Header, c.DBID, c.Key, func(db *DB, key []byte) { db.remoteCallLocked(key, &c, pkt) })
}

// withNodeRecord runs fn with key's chain held in the database a node
// packet names, unless the packet's generation is over by then (the chain
// may be busy for a while). fn gets its own copy of key.
func (m *Manager) withNodeRecord(h protocol.Header, dbid uint32, key []byte, fn func(db *DB, key []byte)) {
	db := m.nodeDB(h, dbid, func() { m.withNodeRecord(h, dbid, key, fn) })
	if db == nil {
		return
	}
	key = append([]byte(nil), key...)
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	db.withChain(key, func() {
		if h.Generation != m.Generation() {
			m.met.staleDropped.Inc()
			return
		}
		fn(db, key)
	})
}

func (db *DB) remoteCallLocked(key []byte, c *protocol.ReqCall, pkt []byte) {
	m := db.m
	self := m.cfg.Self
	requester := c.SrcNode
	f := db.inflight[string(key)]
	if requester == self {
		// Our own call, redirected back to us.
		if f == nil {
			return // answered meanwhile
		}
		r := db.fetchRecord(key)
		switch l := m.lmaster(key); {
		case r.hdr.DMaster == self:
			db.completeFetch(f, r)
		case l == self:
			// As lmaster we know where the record went after the node we
			// asked handed it on: follow it.
			db.forward(c, key, r.hdr.DMaster)
		default:
			// The lmaster sent it here, so it last knew the record here:
			// a record it passed to us would have arrived before this
			// call, on the same link. We have handed the record on since,
			// and our REQ_DMASTER saying so is ahead of this call on our
			// link to the lmaster, which will therefore know better.
			db.forward(c, key, l)
		}
		return
	}
	// A node with a fetch of its own in flight holds a request only if
	// the request followed the record here (callFlagFollows): otherwise it
	// cannot know the record is coming (its own request may be waiting
	// elsewhere), and two such nodes could wait for each other. Links are
	// FIFO and work on a chain runs in arrival order, so a request the
	// lmaster sends here arrives after the record it sent first.
	r := db.clearRevoked(key, db.fetchRecord(key))
	if rv := db.revokes[string(key)]; rv != nil {
		db.deferRemote(rv, key, *c, pkt)
		return
	}
	if r.hdr.DMaster == self {
		if db.hold(key, c, pkt) {
			return
		}
	} else {
		if c.Flags&callFlagFollows != 0 {
			if f != nil {
				db.waiting[string(key)] = append(db.waiting[string(key)], waitingCall{*c, pkt})
				m.met.deferred.Inc()
				return
			}
			// The record moved on from here too: follow it.
			db.forward(c, key, r.hdr.DMaster)
			return
		}
		dest := m.lmaster(key)
		if dest == self {
			dest = r.hdr.DMaster
		}
		db.forward(c, key, dest)
		return
	}
	db.serveRemote(key, r, c, pkt)
}

// serveRemote answers another node's call for a record this node is
// dmaster of and nobody waits for: a read-only copy if it asks for one,
// else the record, once its read-only copies are revoked.
func (db *DB) serveRemote(key []byte, r record, c *protocol.ReqCall, pkt []byte) {
	if db.wantsReadonly(c) {
		db.delegate(key, r, c)
		return
	}
	if r.hdr.Flags&roHeld != 0 {
		db.deferRemote(db.startRevoke(key, r), key, *c, pkt)
		return
	}
	db.m.stats.hop(c.HopCount)
	db.stats.hop(c.HopCount)
	db.giveRecord(key, r, c.SrcNode, c.ReqID)
}

// forward redirects a call one hop further, keeping its requester and reqid.
func (db *DB) forward(c *protocol.ReqCall, key []byte, dest uint32) {
	m := db.m
	c.HopCount++
	m.met.redirects.Inc()
	if c.HopCount%100 > 95 {
		db.log.Warn("high hopcount", "hops", c.HopCount, "key", hexKey(key), "requester", c.SrcNode)
	}
	c.Header.DestNode = dest
	db.log.Debug("call redirected", "key", hexKey(key), "requester", c.SrcNode, "reqid", c.ReqID, "to", dest, "hops", c.HopCount)
	m.send(dest, c.Marshal())
}

// giveRecord hands a record this node is dmaster of to requester: through
// the lmaster (REQ_DMASTER), or directly when this node is the lmaster.
func (db *DB) giveRecord(key []byte, r record, requester, reqid uint32) {
	m := db.m
	flags := r.hdr.Flags &^ (protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated | protocol.RecFlagsRO)
	if len(r.data) > 0 {
		flags |= protocol.RecFlagMigratedWithData
	}
	h := protocol.LtdbHeader{RSN: r.hdr.RSN, DMaster: requester, Flags: flags}
	db.storeRecord(key, record{hdr: h, data: r.data})
	m.met.migrationsOut.Inc()
	l := m.lmaster(key)
	db.log.Debug("record given", "key", hexKey(key), "to", requester, "reqid", reqid, "rsn", h.RSN, "via_lmaster", l != m.cfg.Self)
	hdr := protocol.Header{Generation: m.Generation(), SrcNode: m.cfg.Self, ReqID: reqid}
	var sent bool
	if l == m.cfg.Self {
		hdr.DestNode = requester
		p := protocol.ReplyDMaster{Header: hdr, DBID: db.ID, RSN: h.RSN, Key: key, Data: r.data, RecordFlags: flags}
		sent = m.send(requester, p.Marshal())
	} else {
		hdr.DestNode = l
		p := protocol.ReqDMaster{Header: hdr, DBID: db.ID, RSN: h.RSN, DMaster: requester, Key: key, Data: r.data, RecordFlags: flags}
		sent = m.send(l, p.Marshal())
	}
	if !sent {
		db.keepUnsent(key, r, hdr.DestNode)
	}
}

// keepUnsent makes this node the dmaster of a record it could not send on
// (no link to the node yet), rather than leave the cluster pointing at a
// node that never got it; the requester's call, sent again, finds it here.
func (db *DB) keepUnsent(key []byte, r record, to uint32) {
	r.hdr.DMaster = db.m.cfg.Self
	db.storeRecord(key, r)
	db.log.Warn("record kept: it could not be sent on", "key", hexKey(key), "to", to)
}

// HandleReqDMaster is the lmaster's part of a migration: it records the new
// dmaster and passes the record on.
func (m *Manager) HandleReqDMaster(pkt []byte) {
	var p protocol.ReqDMaster
	if err := p.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REQ_DMASTER from a node", "err", err)
		return
	}
	data := append([]byte(nil), p.Data...)
	m.withNodeRecord(p.Header, p.DBID, p.Key, func(db *DB, key []byte) {
		if l := m.lmaster(key); l != m.cfg.Self {
			db.log.Error("REQ_DMASTER for a key this node is not the lmaster of", "lmaster", l, "from", p.SrcNode)
			return
		}
		cur := db.fetchRecord(key)
		if cur.hdr.DMaster != p.SrcNode && !(cur.hdr.RSN == 0 && cur.hdr.DMaster == m.cfg.Self) {
			// ctdbd would force a recovery; the newer copy wins here.
			m.met.inconsistent.Inc()
			db.log.Warn("REQ_DMASTER from a node this lmaster does not know as dmaster",
				"from", p.SrcNode, "known", cur.hdr.DMaster, "rsn", p.RSN, "known_rsn", cur.hdr.RSN)
			if p.RSN < cur.hdr.RSN {
				return
			}
		}
		h := protocol.LtdbHeader{RSN: p.RSN, DMaster: p.DMaster, Flags: p.RecordFlags}
		db.log.Debug("lmaster passes record on", "key", hexKey(key), "from", p.SrcNode, "to", p.DMaster, "reqid", p.ReqID)
		if p.DMaster == m.cfg.Self {
			db.becomeDMaster(key, h, data, p.ReqID)
			return
		}
		db.storeRecord(key, record{hdr: h, data: data})
		r := protocol.ReplyDMaster{
			Header: protocol.Header{Generation: m.Generation(), DestNode: p.DMaster, SrcNode: m.cfg.Self, ReqID: p.ReqID},
			DBID:   db.ID, RSN: p.RSN, Key: key, Data: data, RecordFlags: p.RecordFlags,
		}
		if !m.send(p.DMaster, r.Marshal()) {
			db.keepUnsent(key, record{hdr: h, data: data}, p.DMaster)
		}
	})
}

// HandleReplyDMaster makes this node the record's dmaster and answers the
// calls that waited for it.
func (m *Manager) HandleReplyDMaster(pkt []byte) {
	var p protocol.ReplyDMaster
	if err := p.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REPLY_DMASTER from a node", "err", err)
		return
	}
	data := append([]byte(nil), p.Data...)
	m.withNodeRecord(p.Header, p.DBID, p.Key, func(db *DB, key []byte) {
		db.becomeDMaster(key, protocol.LtdbHeader{RSN: p.RSN, Flags: p.RecordFlags}, data, p.ReqID)
	})
}

// becomeDMaster stores a record that arrived for this node and finishes the
// fetch it was for. The record is stored even if no fetch waits for it.
func (db *DB) becomeDMaster(key []byte, h protocol.LtdbHeader, data []byte, reqid uint32) {
	m := db.m
	h.DMaster = m.cfg.Self
	f := m.lookup(reqid)
	ours := f != nil && f.db == db && bytes.Equal(f.key, key)
	if ours && f.flags&protocol.CallFlagVacuumMigration != 0 {
		// For storeRecord only: an empty record vacuuming brought that
		// never travelled with data is deleted on arrival.
		h.Flags |= protocol.RecFlagVacuumMigrated
	}
	db.storeRecord(key, record{hdr: h, data: data})
	// Hot keys count arrivals, as ctdbd's do.
	db.migrated(key)
	m.met.migrationsIn.Inc()
	if !ours {
		db.log.Debug("became dmaster; no call waited", "key", hexKey(key), "reqid", reqid)
		return
	}
	db.log.Debug("became dmaster", "key", hexKey(key), "reqid", reqid, "local", len(f.local))
	db.completeFetch(f, db.fetchRecord(key))
}

// completeFetch answers the local calls of f on the record now here and
// pins the record briefly, so that those clients can take it before other
// nodes' requests move it on.
func (db *DB) completeFetch(f *fetch, r record) {
	m := db.m
	delete(db.inflight, string(f.key))
	m.forget(f)
	m.met.fetchLatency.Update(time.Since(f.started).Seconds())
	for _, lc := range f.local {
		data, st := db.runCall(f.key, r, lc.runID())
		db.finishLocal(lc, st, lc.answer(data))
	}
	if len(f.local) > 0 && m.cfg.Pin > 0 {
		p := pin{until: time.Now().Add(m.cfg.Pin)}
		if len(f.local) == 1 {
			p.seen, _ = db.tdb.Fetch(f.key)
		}
		db.pins[string(f.key)] = p
	}
	f.local = nil
	if len(db.waiting[string(f.key)]) > 0 {
		// Requests that followed the record here wait for the clients'
		// turn (pinwatch.go).
		db.watchPin(f.key)
	}
}

// pin keeps a record that arrived for local clients here until they had
// their turn (pinwatch.go).
type pin struct {
	until time.Time
	// seen is the record as the only client that asked for it got it; once
	// the record differs, that client has written it and had its turn.
	// nil when several clients asked: their writes cannot be told apart.
	seen []byte
}

// hold keeps another node's request for a record this node holds while the
// record is pinned for local clients or others wait for it already (first
// come, first served); it reports whether it did. The chain is held.
func (db *DB) hold(key []byte, c *protocol.ReqCall, pkt []byte) bool {
	k := string(key)
	p, pinned := db.pins[k]
	if pinned && (!time.Now().Before(p.until) || db.clientWrote(key, p)) {
		delete(db.pins, k)
		pinned = false
	}
	if !pinned && len(db.waiting[k]) == 0 {
		return false
	}
	db.waiting[k] = append(db.waiting[k], waitingCall{*c, pkt})
	db.m.met.deferred.Inc()
	if !pinned {
		db.release(key)
		return true
	}
	db.watchPin(key)
	return true
}

// clientWrote reports whether the only local client the record was pinned
// for has written it since (which it does under the chain lock, which we
// hold now).
func (db *DB) clientWrote(key []byte, p pin) bool {
	if p.seen == nil {
		return false
	}
	cur, err := db.tdb.Fetch(key)
	return err == nil && !bytes.Equal(cur, p.seen)
}

// release serves the first request waiting for key and sends the others
// after the record to its new dmaster, where they wait again: a request
// waiting on a record is never bounced through the lmaster.
func (db *DB) release(key []byte) {
	m := db.m
	k := string(key)
	delete(db.releasing, k)
	delete(db.pins, k)
	waiting := db.waiting[k]
	delete(db.waiting, k)
	gen := m.Generation()
	var live []waitingCall
	for _, w := range waiting {
		if w.c.Generation == gen {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return
	}
	r := db.clearRevoked(key, db.fetchRecord(key))
	if rv := db.revokes[k]; rv != nil {
		for _, w := range live {
			db.deferRemote(rv, key, w.c, w.pkt)
		}
		return
	}
	// Read-only requests at the head are answered in turn; the first
	// request for the record itself gets it (after a revocation, which
	// the requests behind it wait for).
	for len(live) > 0 && r.hdr.DMaster == m.cfg.Self {
		first := &live[0]
		if !db.wantsReadonly(&first.c) && r.hdr.Flags&roHeld != 0 {
			rv := db.startRevoke(key, r)
			for _, w := range live {
				db.deferRemote(rv, key, w.c, w.pkt)
			}
			return
		}
		db.serveRemote(key, r, &first.c, first.pkt)
		live = live[1:]
		r = db.fetchRecord(key)
	}
	for _, w := range live {
		w.c.Flags |= callFlagFollows
		db.forward(&w.c, key, r.hdr.DMaster)
	}
}

// HandleReplyCall finishes a fetch another node answered by running the
// call itself: a read-only copy, which is stored here if it is newer than
// this node's copy (ctdbd never answers other calls of other nodes so,
// but the protocol allows it).
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
	f := m.lookup(r.ReqID)
	if f == nil {
		return
	}
	db := f.db
	data := append([]byte(nil), r.Data...)
	withHeader := f.callid == protocol.CallFetchWithHeaderFunc
	finish := func() {
		if db.inflight[string(f.key)] != f {
			return
		}
		delete(db.inflight, string(f.key))
		m.forget(f)
		for _, lc := range f.local {
			d := append([]byte(nil), data...)
			if withHeader {
				d = replyData(lc.callid, lc.readonly, data)
			}
			db.finishLocal(lc, r.Status, d)
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed || db.inflight[string(f.key)] != f {
		return
	}
	if !withHeader || f.flags&protocol.CallFlagWantReadonly == 0 {
		finish()
		return
	}
	db.withChain(f.key, func() {
		// A copy that waited for the chain across a recovery is stale;
		// the fetch is sent again.
		if r.Generation != m.Generation() {
			m.met.staleDropped.Inc()
			return
		}
		db.storeReadonlyCopy(f.key, data)
		finish()
	})
}

// HandleReplyError fails a fetch another node refused.
func (m *Manager) HandleReplyError(pkt []byte) {
	var r protocol.ReplyError
	if err := r.Unmarshal(pkt); err != nil {
		m.log.Warn("malformed REPLY_ERROR from a node", "err", err)
		return
	}
	f := m.lookup(r.ReqID)
	if f == nil {
		return
	}
	db := f.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.inflight[string(f.key)] != f {
		return
	}
	db.log.Warn("call failed on another node", "from", r.SrcNode, "err", protocol.ParseCString(r.Msg))
	delete(db.inflight, string(f.key))
	m.forget(f)
	f.fail()
}

// resendStale sends again fetches that got no answer for CallTimeout: a
// packet may have been lost with a link that broke and healed.
func (m *Manager) resendStale() {
	cutoff := time.Now().Add(-m.cfg.CallTimeout)
	for _, db := range m.DBs() {
		db.resend(func(f *fetch) bool { return f.sentAt.Before(cutoff) })
	}
}

func (db *DB) resend(which func(*fetch) bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return
	}
	gen := db.m.Generation()
	for _, f := range db.inflight {
		if !which(f) {
			continue
		}
		db.m.met.resent.Inc()
		f := f
		db.withChain(f.key, func() {
			if db.inflight[string(f.key)] != f {
				return
			}
			r := db.fetchRecord(f.key)
			if r.hdr.DMaster == db.m.cfg.Self {
				db.completeFetch(f, r)
				return
			}
			if db.m.Generation() == gen {
				db.sendFetch(f, r.hdr.DMaster)
			}
		})
	}
}
