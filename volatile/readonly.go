package volatile

import (
	"context"
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
// recovery strips the read-only flags of every copy (see recoveryplan.go)
// and forgets delegations and revocations.

// revokeRetryDelay is how long read-only requests (and all requests, after
// a failed revocation) wait once a revocation ends, as in ctdbd.
const revokeRetryDelay = time.Second

// revokeTimeout bounds the UPDATE_RECORD of a revocation (ctdbd uses its
// ControlTimeout, 60 s; a holder that does not answer is lost anyway).
const revokeTimeout = 30 * time.Second

// roHeld are the record flags that make a write on the dmaster revoke
// first.
const roHeld = protocol.RecFlagROHaveDelegations | protocol.RecFlagROHaveReadonly

// revocation is a revocation in progress and the calls waiting for it.
type revocation struct {
	deferred []deferredCall
}

// deferredCall is a call waiting for a revocation; rerun runs it again
// (db.mu held).
type deferredCall struct {
	readonly bool
	rerun    func()
}

// readonly reports whether the database hands out read-only copies.
// db.mu must be held.
func (db *DB) readonly() bool { return db.flags&protocol.DBFlagReadonly != 0 }

// clearRevoked ends a completed revocation on the next access to the
// record: the read-only flags go and the store bumps the rsn, as ctdbd
// does. It returns the record as it is now. The chain must be held.
func (db *DB) clearRevoked(key []byte, r record) record {
	if r.hdr.Flags&protocol.RecFlagRORevokeComplete == 0 {
		return r
	}
	r.hdr.Flags &^= protocol.RecFlagsRO
	db.storeRecord(key, r)
	delete(db.delegates, string(key))
	db.stats.roRevokes++
	db.m.stats.roRevoke()
	return db.fetchRecord(key)
}

// deferCall adds a call to those waiting for revocation rv.
func (db *DB) deferCall(rv *revocation, dc deferredCall) {
	rv.deferred = append(rv.deferred, dc)
	db.m.met.deferred.Inc()
}

// deferLocal makes a client's call wait for the revocation of key.
func (db *DB) deferLocal(rv *revocation, key []byte, flags uint32, lc localCall) {
	db.deferCall(rv, deferredCall{
		readonly: flags&protocol.CallFlagWantReadonly != 0,
		rerun: func() {
			db.withChain(key, func() { db.clientCallLocked(key, flags, lc) })
		},
	})
}

// deferRemote makes another node's call wait for the revocation of key;
// when it runs again in another generation it is dropped (its sender sends
// it again after the recovery).
func (db *DB) deferRemote(rv *revocation, key []byte, c protocol.ReqCall, pkt []byte) {
	m := db.m
	db.deferCall(rv, deferredCall{
		readonly: c.Flags&protocol.CallFlagWantReadonly != 0,
		rerun: func() {
			db.withChain(key, func() {
				if c.Generation != m.Generation() {
					m.met.staleDropped.Inc()
					return
				}
				db.remoteCallLocked(key, &c, pkt)
			})
		},
	})
}

// wantsReadonly reports whether another node's call asks for a read-only
// copy this node can give: the database is READONLY and the call fetches
// with the header (the requesting daemon turns every read-only request
// into FETCH_WITH_HEADER).
func (db *DB) wantsReadonly(c *protocol.ReqCall) bool {
	return c.Flags&protocol.CallFlagWantReadonly != 0 && db.readonly() && c.CallID == protocol.CallFetchWithHeaderFunc
}

// delegate hands requester a read-only copy of a record this node is
// dmaster of. The chain is held.
func (db *DB) delegate(key []byte, r record, c *protocol.ReqCall) {
	m := db.m
	r.hdr.Flags &^= protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated
	if r.hdr.Flags&protocol.RecFlagROHaveDelegations == 0 {
		r.hdr.RSN += 3
		r.hdr.Flags |= protocol.RecFlagROHaveDelegations
		db.storeRecord(key, r) // read-only flags: the rsn stays
	}
	k := string(key)
	if !slices.Contains(db.delegates[k], c.SrcNode) {
		db.delegates[k] = append(db.delegates[k], c.SrcNode)
	}
	h := r.hdr
	h.RSN -= 2
	h.Flags = h.Flags&^protocol.RecFlagsRO | protocol.RecFlagROHaveReadonly
	m.stats.hop(c.HopCount)
	db.stats.hop(c.HopCount)
	db.stats.roDelegations++
	m.stats.roDelegation()
	m.met.delegations.Inc()
	db.log.Debug("read-only copy given", "key", hexKey(key), "to", c.SrcNode, "reqid", c.ReqID, "rsn", h.RSN)
	rep := protocol.ReplyCall{
		Header: protocol.Header{Generation: m.Generation(), DestNode: c.SrcNode, SrcNode: m.cfg.Self, ReqID: c.ReqID},
		Data:   (&record{hdr: h, data: r.data}).encode(),
	}
	m.send(c.SrcNode, rep.Marshal())
}

// startRevoke marks a record this node is dmaster of REVOKING and starts
// invalidating its read-only copies. The chain is held.
func (db *DB) startRevoke(key []byte, r record) *revocation {
	m := db.m
	k := string(key)
	r.hdr.Flags &^= protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated
	r.hdr.Flags |= protocol.RecFlagRORevokingReadonly
	db.storeRecord(key, r)
	upd := r.hdr
	upd.Flags = (upd.Flags &^ (protocol.RecFlagRORevokingReadonly | roHeld)) | protocol.RecFlagMigratedWithData
	upd.RSN--
	rec := protocol.RecData{Key: append([]byte(nil), key...), Data: (&record{hdr: upd, data: r.data}).encode()}
	holders := slices.DeleteFunc(slices.Clone(db.delegates[k]), func(p uint32) bool { return p == m.cfg.Self })
	rv := &revocation{}
	db.revokes[k] = rv
	m.met.revokes.Inc()
	db.log.Debug("revoking read-only copies", "key", hexKey(key), "holders", holders)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ok := m.revokeCopies(db, holders, rec)
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.closed || db.revokes[k] != rv {
			return // a recovery took over
		}
		db.withChain(rec.Key, func() { db.finishRevoke(rec.Key, rv, ok) })
	}()
	return rv
}

