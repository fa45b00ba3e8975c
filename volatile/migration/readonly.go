package migration

import (
	"bytes"
	"slices"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Read-only delegations, for databases marked READONLY (SET_DB_READONLY).
//
// A node that wants to read a record it is not dmaster of may ask for a
// read-only copy (CTDB_WANT_READONLY). The dmaster D keeps the record,
// marks it HAVE_DELEGATIONS (raising its rsn by 3 the first time), notes
// the requester and answers REPLY_CALL with the record under a header two
// rsns lower, marked HAVE_READONLY; the requester stores that copy, and its
// clients read it locally (Samba reads a record locally when it is dmaster
// or holds HAVE_READONLY).
//
// A call that needs the record itself (a write, a migration) on a record
// with delegations first revokes them: D marks the record REVOKING, sends
// each holder the record under a header one rsn below D's, naming D and
// without read-only flags (UPDATE_RECORD, which replaces existing copies
// only), and when every holder answered marks it REVOKE_COMPLETE; the next
// call on the record clears the read-only flags and proceeds. Calls for
// the record meanwhile wait: when the revocation ends, writes run again at
// once and read-only requests a second later, so that the writer gets the
// record first; if a holder did not answer, all of them run again a second
// later and revoke anew. The rsns keep a copy's rsn below D's, so no
// read-only copy can win a recovery over the record it was made from; a
// recovery strips the read-only flags of every copy and forgets
// delegations and revocations.

// RevokeRetryDelay is how long read-only requests (and all requests, after
// a failed revocation) wait once a revocation ends, as in ctdbd.
const RevokeRetryDelay = time.Second

// roHeld are the record flags that make a write on the dmaster revoke
// first.
const roHeld = protocol.RecFlagROHaveDelegations | protocol.RecFlagROHaveReadonly

// revocation is a revocation in progress and the calls waiting for it.
type revocation struct {
	seq      uint64
	deferred []Deferred
}

// clearRevoked ends a completed revocation on the next access to the
// record: the read-only flags go and the store bumps the rsn, as ctdbd
// does. It returns the record as it is now.
func (c *Core) clearRevoked(key []byte) Record {
	r := c.cur
	if r.Header.Flags&protocol.RecFlagRORevokeComplete == 0 {
		return r
	}
	r.Header.Flags &^= protocol.RecFlagsRO
	c.store(key, r)
	delete(c.delegates, string(key))
	c.obs.Observe(TallyRevoked, key, 1)
	return c.cur
}

// deferCall adds a call to those waiting for revocation rv.
func (c *Core) deferCall(rv *revocation, d Deferred) {
	rv.deferred = append(rv.deferred, d)
	c.obs.Observe(TallyDeferred, nil, 1)
}

// rerun runs a call again that waited for a revocation; another node's
// call of a generation that is over is dropped (its sender sends it again
// after the recovery).
func (c *Core) rerun(key []byte, d Deferred) {
	if d.Node == nil {
		c.localCall(key, d.Flags, d.Client)
		return
	}
	c.nodeCall(*d.Node)
}

// wantsReadonly reports whether another node's call asks for a read-only
// copy this node can give: the database is READONLY and the call fetches
// with the header (the requesting daemon turns every read-only request
// into FETCH_WITH_HEADER).
func (c *Core) wantsReadonly(call *protocol.ReqCall) bool {
	return call.Flags&protocol.CallFlagWantReadonly != 0 && c.env.Readonly() && call.CallID == protocol.CallFetchWithHeaderFunc
}

// delegate hands the caller a read-only copy of the record this node is
// dmaster of.
func (c *Core) delegate(key []byte, call *protocol.ReqCall) {
	r := c.cur
	r.Header.Flags &^= protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated
	if r.Header.Flags&protocol.RecFlagROHaveDelegations == 0 {
		r.Header.RSN += 3
		r.Header.Flags |= protocol.RecFlagROHaveDelegations
		c.store(key, r) // read-only flags: the rsn stays
	}
	k := string(key)
	if !slices.Contains(c.delegates[k], call.SrcNode) {
		c.delegates[k] = append(c.delegates[k], call.SrcNode)
	}
	h := r.Header
	h.RSN -= 2
	h.Flags = h.Flags&^protocol.RecFlagsRO | protocol.RecFlagROHaveReadonly
	c.obs.Observe(TallyDelegated, key, float64(call.HopCount))
	c.log.Debug("read-only copy given", "key", HexKey(key), "to", call.SrcNode, "reqid", call.ReqID, "rsn", h.RSN)
	rep := protocol.ReplyCall{
		Header: protocol.Header{Generation: c.env.Generation(), DestNode: call.SrcNode, SrcNode: c.self, ReqID: call.ReqID},
		Data:   Record{Header: h, Data: r.Data}.Encode(),
	}
	c.emit(Send{To: call.SrcNode, Key: key, Msg: rep.Marshal()})
}

// startRevoke marks the record this node is dmaster of REVOKING and starts
// invalidating its read-only copies.
func (c *Core) startRevoke(key []byte) *revocation {
	k := string(key)
	r := c.cur
	r.Header.Flags &^= protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated
	r.Header.Flags |= protocol.RecFlagRORevokingReadonly
	c.store(key, r)
	upd := r.Header
	upd.Flags = (upd.Flags &^ (protocol.RecFlagRORevokingReadonly | roHeld)) | protocol.RecFlagMigratedWithData
	upd.RSN--
	rec := protocol.RecData{Key: bytes.Clone(key), Data: Record{Header: upd, Data: r.Data}.Encode()}
	holders := slices.DeleteFunc(slices.Clone(c.delegates[k]), func(p uint32) bool { return p == c.self })
	c.revokeSeq++
	rv := &revocation{seq: c.revokeSeq}
	c.revokes[k] = rv
	c.obs.Observe(TallyRevoke, key, 1)
	c.log.Debug("revoking read-only copies", "key", HexKey(key), "holders", holders)
	c.emit(Revoke{Key: rec.Key, Seq: rv.seq, Holders: holders, Update: rec})
	return rv
}

// finishRevoke ends a revocation: the record is marked REVOKE_COMPLETE
// (or loses REVOKING, to be revoked again, if a holder failed) and the
// calls that waited run again.
func (c *Core) finishRevoke(key []byte, seq uint64, ok bool) {
	rv := c.revokes[string(key)]
	if rv == nil || rv.seq != seq {
		return // a recovery took over
	}
	delete(c.revokes, string(key))
	r := c.cur
	const want = protocol.RecFlagRORevokingReadonly | protocol.RecFlagROHaveDelegations
	if r.Exists && r.Header.DMaster == c.self && r.Header.Flags&want == want {
		if ok {
			r.Header.RSN++
			r.Header.Flags |= protocol.RecFlagRORevokeComplete
		} else {
			r.Header.Flags &^= protocol.RecFlagRORevokingReadonly
		}
		c.store(key, r)
	} else {
		c.log.Warn("revocation ended on a record that changed meanwhile", "key", HexKey(key), "flags", r.Header.Flags)
	}
	var later []Deferred
	for _, d := range rv.deferred {
		if ok && !d.readonly() {
			c.rerun(key, d)
		} else {
			later = append(later, d)
		}
	}
	if len(later) > 0 {
		c.emit(Later{Key: key, Delay: RevokeRetryDelay, Calls: later})
	}
}

// recover forgets delegations and revocations when a recovery starts.
func (c *Core) recover() {
	clear(c.delegates)
	for k, rv := range c.revokes {
		if len(rv.deferred) > 0 {
			c.emit(Later{Key: []byte(k), Calls: rv.deferred})
		}
	}
	clear(c.revokes)
}

// storeReadonlyCopy stores the read-only copy a dmaster sent if it is newer
// than this node's copy.
func (c *Core) storeReadonlyCopy(key []byte, v []byte) {
	r, ok := ParseRecord(v)
	if !ok || r.Header.Flags&protocol.RecFlagROHaveReadonly == 0 {
		return
	}
	if r.Header.RSN <= c.cur.Header.RSN {
		return
	}
	c.store(key, Record{Header: r.Header, Data: bytes.Clone(r.Data)})
}
