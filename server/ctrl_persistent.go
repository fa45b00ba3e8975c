package server

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/rctdb/rctdb/persistent"
	"github.com/rctdb/rctdb/protocol"
)

// pdb finds a persistent or replicated database by the u32 db_id that
// starts a request.
func (n *Node) pdb(r *controlReq) *persistent.DB {
	if len(r.Data) < 4 {
		return nil
	}
	return n.pers.DB(le32(r.Data))
}

// ctrlTrans3Commit commits a Samba transaction: one Raft command, answered
// once every active node has applied it. A status other than 0 makes the
// client re-read the sequence number and resend if it did not move, so a
// commit that did land but timed out waiting is not applied twice.
func (n *Node) ctrlTrans3Commit(ctx context.Context, r *controlReq) reply {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	db := n.pers.DB(rb.DBID)
	if db == nil {
		return fail("trans3 commit: 0x%08x is not a persistent database", rb.DBID)
	}
	if r.client != nil && n.election.Inactive() {
		return failErr(errInactive)
	}
	if err := n.committer.Commit(ctx, rb.DBID, r.Data); err != nil {
		n.log.Warn("persistent commit failed", "db", db.Name, "err", err)
		return failErr(err)
	}
	return status(0)
}

// persistentUpdateRecord serves UPDATE_RECORD on a persistent database
// like a transaction commit.
func (n *Node) persistentUpdateRecord(ctx context.Context, db *persistent.DB, r *controlReq) reply {
	if err := n.committer.Commit(ctx, db.ID, r.Data); err != nil {
		return failErr(err)
	}
	return status(0)
}

// pushes collects the records `ctdb restoredb` sends between DB_PUSH_START
// and DB_PUSH_CONFIRM, by database.
type pushes struct {
	// active counts open pushes, so that messages skip the lock when
	// there are none.
	active atomic.Int32

	mu   sync.Mutex
	byDB map[uint32]*push
}

type push struct {
	srvid   uint64
	records []protocol.RecData
	err     error // a malformed buffer fails the confirm
}

// offer takes a message meant for an open push; false if there is none.
// Pushes are told apart by srvid: the tool does not set the buffers'
// db_id reliably.
func (p *pushes) offer(srvid uint64, data []byte) bool {
	if p.active.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.byDB {
		if ps.srvid != srvid {
			continue
		}
		var rb protocol.RecBuffer
		if err := rb.Unmarshal(data); err != nil {
			ps.err = err
		} else {
			ps.records = append(ps.records, rb.Records...)
		}
		return true
	}
	return false
}

func (n *Node) ctrlDBPushStart(ctx context.Context, r *controlReq) reply {
	var pd protocol.PullDBExt
	if err := pd.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	if n.pers.DB(pd.DBID) == nil {
		return fail("push start: 0x%08x is not a persistent database", pd.DBID)
	}
	p := &n.pushes
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byDB == nil {
		p.byDB = make(map[uint32]*push)
	}
	if p.byDB[pd.DBID] == nil {
		p.active.Add(1)
	}
	p.byDB[pd.DBID] = &push{srvid: pd.SrvID}
	return status(0)
}

// ctrlDBPushConfirm replaces the database with the pushed records through
// Raft and answers their count. Every node of the restore commits the same
// records, which is harmless: the second replace changes nothing.
func (n *Node) ctrlDBPushConfirm(ctx context.Context, r *controlReq) reply {
	id := le32(r.Data)
	p := &n.pushes
	p.mu.Lock()
	ps := p.byDB[id]
	if ps != nil {
		delete(p.byDB, id)
		p.active.Add(-1)
	}
	p.mu.Unlock()
	if ps == nil {
		return fail("push confirm: no push open for 0x%08x", id)
	}
	if ps.err != nil {
		return fail("push confirm 0x%08x: %v", id, ps.err)
	}
	if err := n.committer.Restore(ctx, id, ps.records); err != nil {
		return failErr(err)
	}
	return ok(protocol.U32(uint32(len(ps.records))))
}

// persistentWipe serves WIPE_DATABASE on a persistent database.
func (n *Node) persistentWipe(ctx context.Context, db *persistent.DB) reply {
	if err := n.committer.Wipe(ctx, db.ID); err != nil {
		return failErr(err)
	}
	return status(0)
}
