package server

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile"
)

// ctrlScheduleForDeletion queues a record a client emptied for vacuuming.
func (n *Node) ctrlScheduleForDeletion(ctx context.Context, r *controlReq) reply {
	var kd protocol.KeyData
	if err := kd.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	if len(r.Data) != 36+len(kd.Key) {
		return fail("SCHEDULE_FOR_DELETION: %d bytes for a %d-byte key", len(r.Data), len(kd.Key))
	}
	db := n.vol.DB(kd.DBID)
	if db == nil {
		return fail("unknown database 0x%08x", kd.DBID)
	}
	db.ScheduleForDeletion(append([]byte(nil), kd.Key...), kd.Header)
	return status(0)
}

// ctrlTryDeleteRecords deletes this node's copies of records their lmaster
// deletes and answers with those it kept.
func (n *Node) ctrlTryDeleteRecords(ctx context.Context, r *controlReq) reply {
	db, rb, rep, found := n.recBufferDB(r)
	if !found {
		return rep
	}
	kept := protocol.RecBuffer{DBID: rb.DBID, Records: db.TryDeleteRecords(rb.Records)}
	return ok(kept.Marshal())
}

// ctrlVacuumFetch takes over records another node wants deleted.
func (n *Node) ctrlVacuumFetch(ctx context.Context, r *controlReq) reply {
	db, rb, rep, found := n.recBufferDB(r)
	if !found {
		return rep
	}
	db.VacuumFetch(rb.Records)
	return status(0)
}

// ctrlDBVacuum runs a vacuum pass now (DB_VACUUM).
func (n *Node) ctrlDBVacuum(ctx context.Context, r *controlReq) reply {
	var v protocol.DBVacuum
	if err := v.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	db := n.vol.DB(v.DBID)
	if db == nil {
		return fail("unknown database 0x%08x", v.DBID)
	}
	n.vol.VacuumDB(db, v.FullVacuumRun)
	return status(0)
}

// ctrlTCPClient records an SMB connection to one of this node's addresses
// (TCP_CLIENT), for the failover work to tickle after an address moves.
func (n *Node) ctrlTCPClient(ctx context.Context, r *controlReq) reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.tickles.add(r.client, c)
	return status(0)
}

// ctrlTCPAdd and ctrlTCPRemove record connections other nodes learnt of.
func (n *Node) ctrlTCPAdd(ctx context.Context, r *controlReq) reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.tickles.add(nil, c)
	return status(0)
}

func (n *Node) ctrlTCPRemove(ctx context.Context, r *controlReq) reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.tickles.remove(c)
	return status(0)
}

// ctrlGetTCPTickleList lists the client connections registered (TCP_CLIENT,
// TCP_ADD) to an address; the failover work sends tickle ACKs for them.
func (n *Node) ctrlGetTCPTickleList(ctx context.Context, r *controlReq) reply {
	sa, err := protocol.DecodeSockAddr(r.Data)
	if err != nil {
		return failErr(err)
	}
	tl := protocol.TickleList{Addr: sa, Conns: n.tickles.list(sa.Addr)}
	return ok(tl.Marshal())
}

// recBufferDB decodes a control's record buffer and finds its database.
func (n *Node) recBufferDB(r *controlReq) (*volatile.DB, protocol.RecBuffer, reply, bool) {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(r.Data); err != nil {
		return nil, rb, failErr(err), false
	}
	db := n.vol.DB(rb.DBID)
	if db == nil {
		return nil, rb, fail("unknown database 0x%08x", rb.DBID), false
	}
	return db, rb, reply{}, true
}
