package main

import (
	"errors"

	"github.com/rctdb/rctdb/protocol"
)

// CattdbCmd is "ctdb cattdb DB": every record of our node's copy of a
// database, read from the local TDB file.
type CattdbCmd struct{ Args }

// Run follows control_cattdb: attach, then ctdb_db_traverse_local (read
// locks, headers extracted, empty records included); the count is printed
// whatever the outcome.
func (c *CattdbCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, db, err := t.findAndAttach(c.Args.Args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	d := &dumper{t: t}
	if err = db.TraverseLocal(d.record); err != nil {
		// A record without a header stops the walk with EMSGSIZE, a
		// failed walk is EIO.
		code := errnoEIO
		if errors.Is(err, protocol.ErrShort) {
			code = errnoEMSGSIZE
		}
		err = exitCode(code)
	}
	if t.opts.json {
		if err != nil {
			return err
		}
		return d.document(ref)
	}
	t.printf("Dumped %d record(s)\n", d.count)
	return err
}
