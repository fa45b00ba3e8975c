package databases

import (
	"context"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/persistent"
	"github.com/rctdb/rctdb/protocol"
)

// pdb finds a persistent or replicated database by the u32 db_id that
// starts a request.
func (d *DBs) pdb(r *control.Request) *persistent.DB {
	if len(r.Data) < 4 {
		return nil
	}
	return d.pers.DB(control.U32(r.Data))
}

// ctrlTrans3Commit commits a Samba transaction: one Raft command, answered
// once every active node has applied it. A status other than 0 makes the
// client re-read the sequence number and resend if it did not move, so a
// commit that did land but timed out waiting is not applied twice.
func (d *DBs) ctrlTrans3Commit(ctx context.Context, r *control.Request) control.Reply {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	db := d.pers.DB(rb.DBID)
	if db == nil {
		return control.Fail("trans3 commit: 0x%08x is not a persistent database", rb.DBID)
	}
	if r.Client != nil && d.cfg.Active() != nil {
		return control.FailErr(d.cfg.Active())
	}
	if err := d.committer.Commit(ctx, rb.DBID, r.Data); err != nil {
		d.log.Warn("persistent commit failed", "db", db.Name, "err", err)
		return control.FailErr(err)
	}
	return control.Status(0)
}

// persistentUpdateRecord serves UPDATE_RECORD on a persistent database
// like a transaction commit.
func (d *DBs) persistentUpdateRecord(ctx context.Context, db *persistent.DB, r *control.Request) control.Reply {
	if err := d.committer.Commit(ctx, db.ID, r.Data); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (d *DBs) ctrlDBPushStart(ctx context.Context, r *control.Request) control.Reply {
	var pd protocol.PullDBExt
	if err := pd.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if d.pers.DB(pd.DBID) == nil {
		return control.Fail("push start: 0x%08x is not a persistent database", pd.DBID)
	}
	d.pushes.Start(pd.DBID, pd.SrvID)
	return control.Status(0)
}

// ctrlDBPushConfirm replaces the database with the pushed records through
// Raft and answers their count. Every node of the restore commits the same
// records, which is harmless: the second replace changes nothing.
func (d *DBs) ctrlDBPushConfirm(ctx context.Context, r *control.Request) control.Reply {
	id := control.U32(r.Data)
	records, err := d.pushes.Confirm(id)
	if err == nil {
		err = d.committer.Restore(ctx, id, records)
	}
	if err != nil {
		return control.FailErr(err)
	}
	return control.OK(protocol.U32(uint32(len(records))))
}

// persistentWipe serves WIPE_DATABASE on a persistent database.
func (d *DBs) persistentWipe(ctx context.Context, db *persistent.DB) control.Reply {
	if err := d.committer.Wipe(ctx, db.ID); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}
