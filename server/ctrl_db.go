package server

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// dbKinds are the flags that make a database persistent or replicated.
const dbKinds = protocol.DBFlagPersistent | protocol.DBFlagReplicated

// attach serves DB_ATTACH: the database is recorded in Raft, so that every
// node attaches it, and opened here before the reply, because the client
// opens the file right after.
func (n *Node) attach(ctx context.Context, r *controlReq, kind uint8) reply {
	name := protocol.ParseCString(r.Data)
	if name == "" {
		return fail("attach: empty database name")
	}
	if n.tunables().AllowClientDBAttach == 0 && r.client != nil {
		return fail("attach %q: AllowClientDBAttach is 0", name)
	}
	if r.client != nil && n.election.Inactive() {
		return failErr(errInactive)
	}
	id := protocol.DBID(name)
	st, _ := n.raft.Current()
	if db, ok := st.DBs[id]; ok {
		if db.Name != name {
			return fail("attach %q: database id 0x%08x is taken by %q", name, id, db.Name)
		}
		if db.Flags&dbKinds != kind {
			return fail("attach %q: database is attached with flags 0x%x", name, db.Flags)
		}
	} else if err := n.commit(ctx, &raftlayer.CmdAttachDB{Name: name, Flags: kind}); err != nil {
		return failErr(fmt.Errorf("attach %q: %w", name, err))
	}
	var err error
	tun := n.tunables()
	if kind == 0 {
		_, err = n.vol.Ensure(id, volatile.DBSpec{Name: name, HashSize: int(tun.DatabaseHashSize), LockWaiters: int(tun.LockProcessesPerDB)})
	} else {
		_, err = n.pers.Ensure(id, name, kind == protocol.DBFlagReplicated, int(tun.DatabaseHashSize))
	}
	if err != nil {
		return failErr(err)
	}
	return ok(protocol.U32(id))
}

func (n *Node) ctrlDBAttach(ctx context.Context, r *controlReq) reply { return n.attach(ctx, r, 0) }

func (n *Node) ctrlDBAttachPersistent(ctx context.Context, r *controlReq) reply {
	return n.attach(ctx, r, protocol.DBFlagPersistent)
}

func (n *Node) ctrlDBAttachReplicated(ctx context.Context, r *controlReq) reply {
	return n.attach(ctx, r, protocol.DBFlagReplicated)
}

// db finds the database named by a u32 db_id request.
func (n *Node) db(r *controlReq) (*volatile.DB, reply, bool) {
	id := le32(r.Data)
	db := n.vol.DB(id)
	if db == nil {
		return nil, fail("unknown database 0x%08x", id), false
	}
	return db, reply{}, true
}

func (n *Node) ctrlGetDBPath(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return ok(protocol.CString(p.Path))
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	return ok(protocol.CString(db.Path))
}

func (n *Node) ctrlGetDBName(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return ok(protocol.CString(p.Name))
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	return ok(protocol.CString(db.Name))
}

func (n *Node) ctrlDBOpenFlags(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return ok(protocol.U32(uint32(p.OpenFlags())))
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	return ok(protocol.U32(uint32(db.OpenFlags())))
}

// ctrlDBGetHealth answers healthy (no reason) for every volatile database;
// a persistent one is unhealthy after a local write failed.
func (n *Node) ctrlDBGetHealth(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		if h := p.Health(); h != "" {
			return ok(protocol.CString(h))
		}
		return ok(nil)
	}
	if _, rep, found := n.db(r); !found {
		return rep
	}
	return ok(nil)
}

func (n *Node) ctrlGetDBMap(ctx context.Context, r *controlReq) reply {
	st, _ := n.raft.Current()
	var m protocol.DBMap
	// Most recently attached first, as ctdbd lists them.
	for i := len(st.DBOrder) - 1; i >= 0; i-- {
		id := st.DBOrder[i]
		flags := st.DBs[id].Flags
		if db := n.vol.DB(id); db != nil {
			flags |= db.Flags()
		}
		m.DBs = append(m.DBs, protocol.DBInfo{DBID: id, Flags: flags})
	}
	return ok(m.Marshal())
}

func (n *Node) ctrlEnableSeqnum(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		p.EnableSeqnum()
		return status(0)
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	db.EnableSeqnum()
	return status(0)
}

// ctrlUpdateSeqnum bumps the local sequence number for a change on another
// node.
func (n *Node) ctrlUpdateSeqnum(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return status(0) // every node writes its own file
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	if r.from != n.self {
		db.BumpSeqnum()
	}
	return status(0)
}

func (n *Node) ctrlGetDBSeqnum(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return ok(protocol.U64(p.Seqnum()))
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	return ok(protocol.U64(db.SeqnumRecord()))
}

