package databases

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// attach serves DB_ATTACH: the database is recorded in Raft, so that every
// node attaches it, and opened here before the reply, because the client
// opens the file right after.
func (d *DBs) attach(ctx context.Context, r *control.Request, kind uint8) control.Reply {
	name := protocol.ParseCString(r.Data)
	if name == "" {
		return control.Fail("attach: empty database name")
	}
	if d.tunables().AllowClientDBAttach == 0 && r.Client != nil {
		return control.Fail("attach %q: AllowClientDBAttach is 0", name)
	}
	if r.Client != nil && d.cfg.Active() != nil {
		return control.FailErr(d.cfg.Active())
	}
	id := protocol.DBID(name)
	st, _ := d.cfg.Raft.Current()
	if db, ok := st.DBs[id]; ok {
		if db.Name != name {
			return control.Fail("attach %q: database id 0x%08x is taken by %q", name, id, db.Name)
		}
		if db.Flags&dbKinds != kind {
			return control.Fail("attach %q: database is attached with flags 0x%x", name, db.Flags)
		}
	} else if err := d.cfg.Commit(ctx, &raftlayer.CmdAttachDB{Name: name, Flags: kind}); err != nil {
		return control.FailErr(fmt.Errorf("attach %q: %w", name, err))
	}
	var err error
	tun := d.tunables()
	if kind == 0 {
		_, err = d.vol.Ensure(id, volatile.DBSpec{Name: name, HashSize: int(tun.DatabaseHashSize), LockWaiters: int(tun.LockProcessesPerDB)})
	} else {
		_, err = d.pers.Ensure(id, name, kind == protocol.DBFlagReplicated, int(tun.DatabaseHashSize))
	}
	if err != nil {
		return control.FailErr(err)
	}
	return control.OK(protocol.U32(id))
}

func (d *DBs) ctrlDBAttach(ctx context.Context, r *control.Request) control.Reply {
	return d.attach(ctx, r, 0)
}

func (d *DBs) ctrlDBAttachPersistent(ctx context.Context, r *control.Request) control.Reply {
	return d.attach(ctx, r, protocol.DBFlagPersistent)
}

func (d *DBs) ctrlDBAttachReplicated(ctx context.Context, r *control.Request) control.Reply {
	return d.attach(ctx, r, protocol.DBFlagReplicated)
}

// db finds the database named by a u32 db_id request.
func (d *DBs) db(r *control.Request) (*volatile.DB, control.Reply, bool) {
	id := control.U32(r.Data)
	db := d.vol.DB(id)
	if db == nil {
		return nil, control.Fail("unknown database 0x%08x", id), false
	}
	return db, control.Reply{}, true
}

func (d *DBs) ctrlGetDBPath(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.OK(protocol.CString(p.Path))
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	return control.OK(protocol.CString(db.Path))
}

func (d *DBs) ctrlGetDBName(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.OK(protocol.CString(p.Name))
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	return control.OK(protocol.CString(db.Name))
}

func (d *DBs) ctrlDBOpenFlags(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.OK(protocol.U32(uint32(p.OpenFlags())))
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	return control.OK(protocol.U32(uint32(db.OpenFlags())))
}

// ctrlDBGetHealth answers healthy (no reason) for every volatile database;
// a persistent one is unhealthy after a local write failed.
func (d *DBs) ctrlDBGetHealth(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		if h := p.Health(); h != "" {
			return control.OK(protocol.CString(h))
		}
		return control.OK(nil)
	}
	if _, rep, found := d.db(r); !found {
		return rep
	}
	return control.OK(nil)
}

func (d *DBs) ctrlGetDBMap(ctx context.Context, r *control.Request) control.Reply {
	st, _ := d.cfg.Raft.Current()
	var m protocol.DBMap
	// Most recently attached first, as ctdbd lists them.
	for i := len(st.DBOrder) - 1; i >= 0; i-- {
		id := st.DBOrder[i]
		flags := st.DBs[id].Flags
		if db := d.vol.DB(id); db != nil {
			flags |= db.Flags()
		}
		m.DBs = append(m.DBs, protocol.DBInfo{DBID: id, Flags: flags})
	}
	return control.OK(m.Marshal())
}

func (d *DBs) ctrlEnableSeqnum(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		p.EnableSeqnum()
		return control.Status(0)
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	db.EnableSeqnum()
	return control.Status(0)
}

// ctrlUpdateSeqnum bumps the local sequence number for a change on another
// node.
func (d *DBs) ctrlUpdateSeqnum(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.Status(0) // every node writes its own file
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	if r.From != d.cfg.Self {
		db.BumpSeqnum()
	}
	return control.Status(0)
}

func (d *DBs) ctrlGetDBSeqnum(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.OK(protocol.U64(p.Seqnum()))
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	return control.OK(protocol.U64(db.SeqnumRecord()))
}

