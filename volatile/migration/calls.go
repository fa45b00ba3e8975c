package migration

import (
	"bytes"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// CallFlagFollows marks a REQ_CALL, between rctdb nodes only, that waited
// for a record at its dmaster and is sent on to the node the record was
// just given to: that node can hold it until the record arrives.
const CallFlagFollows uint32 = 0x00010000

// fetch is a call this node sent to become a record's dmaster, with the
// local calls waiting for it.
type fetch struct {
	id      uint64
	key     []byte
	callid  uint32
	flags   uint32
	reqids  []uint32
	sentAt  time.Time
	started time.Time
	local   []Client
}

// runID is the call function run for a client: a read-only request
// fetches the record with its header, as ctdbd turns it into
// FETCH_WITH_HEADER.
func runID(cl Client) uint32 {
	if cl.Readonly {
		return protocol.CallFetchWithHeaderFunc
	}
	return cl.CallID
}

// answerData shapes what runID returned for the client.
func answerData(cl Client, data []byte) []byte {
	if cl.Readonly {
		return ReplyData(cl.CallID, true, data)
	}
	return data
}

// ReplyData shapes the data of a call answered with the record and its
// header (a read-only fetch) for a client that asked with callid: FETCH
// gets the data alone, as ctdbd strips the header it added; a client that
// asked for a read-only copy gets what it asked for.
func ReplyData(callid uint32, readonly bool, withHeader []byte) []byte {
	if callid == protocol.CallFetchFunc && len(withHeader) >= protocol.LtdbHeaderSize {
		return withHeader[protocol.LtdbHeaderSize:]
	}
	if !readonly && callid == protocol.CallNullFunc {
		return nil
	}
	return withHeader
}

// fail answers every local call of f with an error; the fetch is over.
func (c *Core) fail(f *fetch) {
	for _, cl := range f.local {
		c.emit(Answer{Client: cl, Status: -1})
	}
	f.local = nil
}

// localCall runs a client's call: at once if this node is the record's
// dmaster, else by fetching the record. CTDB_WANT_READONLY is honoured on
// READONLY databases only.
func (c *Core) localCall(key []byte, flags uint32, cl Client) {
	if !c.env.Readonly() {
		flags &^= protocol.CallFlagWantReadonly
	}
	cl.Readonly = flags&protocol.CallFlagWantReadonly != 0
	if f := c.inflight[string(key)]; f != nil {
		f.local = append(f.local, cl)
		c.obs.Observe(TallyCollapsed, key, 1)
		return
	}
	r := c.clearRevoked(key)
	if rv := c.revokes[string(key)]; rv != nil {
		c.deferCall(rv, Deferred{Flags: flags, Client: cl})
		return
	}
	if r.Header.DMaster == c.self {
		if !cl.Readonly && r.Header.Flags&roHeld != 0 {
			c.deferCall(c.startRevoke(key), Deferred{Flags: flags, Client: cl})
			return
		}
		data, st := c.runCall(key, runID(cl))
		c.emit(Answer{Client: cl, Status: st, Data: answerData(cl, data)})
		return
	}
	f := &fetch{key: key, callid: protocol.CallNullFunc, flags: flags, started: c.now, local: []Client{cl}}
	if cl.Readonly {
		f.callid = protocol.CallFetchWithHeaderFunc
	}
	c.startFetch(f, r.Header.DMaster)
}

func (c *Core) startFetch(f *fetch, dest uint32) {
	c.fetchSeq++
	f.id = c.fetchSeq
	c.inflight[string(f.key)] = f
	c.obs.Observe(TallyFetch, f.key, 1)
	c.sendFetch(f, dest)
}

// runCall executes a call function on the record this node is dmaster of.
// A missing record is created with its initial header, which only the
// lmaster (the implicit dmaster of a missing record) can reach.
func (c *Core) runCall(key []byte, callid uint32) ([]byte, int32) {
	r := c.cur
	switch callid {
	case protocol.CallNullFunc:
		if !r.Exists {
			c.store(key, r)
		}
		return nil, 0
	case protocol.CallFetchFunc:
		return bytes.Clone(r.Data), 0
	case protocol.CallFetchWithHeaderFunc:
		return r.Encode(), 0
	}
	return nil, -1
}

// sendFetch sends (again) the REQ_CALL of f to dest under a new reqid.
func (c *Core) sendFetch(f *fetch, dest uint32) {
	reqid := c.env.NewReqID()
	c.reqs[reqid] = f
	f.reqids = append(f.reqids, reqid)
	f.sentAt = c.now
	flags := f.flags
	if c.env.Lmaster(f.key) == c.self {
		// The lmaster knows where the record went: the call follows it.
		flags |= CallFlagFollows
	}
	call := protocol.ReqCall{
		Header: protocol.Header{Generation: c.env.Generation(), DestNode: dest, SrcNode: c.self, ReqID: reqid},
		Flags:  flags, DBID: c.dbid, CallID: f.callid, Key: f.key,
	}
	c.obs.Observe(TallyCallSent, f.key, 1)
	c.log.Debug("call sent", "key", HexKey(f.key), "to", dest, "reqid", reqid)
	c.emit(Send{To: dest, Key: f.key, Msg: call.Marshal()})
}

// forget drops every reqid of f.
func (c *Core) forget(f *fetch) {
	for _, id := range f.reqids {
		delete(c.reqs, id)
	}
	c.emit(Forget{ReqIDs: f.reqids})
	f.reqids = nil
}

// nodeCall serves another node's REQ_CALL: this node either hands the
// record over, redirects the call, or keeps it until the record it is
// waiting for arrives.
func (c *Core) nodeCall(call protocol.ReqCall) {
	if c.stale(call.Generation) {
		return
	}
	key := call.Key
	f := c.inflight[string(key)]
	if call.SrcNode == c.self {
		// Our own call, redirected back to us.
		if f == nil {
			return // answered meanwhile
		}
		r := c.cur
		switch l := c.env.Lmaster(key); {
		case r.Header.DMaster == c.self:
			c.completeFetch(f)
		case l == c.self:
			// As lmaster we know where the record went after the node we
			// asked handed it on: follow it there, where it is held if
			// the record has not arrived yet (see below).
			call.Flags |= CallFlagFollows
			c.forward(call, r.Header.DMaster)
		default:
			// The lmaster sent it here, so it last knew the record here:
			// a record it passed to us would have arrived before this
			// call, on the same link. We have handed the record on since,
			// and our notice (or REQ_DMASTER) saying so is ahead of this
			// call on our link to the lmaster, which will know better.
			c.forward(call, l)
		}
		return
	}
	// A node with a fetch of its own in flight holds a request only if
	// the request followed the record here (CallFlagFollows: its sender
	// gave the record here, or is the lmaster and learned that it went
	// here, perhaps from a notice that overtook the record): otherwise it
	// cannot know the record is coming (its own request may be waiting
	// elsewhere), and two such nodes could wait for each other.
	r := c.clearRevoked(key)
	if rv := c.revokes[string(key)]; rv != nil {
		c.deferCall(rv, Deferred{Flags: call.Flags, Node: &call})
		return
	}
	if r.Header.DMaster != c.self {
		switch {
		case call.Flags&CallFlagFollows != 0 && f != nil:
			c.waiting[string(key)] = append(c.waiting[string(key)], call)
			c.obs.Observe(TallyDeferred, key, 1)
		case call.Flags&CallFlagFollows != 0:
			// The record moved on from here too: follow it.
			c.forward(call, r.Header.DMaster)
		default:
			dest := c.env.Lmaster(key)
			if dest == c.self {
				// As lmaster: where the record went. A notice can arrive
				// before the record does, so the call follows it there,
				// to be held until it arrives rather than bounced back.
				dest = r.Header.DMaster
				call.Flags |= CallFlagFollows
			}
			c.forward(call, dest)
		}
		return
	}
	if c.hold(key, call) {
		return
	}
	c.serveNode(key, call)
}

// serveNode answers another node's call for a record this node is
// dmaster of and nobody waits for: a read-only copy if it asks for one,
// else the record, once its read-only copies are revoked.
func (c *Core) serveNode(key []byte, call protocol.ReqCall) {
	if c.wantsReadonly(&call) {
		c.delegate(key, &call)
		return
	}
	if c.cur.Header.Flags&roHeld != 0 {
		c.deferCall(c.startRevoke(key), Deferred{Flags: call.Flags, Node: &call})
		return
	}
	c.obs.Observe(TallyServed, key, float64(call.HopCount))
	c.giveRecord(key, call.SrcNode, call.ReqID)
}

// forward redirects a call one hop further, keeping its requester and reqid.
func (c *Core) forward(call protocol.ReqCall, dest uint32) {
	call.HopCount++
	c.obs.Observe(TallyRedirect, call.Key, float64(call.HopCount))
	if call.HopCount%100 > 95 {
		c.log.Warn("high hopcount", "hops", call.HopCount, "key", HexKey(call.Key), "requester", call.SrcNode)
	}
	call.Header.DestNode = dest
	c.log.Debug("call redirected", "key", HexKey(call.Key), "requester", call.SrcNode, "reqid", call.ReqID, "to", dest, "hops", call.HopCount)
	c.emit(Send{To: dest, Key: call.Key, Msg: call.Marshal()})
}

// RecFlagNotice marks a REQ_DMASTER, between rctdb nodes only, that tells
// the lmaster where a record went: the dmaster sent the record to its new
// dmaster itself. It never reaches a file.
const RecFlagNotice uint32 = 0x00800000

// giveRecord hands the record this node is dmaster of to requester. When
// this node or the requester is the lmaster, the record goes to the
// requester directly or through the lmaster, as in CTDB. Otherwise it goes
// to the requester directly (REPLY_DMASTER) after a notice to the lmaster
// (REQ_DMASTER with RecFlagNotice), so a migration takes three hops, not
// four: the lmaster learns the new dmaster on the side. The notice leaves
// first and the record only if the notice did, so the lmaster never names
// a dmaster older than the one this node knows of.
func (c *Core) giveRecord(key []byte, requester, reqid uint32) {
	r := c.cur
	flags := r.Header.Flags &^ (protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated | protocol.RecFlagsRO)
	if len(r.Data) > 0 {
		flags |= protocol.RecFlagMigratedWithData
	}
	h := protocol.LtdbHeader{RSN: r.Header.RSN, DMaster: requester, Flags: flags}
	c.store(key, Record{Header: h, Data: r.Data})
	c.obs.Observe(TallyMigratedOut, key, 1)
	l := c.env.Lmaster(key)
	c.log.Debug("record given", "key", HexKey(key), "to", requester, "reqid", reqid, "rsn", h.RSN, "lmaster", l)
	hdr := protocol.Header{Generation: c.env.Generation(), SrcNode: c.self, ReqID: reqid}
	reply := func() []byte {
		hdr.DestNode = requester
		return (&protocol.ReplyDMaster{Header: hdr, DBID: c.dbid, RSN: h.RSN, Key: key, Data: r.Data, RecordFlags: flags}).Marshal()
	}
	request := func(to, rflags uint32) []byte {
		hdr.DestNode = to
		return (&protocol.ReqDMaster{Header: hdr, DBID: c.dbid, RSN: h.RSN, DMaster: requester, Key: key, Data: r.Data, RecordFlags: rflags}).Marshal()
	}
	switch l {
	case c.self:
		c.emit(Send{To: requester, Key: key, Msg: reply(), Unsent: &r})
	case requester:
		c.emit(Send{To: l, Key: key, Msg: request(l, flags), Unsent: &r})
	default:
		notice := request(l, flags|RecFlagNotice)
		c.emit(Send{To: l, Key: key, Msg: notice, Unsent: &r,
			Then: &Send{To: requester, Key: key, Msg: reply(), Unsent: &r}})
	}
}

// keepUnsent makes this node the dmaster of a record it could not send on
// (no link to the node), rather than leave the cluster pointing at a node
// that never got it; the requester's call, sent again, finds it here. If
// the lmaster was told of the hand-over already, it is told again: the
// newer rsn of this store overrides the notice.
func (c *Core) keepUnsent(key []byte, r Record, to uint32) {
	r.Header.DMaster = c.self
	c.store(key, r)
	c.log.Warn("record kept: it could not be sent on", "key", HexKey(key), "to", to)
	if l := c.env.Lmaster(key); l != c.self && l != to {
		cur := c.cur
		n := protocol.ReqDMaster{
			Header: protocol.Header{Generation: c.env.Generation(), DestNode: l, SrcNode: c.self},
			DBID:   c.dbid, RSN: cur.Header.RSN, DMaster: c.self, Key: key, Data: cur.Data,
			RecordFlags: cur.Header.Flags | RecFlagNotice,
		}
		c.emit(Send{To: l, Key: key, Msg: n.Marshal()})
	}
}

// dmasterRequest is the lmaster's part of a migration: it records the new
// dmaster and passes the record on.
func (c *Core) dmasterRequest(p protocol.ReqDMaster) {
	if c.stale(p.Generation) {
		return
	}
	key := p.Key
	if l := c.env.Lmaster(key); l != c.self {
		c.log.Error("REQ_DMASTER for a key this node is not the lmaster of", "lmaster", l, "from", p.SrcNode)
		return
	}
	cur := c.cur
	if p.RecordFlags&RecFlagNotice != 0 {
		c.notice(p)
		return
	}
	if cur.Header.DMaster != p.SrcNode && !(cur.Header.RSN == 0 && cur.Header.DMaster == c.self) {
		if p.RSN < cur.Header.RSN {
			// ctdbd would force a recovery: this lmaster knows of a newer
			// dmaster than the one handing the record over.
			c.obs.Observe(TallyInconsistent, key, 1)
			c.log.Warn("REQ_DMASTER from a node this lmaster does not know as dmaster",
				"from", p.SrcNode, "known", cur.Header.DMaster, "rsn", p.RSN, "known_rsn", cur.Header.RSN)
			return
		}
		// A hand-over whose notices are still on their way here (they
		// travel on other links): the newer rsn wins.
		c.log.Debug("REQ_DMASTER overtook a notice", "from", p.SrcNode, "known", cur.Header.DMaster, "rsn", p.RSN, "known_rsn", cur.Header.RSN)
	}
	h := protocol.LtdbHeader{RSN: p.RSN, DMaster: p.DMaster, Flags: p.RecordFlags}
	c.log.Debug("lmaster passes record on", "key", HexKey(key), "from", p.SrcNode, "to", p.DMaster, "reqid", p.ReqID)
	if p.DMaster == c.self {
		c.becomeDMaster(key, h, p.Data, p.ReqID)
		return
	}
	c.store(key, Record{Header: h, Data: p.Data})
	rep := protocol.ReplyDMaster{
		Header: protocol.Header{Generation: c.env.Generation(), DestNode: p.DMaster, SrcNode: c.self, ReqID: p.ReqID},
		DBID:   c.dbid, RSN: p.RSN, Key: key, Data: p.Data, RecordFlags: p.RecordFlags,
	}
	c.emit(Send{To: p.DMaster, Key: key, Msg: rep.Marshal(), Unsent: &Record{Header: h, Data: p.Data}})
}

// notice records what a dmaster's notice says: the record went to
// p.DMaster. Notices of one record travel on different links, so they can
// arrive out of order; the rsn grows with every migration (its receiver
// stores it with a new rsn), so a notice is taken only if its rsn is
// newer than what this lmaster knows, or equal and from the node it names
// (the first hand-over after a recovery, which wrote one rsn everywhere).
func (c *Core) notice(p protocol.ReqDMaster) {
	cur := c.cur
	if p.DMaster == c.self {
		// A hand-over to the lmaster goes through it, never with a notice:
		// taking this one would make a second dmaster.
		c.log.Error("notice names this lmaster as the new dmaster; dropped", "key", HexKey(p.Key), "from", p.SrcNode)
		return
	}
	newer := p.RSN > cur.Header.RSN ||
		(p.RSN == cur.Header.RSN && cur.Header.DMaster == p.SrcNode) ||
		(cur.Header.RSN == 0 && cur.Header.DMaster == c.self)
	if !newer {
		c.obs.Observe(TallyOldNotice, p.Key, 1)
		c.log.Debug("older notice dropped", "key", HexKey(p.Key), "from", p.SrcNode, "rsn", p.RSN, "known_rsn", cur.Header.RSN)
		return
	}
	h := protocol.LtdbHeader{RSN: p.RSN, DMaster: p.DMaster, Flags: p.RecordFlags &^ RecFlagNotice}
	c.log.Debug("lmaster noted a hand-over", "key", HexKey(p.Key), "from", p.SrcNode, "to", p.DMaster, "rsn", p.RSN)
	c.store(p.Key, Record{Header: h, Data: p.Data})
}

// becomeDMaster stores a record that arrived for this node and finishes the
// fetch it was for. The record is stored even if no fetch waits for it.
func (c *Core) becomeDMaster(key []byte, h protocol.LtdbHeader, data []byte, reqid uint32) {
	h.DMaster = c.self
	f := c.reqs[reqid]
	ours := f != nil && bytes.Equal(f.key, key)
	if ours && f.flags&protocol.CallFlagVacuumMigration != 0 {
		// For store only: an empty record vacuuming brought that never
		// travelled with data is deleted on arrival.
		h.Flags |= protocol.RecFlagVacuumMigrated
	}
	c.store(key, Record{Header: h, Data: data})
	c.obs.Observe(TallyMigratedIn, key, 1)
	if !ours {
		c.log.Debug("became dmaster; no call waited", "key", HexKey(key), "reqid", reqid)
		return
	}
	c.log.Debug("became dmaster", "key", HexKey(key), "reqid", reqid, "local", len(f.local))
	c.completeFetch(f)
}

// completeFetch answers the local calls of f on the record now here and
// pins the record briefly, so that those clients can take it before other
// nodes' requests move it on.
func (c *Core) completeFetch(f *fetch) {
	delete(c.inflight, string(f.key))
	c.forget(f)
	c.obs.Observe(TallyFetchDone, f.key, c.now.Sub(f.started).Seconds())
	for _, cl := range f.local {
		data, st := c.runCall(f.key, runID(cl))
		c.emit(Answer{Client: cl, Status: st, Data: answerData(cl, data)})
	}
	if len(f.local) > 0 && c.pin > 0 {
		p := pin{until: c.now.Add(c.pin)}
		if len(f.local) == 1 {
			p.seen, p.single = c.cur, true
		}
		c.pins[string(f.key)] = p
	}
	f.local = nil
	if len(c.waiting[string(f.key)]) > 0 {
		// Requests that followed the record here wait for the clients'
		// turn (the pin watch).
		c.watch(f.key)
	}
}

// callReply finishes a fetch another node answered by running the call
// itself: a read-only copy, stored here if it is newer than this node's
// copy (ctdbd never answers other calls of other nodes so, but the
// protocol allows it).
func (c *Core) callReply(r protocol.ReplyCall) {
	if c.stale(r.Generation) {
		return
	}
	f := c.reqs[r.ReqID]
	if f == nil {
		return
	}
	withHeader := f.callid == protocol.CallFetchWithHeaderFunc
	if withHeader && f.flags&protocol.CallFlagWantReadonly != 0 {
		c.storeReadonlyCopy(f.key, r.Data)
	}
	delete(c.inflight, string(f.key))
	c.forget(f)
	for _, cl := range f.local {
		d := bytes.Clone(r.Data)
		if withHeader {
			d = ReplyData(cl.CallID, cl.Readonly, d)
		}
		c.emit(Answer{Client: cl, Status: r.Status, Data: d})
	}
}

// callError fails a fetch another node refused.
func (c *Core) callError(e CallError) {
	f := c.reqs[e.ReqID]
	if f == nil || c.inflight[string(f.key)] != f {
		return
	}
	c.log.Warn("call failed on another node", "from", e.From, "err", e.Msg)
	delete(c.inflight, string(f.key))
	c.forget(f)
	c.fail(f)
}

// resend sends a fetch again, or finishes it if the record arrived.
func (c *Core) resend(e Resend) {
	f := c.inflight[string(e.Fetch.Key)]
	if f == nil || f.id != e.Fetch.ID {
		return
	}
	c.obs.Observe(TallyResent, f.key, 1)
	if c.cur.Header.DMaster == c.self {
		c.completeFetch(f)
		return
	}
	if c.env.Generation() == e.Gen {
		c.sendFetch(f, c.cur.Header.DMaster)
	}
}

// vacuumFetch migrates a record here for vacuuming; the record must be in
// the file, elsewhere and not on its way.
func (c *Core) vacuumFetch(key []byte, cl Client) {
	if !c.cur.Exists || c.cur.Header.DMaster == c.self || c.inflight[string(key)] != nil {
		return
	}
	// FetchFunc, not NullFunc, for the local end: it must not create the
	// record if it arrives empty and is deleted.
	cl.CallID = protocol.CallFetchFunc
	f := &fetch{key: key, callid: protocol.CallNullFunc, started: c.now, local: []Client{cl},
		flags: protocol.CallFlagImmediateMigration | protocol.CallFlagVacuumMigration}
	c.startFetch(f, c.cur.Header.DMaster)
}
