package databases

import (
	"context"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile"
)

// ctrlScheduleForDeletion queues a record a client emptied for vacuuming.
func (d *DBs) ctrlScheduleForDeletion(ctx context.Context, r *control.Request) control.Reply {
	var kd protocol.KeyData
	if err := kd.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if len(r.Data) != 36+len(kd.Key) {
		return control.Fail("SCHEDULE_FOR_DELETION: %d bytes for a %d-byte key", len(r.Data), len(kd.Key))
	}
	db := d.vol.DB(kd.DBID)
	if db == nil {
		return control.Fail("unknown database 0x%08x", kd.DBID)
	}
	db.ScheduleForDeletion(append([]byte(nil), kd.Key...), kd.Header)
	return control.Status(0)
}

// ctrlTryDeleteRecords deletes this node's copies of records their lmaster
// deletes and answers with those it kept.
func (d *DBs) ctrlTryDeleteRecords(ctx context.Context, r *control.Request) control.Reply {
	db, rb, rep, found := d.recBufferDB(r)
	if !found {
		return rep
	}
	kept := protocol.RecBuffer{DBID: rb.DBID, Records: db.TryDeleteRecords(rb.Records)}
	return control.OK(kept.Marshal())
}

// ctrlVacuumFetch takes over records another node wants deleted.
func (d *DBs) ctrlVacuumFetch(ctx context.Context, r *control.Request) control.Reply {
	db, rb, rep, found := d.recBufferDB(r)
	if !found {
		return rep
	}
	db.VacuumFetch(rb.Records)
	return control.Status(0)
}

// ctrlDBVacuum runs a vacuum pass now (DB_VACUUM).
func (d *DBs) ctrlDBVacuum(ctx context.Context, r *control.Request) control.Reply {
	var v protocol.DBVacuum
	if err := v.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	db := d.vol.DB(v.DBID)
	if db == nil {
		return control.Fail("unknown database 0x%08x", v.DBID)
	}
	d.vol.VacuumDB(db, v.FullVacuumRun)
	return control.Status(0)
}

// recBufferDB decodes a control's record buffer and finds its database.
func (d *DBs) recBufferDB(r *control.Request) (*volatile.DB, protocol.RecBuffer, control.Reply, bool) {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(r.Data); err != nil {
		return nil, rb, control.FailErr(err), false
	}
	db := d.vol.DB(rb.DBID)
	if db == nil {
		return nil, rb, control.Fail("unknown database 0x%08x", rb.DBID), false
	}
	return db, rb, control.Reply{}, true
}