func (d *DBs) ctrlWipeDatabase(ctx context.Context, r *control.Request) control.Reply {
	var t protocol.TransDB
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if p := d.pers.DB(t.DBID); p != nil {
		return d.persistentWipe(ctx, p)
	}
	db := d.vol.DB(t.DBID)
	if db == nil {
		return control.Fail("unknown database 0x%08x", t.DBID)
	}
	if err := db.Wipe(); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

// ctrlSetDBFlag serves SET_DB_READONLY and SET_DB_STICKY: the flag is set
// cluster-wide through Raft, so it survives recoveries and restarts and
// nodes that join later know it; the volatile layer grants read-only
// delegations on READONLY databases (STICKY only shows in the dbmap).
func (d *DBs) ctrlSetDBFlag(flag uint8) func(context.Context, *control.Request) control.Reply {
	return func(ctx context.Context, r *control.Request) control.Reply {
		if p := d.pdb(r); p != nil {
			return control.Fail("cannot set flag 0x%x on persistent database %s", flag, p.Name)
		}
		db, rep, found := d.db(r)
		if !found {
			return rep
		}
		if db.Flags()&flag != 0 {
			return control.Status(0)
		}
		if err := d.cfg.Commit(ctx, &raftlayer.CmdSetDBFlags{ID: db.ID, Set: flag}); err != nil {
			return control.FailErr(err)
		}
		return control.Status(0)
	}
}

// ctrlDBDetach detaches a database cluster-wide; ctdbd allows it only when
// clients may not attach (AllowClientDBAttach = 0).
func (d *DBs) ctrlDBDetach(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return control.Fail("detach %s: persistent databases cannot be detached", p.Name)
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	if d.tunables().AllowClientDBAttach != 0 {
		return control.Fail("detach %s: set AllowClientDBAttach to 0 first", db.Name)
	}
	if err := d.cfg.Commit(ctx, &raftlayer.CmdDetachDB{ID: db.ID}); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) ctrlUpdateRecord(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		return d.persistentUpdateRecord(ctx, p, r)
	}
	db, rb, rep, found := d.recBufferDB(r)
	if !found {
		return rep
	}
	if err := db.UpdateRecords(rb.Records); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) ctrlGetDBStatistics(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		var st protocol.DBStatistics
		return control.OK(st.Marshal())
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	st := db.Statistics()
	return control.OK(st.Marshal())
}

// ctrlDBFreeze freezes a database (waits for every chain lock to be let go).
func (d *DBs) ctrlDBFreeze(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		p.SetFrozen(true) // commits wait; Raft needs no lock on the file
		return control.Status(0)
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	if err := db.Freeze(ctx); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

// ctrlDBThaw thaws a database frozen by DB_FREEZE; during a recovery the
// databases stay frozen until the cluster ends it.
func (d *DBs) ctrlDBThaw(ctx context.Context, r *control.Request) control.Reply {
	if p := d.pdb(r); p != nil {
		p.SetFrozen(false)
		return control.Status(0)
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	if d.vol.Recovering() {
		return control.Fail("thaw %s: a recovery is in progress", db.Name)
	}
	if err := db.Thaw(); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) transDB(r *control.Request) (*volatile.DB, control.Reply, bool) {
	var t protocol.TransDB
	if err := t.Unmarshal(r.Data); err != nil {
		return nil, control.FailErr(err), false
	}
	db := d.vol.DB(t.DBID)
	if db == nil {
		return nil, control.Fail("unknown database 0x%08x", t.DBID), false
	}
	return db, control.Reply{}, true
}

// The DB_TRANSACTION controls bracket the tool's wipedb and restoredb; on
// a persistent database each step is its own Raft command, so they have
// nothing to do.

func (d *DBs) ctrlDBTransactionStart(ctx context.Context, r *control.Request) control.Reply {
	if d.pdb(r) != nil {
		return control.Status(0)
	}
	db, rep, found := d.transDB(r)
	if !found {
		return rep
	}
	if err := db.TransactionStart(); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) ctrlDBTransactionCommit(ctx context.Context, r *control.Request) control.Reply {
	if d.pdb(r) != nil {
		return control.Status(0)
	}
	db, rep, found := d.transDB(r)
	if !found {
		return rep
	}
	if err := db.TransactionCommit(); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) ctrlDBTransactionCancel(ctx context.Context, r *control.Request) control.Reply {
	if d.pdb(r) != nil {
		return control.Status(0)
	}
	db, rep, found := d.db(r)
	if !found {
		return rep
	}
	if err := db.TransactionCancel(); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

// ctrlDBSetHealthy: every database is healthy here.
func (d *DBs) ctrlDBSetHealthy(ctx context.Context, r *control.Request) control.Reply {
	if d.pdb(r) != nil {
		return control.Status(0)
	}
	if _, rep, found := d.db(r); !found {
		return rep
	}
	return control.Status(0)
}