func (n *Node) ctrlWipeDatabase(ctx context.Context, r *controlReq) reply {
	var t protocol.TransDB
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	if p := n.pers.DB(t.DBID); p != nil {
		return n.persistentWipe(ctx, p)
	}
	db := n.vol.DB(t.DBID)
	if db == nil {
		return fail("unknown database 0x%08x", t.DBID)
	}
	if err := db.Wipe(); err != nil {
		return failErr(err)
	}
	return status(0)
}

// ctrlSetDBFlag serves SET_DB_READONLY and SET_DB_STICKY: the flag is set
// cluster-wide through Raft (read-only delegations are not granted, so
// READONLY only shows in the dbmap).
func (n *Node) ctrlSetDBFlag(flag uint8) func(context.Context, *controlReq) reply {
	return func(ctx context.Context, r *controlReq) reply {
		if p := n.pdb(r); p != nil {
			return fail("cannot set flag 0x%x on persistent database %s", flag, p.Name)
		}
		db, rep, found := n.db(r)
		if !found {
			return rep
		}
		if db.Flags()&flag != 0 {
			return status(0)
		}
		if err := n.commit(ctx, &raftlayer.CmdSetDBFlags{ID: db.ID, Set: flag}); err != nil {
			return failErr(err)
		}
		return status(0)
	}
}

// ctrlDBDetach detaches a database cluster-wide; ctdbd allows it only when
// clients may not attach (AllowClientDBAttach = 0).
func (n *Node) ctrlDBDetach(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return fail("detach %s: persistent databases cannot be detached", p.Name)
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	if n.tunables().AllowClientDBAttach != 0 {
		return fail("detach %s: set AllowClientDBAttach to 0 first", db.Name)
	}
	if err := n.commit(ctx, &raftlayer.CmdDetachDB{ID: db.ID}); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) ctrlUpdateRecord(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		return n.persistentUpdateRecord(ctx, p, r)
	}
	db, rb, rep, found := n.recBufferDB(r)
	if !found {
		return rep
	}
	if err := db.UpdateRecords(rb.Records); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) ctrlGetDBStatistics(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		var st protocol.DBStatistics
		return ok(st.Marshal())
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	st := db.Statistics()
	return ok(st.Marshal())
}

// tunables are the cluster-wide tunables as applied here.
func (n *Node) tunables() *protocol.TunableValues {
	st, _ := n.raft.Current()
	return st.Tunable()
}

// ctrlDBFreeze freezes a database (waits for every chain lock to be let go).
func (n *Node) ctrlDBFreeze(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		p.SetFrozen(true) // commits wait; Raft needs no lock on the file
		return status(0)
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	if err := db.Freeze(ctx); err != nil {
		return failErr(err)
	}
	return status(0)
}

// ctrlDBThaw thaws a database frozen by DB_FREEZE; during a recovery the
// databases stay frozen until the cluster ends it.
func (n *Node) ctrlDBThaw(ctx context.Context, r *controlReq) reply {
	if p := n.pdb(r); p != nil {
		p.SetFrozen(false)
		return status(0)
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	if n.vol.Recovering() {
		return fail("thaw %s: a recovery is in progress", db.Name)
	}
	if err := db.Thaw(); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) transDB(r *controlReq) (*volatile.DB, reply, bool) {
	var t protocol.TransDB
	if err := t.Unmarshal(r.Data); err != nil {
		return nil, failErr(err), false
	}
	db := n.vol.DB(t.DBID)
	if db == nil {
		return nil, fail("unknown database 0x%08x", t.DBID), false
	}
	return db, reply{}, true
}

// The DB_TRANSACTION controls bracket the tool's wipedb and restoredb; on
// a persistent database each step is its own Raft command, so they have
// nothing to do.

func (n *Node) ctrlDBTransactionStart(ctx context.Context, r *controlReq) reply {
	if n.pdb(r) != nil {
		return status(0)
	}
	db, rep, found := n.transDB(r)
	if !found {
		return rep
	}
	if err := db.TransactionStart(); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) ctrlDBTransactionCommit(ctx context.Context, r *controlReq) reply {
	if n.pdb(r) != nil {
		return status(0)
	}
	db, rep, found := n.transDB(r)
	if !found {
		return rep
	}
	if err := db.TransactionCommit(); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) ctrlDBTransactionCancel(ctx context.Context, r *controlReq) reply {
	if n.pdb(r) != nil {
		return status(0)
	}
	db, rep, found := n.db(r)
	if !found {
		return rep
	}
	if err := db.TransactionCancel(); err != nil {
		return failErr(err)
	}
	return status(0)
}

// ctrlDBSetHealthy: every database is healthy here.
func (n *Node) ctrlDBSetHealthy(ctx context.Context, r *controlReq) reply {
	if n.pdb(r) != nil {
		return status(0)
	}
	if _, rep, found := n.db(r); !found {
		return rep
	}
	return status(0)
}