// revokeCopies replaces every holder's read-only copy with rec; false if a
// holder did not take it.
func (m *Manager) revokeCopies(db *DB, holders []uint32, rec protocol.RecData) bool {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req := (&protocol.RecBuffer{DBID: db.ID, Records: []protocol.RecData{rec}}).Marshal()
	ok := true
	for _, p := range holders {
		if _, err := m.rpc.Call(ctx, p, uint32(protocol.ControlUpdateRecord), req); err != nil {
			db.log.Info("revoking a read-only copy failed; trying again", "pnn", p, "key", hexKey(rec.Key), "err", err)
			ok = false
		}
	}
	return ok
}

// finishRevoke ends a revocation: the record is marked REVOKE_COMPLETE
// (or loses REVOKING, to be revoked again, if a holder failed) and the
// calls that waited run again. The chain is held.
func (db *DB) finishRevoke(key []byte, rv *revocation, ok bool) {
	if db.revokes[string(key)] != rv {
		return
	}
	delete(db.revokes, string(key))
	r := db.fetchRecord(key)
	const want = protocol.RecFlagRORevokingReadonly | protocol.RecFlagROHaveDelegations
	if r.exists && r.hdr.DMaster == db.m.cfg.Self && r.hdr.Flags&want == want {
		if ok {
			r.hdr.RSN++
			r.hdr.Flags |= protocol.RecFlagRORevokeComplete
		} else {
			r.hdr.Flags &^= protocol.RecFlagRORevokingReadonly
		}
		db.storeRecord(key, r)
	} else {
		db.log.Warn("revocation ended on a record that changed meanwhile", "key", hexKey(key), "flags", r.hdr.Flags)
	}
	var now, later []deferredCall
	for _, dc := range rv.deferred {
		if ok && !dc.readonly {
			now = append(now, dc)
		} else {
			later = append(later, dc)
		}
	}
	for _, dc := range now {
		dc.rerun()
	}
	db.rerunLater(later)
}

// rerunLater runs calls again after revokeRetryDelay.
func (db *DB) rerunLater(calls []deferredCall) {
	if len(calls) == 0 {
		return
	}
	time.AfterFunc(revokeRetryDelay, func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.closed {
			return
		}
		for _, dc := range calls {
			dc.rerun()
		}
	})
}

// dropDelegations forgets delegations and revocations when a recovery
// starts: the recovery strips the read-only flags of every copy. Calls
// that waited for a revocation run again (they queue behind the freeze;
// other nodes' calls of the old generation are then dropped). db.mu held.
func (db *DB) dropDelegations() {
	clear(db.delegates)
	revokes := db.revokes
	db.revokes = make(map[string]*revocation)
	for _, rv := range revokes {
		for _, dc := range rv.deferred {
			dc.rerun()
		}
	}
}

// storeReadonlyCopy stores the read-only copy a dmaster sent if it is newer
// than this node's copy. The chain is held.
func (db *DB) storeReadonlyCopy(key []byte, v []byte) {
	r, ok := parseRecord(v)
	if !ok || r.hdr.Flags&protocol.RecFlagROHaveReadonly == 0 {
		return
	}
	if cur := db.fetchRecord(key); r.hdr.RSN <= cur.hdr.RSN {
		return
	}
	db.storeRecord(key, record{hdr: r.hdr, data: append([]byte(nil), r.data...)})
}

// replyData shapes the data of a call answered with the record and its
// header (a read-only fetch) for a client that asked with callid: FETCH
// gets the data alone, as ctdbd strips the header it added; a client that
// asked for a read-only copy gets what it asked for.
func replyData(callid uint32, readonly bool, withHeader []byte) []byte {
	if callid == protocol.CallFetchFunc && len(withHeader) >= protocol.LtdbHeaderSize {
		return withHeader[protocol.LtdbHeaderSize:]
	}
	if !readonly && callid == protocol.CallNullFunc {
		return nil
	}
	return withHeader
}
