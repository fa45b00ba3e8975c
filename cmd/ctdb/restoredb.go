package main

import (
	"io"

	"github.com/rctdb/rctdb/protocol"
)

// RestoredbCmd is "ctdb restoredb FILE [DB]": replace a database's
// records on every active node with those of a backup file.
type RestoredbCmd struct{ Args }

// srvIDPushDB is the srvid the tool pushes records to (SRVID_CTDB_PUSHDB).
const srvIDPushDB = protocol.SrvIDToolRange | 0x0002000000000000

// Run follows control_restoredb: read the header, attach the database
// (the name given, else the file's; the file's flags), then, on every
// active node at once, each step waiting for all: DB_FREEZE,
// DB_TRANSACTION_START and WIPE_DATABASE {db, generation}, DB_PUSH_START
// {db, lmaster 0, srvid SRVID_CTDB_PUSHDB}, each record buffer of the file
// as a message to that srvid on every node, DB_PUSH_CONFIRM (each node
// answers how many records it took), DB_SET_HEALTHY,
// DB_TRANSACTION_COMMIT and DB_THAW. When a step fails our node goes into
// recovery (SET_RECMODE 1), which puts things right.
func (c *RestoredbCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 1 || len(args) > 2 {
		return t.usage()
	}
	f, hdr, err := t.openBackup(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	name := hdr.name
	if len(args) == 2 {
		name = args[1]
	}
	if !t.opts.json {
		t.printf("Restoring database %s from backup @ %s\n", name, t.backupTime(hdr))
	}
	flags := uint8(hdr.flags)
	db, err := t.attachRef(dbRef{name: name, flags: flags})
	if err != nil {
		return err
	}
	defer db.Close()
	pnns, generation, err := t.activeNodes()
	if err != nil {
		return err
	}
	if err := t.restore(db.ID, generation, pnns, hdr, f); err != nil {
		if fatal(err) {
			return err
		}
		if err := t.setRecmode(t.pnn, recoveryActive); fatal(err) {
			return err
		}
		if err == errRestoreCount {
			return nil // the tool's ret is still 0 here
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			jsonDBCommand
			File      string   `json:"file"`
			Timestamp *string  `json:"timestamp"`
			Records   uint64   `json:"records"`
			Nodes     []uint32 `json:"nodes"`
		}{t.dbCommandJSON(t.pnn, db.ID, name, flags), args[0],
			jsonTime(protocol.Timeval{Sec: hdr.timestamp}), hdr.nrec, pnns})
	}
	t.printf("Database %s restored\n", name)
	return nil
}

// errRestoreCount: a node took another number of records than the file
// has. The tool then forces a recovery but exits with status 0.
var errRestoreCount = exitCode(0)

// restore runs the steps of restoredb from DB_FREEZE to DB_THAW on pnns.
func (t *tool) restore(id, generation uint32, pnns []uint32, hdr backupHeader, f io.Reader) error {
	dbid := protocol.U32(id)
	trans := (&protocol.TransDB{DBID: id, TID: generation}).Marshal()
	push := (&protocol.PullDBExt{DBID: id, LMaster: 0, SrvID: srvIDPushDB}).Marshal()
	err := t.multiSteps(pnns,
		multiStep{protocol.ControlDBFreeze, dbid},
		multiStep{protocol.ControlDBTransactionStart, trans},
		multiStep{protocol.ControlWipeDatabase, trans},
		multiStep{protocol.ControlDBPushStart, push})
	if err != nil {
		return err
	}
	for i := uint64(0); i < hdr.nbuf; i++ {
		buf, err := readBackupBuffer(f)
		if err != nil {
			return errnoOf(err)
		}
		msg := buf.wire()
		for _, pnn := range pnns {
			if err := t.c.SendMessage(pnn, srvIDPushDB, msg); err != nil {
				return errDisconnected
			}
		}
	}
	replies, code, err := t.controlMultiReplies(pnns, protocol.ControlDBPushConfirm, dbid)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	for i, r := range replies {
		n, err := protocol.ParseU32(r)
		if err != nil {
			// The protocol library fails the control itself.
			return exitCode(errnoEPROTO)
		}
		if uint64(n) != hdr.nrec {
			t.eprintf("Node %d received %d of %d records\n", pnns[i], n, hdr.nrec)
			return errRestoreCount
		}
	}
	return t.multiSteps(pnns,
		multiStep{protocol.ControlDBSetHealthy, dbid},
		multiStep{protocol.ControlDBTransactionCommit, trans},
		multiStep{protocol.ControlDBThaw, dbid})
}
