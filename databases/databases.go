package databases

import (
	"context"
	"log/slog"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/persistent"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/traverse"
	"github.com/rctdb/rctdb/volatile"
)

// Raft is what the databases read of the replicated state.
type Raft interface {
	Current() (*raftlayer.State, uint64)
}

// Config configures the databases of a node.
type Config struct {
	Self       uint32
	Volatile   *volatile.Manager
	Persistent *persistent.Store
	Committer  *persistent.Committer
	Raft       Raft
	// Commit commits a command and returns once the connected nodes have
	// applied it, so that every node answers with the change at once.
	Commit func(ctx context.Context, c raftlayer.Command) error
	// Active returns nil while this node is in contact with a quorum, else
	// the error a client's change is refused with.
	Active func() error
}

// DBs is a node's databases.
type DBs struct {
	cfg       Config
	vol       *volatile.Manager
	pers      *persistent.Store
	committer *persistent.Committer
	log       *slog.Logger

	// pushes holds `ctdb restoredb`'s records between DB_PUSH_START and
	// DB_PUSH_CONFIRM.
	pushes persistent.Pushes
}

// New returns the databases of a node.
func New(cfg Config, log *slog.Logger) *DBs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DBs{cfg: cfg, vol: cfg.Volatile, pers: cfg.Persistent, committer: cfg.Committer, log: log}
}

// dbKinds are the flags that make a database persistent or replicated.
const dbKinds = protocol.DBFlagPersistent | protocol.DBFlagReplicated

// Install attaches the databases of an applied state (volatile ones shaped
// by its DatabaseHashSize and LockProcessesPerDB), detaches those it no
// longer has, and routes calls by its vnn map.
func (d *DBs) Install(st *raftlayer.State) {
	want := make(map[uint32]volatile.DBSpec)
	tun := st.TunablesOf(d.cfg.Self)
	for id, db := range st.DBs {
		if db.Flags&dbKinds == 0 {
			want[id] = volatile.DBSpec{Name: db.Name, Flags: db.Flags,
				HashSize: int(tun.DatabaseHashSize), LockWaiters: int(tun.LockProcessesPerDB)}
		} else if _, err := d.pers.Ensure(id, db.Name, db.Flags&protocol.DBFlagReplicated != 0, int(tun.DatabaseHashSize)); err != nil {
			d.log.Error("cannot open persistent database", "db", db.Name, "err", err)
		}
	}
	d.vol.Sync(want)
	d.vol.SetView(st.View.Generation, st.View.VNNMap, st.Active())
}

// tunables are this node's tunables as applied here.
func (d *DBs) tunables() *protocol.TunableValues {
	st, _ := d.cfg.Raft.Current()
	return st.TunablesOf(d.cfg.Self)
}

// OfferPush takes a message meant for an open restore push; false if it is
// not one.
func (d *DBs) OfferPush(srvid uint64, data []byte) bool { return d.pushes.Offer(srvid, data) }

// Controls is the table of the database controls.
func (d *DBs) Controls() control.Table {
	const any = control.AnySize
	return control.Table{
		protocol.ControlGetDBMap:            {Size: 0, Serve: d.ctrlGetDBMap},
		protocol.ControlDBAttach:            {Size: any, Blocking: true, Serve: d.ctrlDBAttach},
		protocol.ControlDBAttachPersistent:  {Size: any, Blocking: true, Serve: d.ctrlDBAttachPersistent},
		protocol.ControlDBAttachReplicated:  {Size: any, Blocking: true, Serve: d.ctrlDBAttachReplicated},
		protocol.ControlGetDBPath:           {Size: 4, Serve: d.ctrlGetDBPath},
		protocol.ControlGetDBName:           {Size: 4, Serve: d.ctrlGetDBName},
		protocol.ControlDBOpenFlags:         {Size: 4, Serve: d.ctrlDBOpenFlags},
		protocol.ControlDBGetHealth:         {Size: 4, Serve: d.ctrlDBGetHealth},
		protocol.ControlEnableSeqnum:        {Size: 4, Serve: d.ctrlEnableSeqnum},
		protocol.ControlUpdateSeqnum:        {Size: 4, Serve: d.ctrlUpdateSeqnum},
		protocol.ControlGetDBSeqnum:         {Size: 8, Serve: d.ctrlGetDBSeqnum},
		protocol.ControlWipeDatabase:        {Size: 8, Blocking: true, Serve: d.ctrlWipeDatabase},
		protocol.ControlSetDBReadonly:       {Size: 4, Blocking: true, Serve: d.ctrlSetDBFlag(protocol.DBFlagReadonly)},
		protocol.ControlSetDBSticky:         {Size: 4, Blocking: true, Serve: d.ctrlSetDBFlag(protocol.DBFlagSticky)},
		protocol.ControlDBDetach:            {Size: 4, Blocking: true, Serve: d.ctrlDBDetach},
		protocol.ControlUpdateRecord:        {Size: any, Blocking: true, Serve: d.ctrlUpdateRecord},
		protocol.ControlTrans3Commit:        {Size: any, Blocking: true, Serve: d.ctrlTrans3Commit},
		protocol.ControlDBPushStart:         {Size: 16, Serve: d.ctrlDBPushStart},
		protocol.ControlDBPushConfirm:       {Size: 4, Blocking: true, Serve: d.ctrlDBPushConfirm},
		protocol.ControlGetDBStatistics:     {Size: 4, Serve: d.ctrlGetDBStatistics},
		protocol.ControlScheduleForDeletion: {Size: any, Serve: d.ctrlScheduleForDeletion},
		protocol.ControlTryDeleteRecords:    {Size: any, Serve: d.ctrlTryDeleteRecords},
		protocol.ControlVacuumFetch:         {Size: any, Serve: d.ctrlVacuumFetch},
		protocol.ControlDBVacuum:            {Size: 5, Blocking: true, Serve: d.ctrlDBVacuum},
		protocol.ControlDBFreeze:            {Size: 4, Blocking: true, Serve: d.ctrlDBFreeze},
		protocol.ControlDBThaw:              {Size: 4, Serve: d.ctrlDBThaw},
		protocol.ControlDBTransactionStart:  {Size: 8, Serve: d.ctrlDBTransactionStart},
		protocol.ControlDBTransactionCommit: {Size: 8, Serve: d.ctrlDBTransactionCommit},
		protocol.ControlDBTransactionCancel: {Size: 4, Serve: d.ctrlDBTransactionCancel},
		protocol.ControlDBSetHealthy:        {Size: 4, Serve: d.ctrlDBSetHealthy},
	}
}

// Walker finds the database a traverse walks; everywhere is true for the
// persistent and replicated ones, whose records are the same on every
// node.
func (d *DBs) Walker(dbid uint32) (w traverse.Walker, everywhere, ok bool) {
	if p := d.pers.DB(dbid); p != nil {
		return p, true, true
	}
	if v := d.vol.DB(dbid); v != nil {
		return v, false, true
	}
	return nil, false, false
}
