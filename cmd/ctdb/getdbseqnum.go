package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// GetdbseqnumCmd is "ctdb getdbseqnum DB": a database's sequence number on
// our node.
type GetdbseqnumCmd struct{ Args }

// formatSeqnum is control_getdbseqnum's line.
func formatSeqnum(seqnum uint64) string { return fmt.Sprintf("0x%x\n", seqnum) }

// Run follows control_getdbseqnum: GET_DB_SEQNUM {db_id, 0}.
func (c *GetdbseqnumCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, err := t.dbExists(c.Args.Args[0])
	if err != nil {
		return err
	}
	seqnum, err := t.getDBSeqnum(t.cmdPNN, ref.id)
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to get sequence number for DB %s\n", ref.name)
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN uint32 `json:"pnn"`
			jsonDB
			Seqnum uint64 `json:"seqnum"`
		}{t.cmdPNN, dbJSON(ref.id, ref.name, ref.flags), seqnum})
	}
	t.print(formatSeqnum(seqnum))
	return nil
}

// getDBSeqnum is ctdb_ctrl_get_db_seqnum.
func (t *tool) getDBSeqnum(dest, id uint32) (uint64, error) {
	data, err := t.control(protocol.ControlGetDBSeqnum, dest, append(protocol.U32(id), 0, 0, 0, 0))
	if err == nil {
		var v uint64
		if v, err = protocol.ParseU64(data); err == nil {
			return v, nil
		}
	}
	return 0, t.ctrlErr(protocol.ControlGetDBSeqnum, dest, err)
}
