package main

import (
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// TstoreCmd is "ctdb tstore TDBFILE KEY DATA [RSN [DMASTER]]": a record
// written straight into a TDB file with an ltdb header.
type TstoreCmd struct{ Args }

// Run follows control_tstore: the header is zero but for the rsn
// (smb_strtoull, base 0) and the dmaster (atol) given. The usage offers a
// FLAGS argument too, but the real tool refuses six arguments, so the
// flags are always 0.
func (c *TstoreCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 3 || len(args) > 5 {
		return t.usage()
	}
	f, err := openTDBFile(t, args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	key, value, err := t.parseKeyValue(args[1], args[2])
	if err != nil {
		return err
	}
	var h protocol.LtdbHeader
	if len(args) > 3 {
		rsn, errno := smbStrtoul(args[3])
		if errno != 0 {
			return exitCode(int(errno))
		}
		h.RSN = rsn
	}
	if len(args) > 4 {
		h.DMaster = uint32(atoi(args[4]))
	}
	if err := f.Store(key, append(h.AppendTo(nil), value...), tdb.Replace); err != nil {
		t.eprintf("Failed to write record %s to file %s\n", args[1], args[0])
		return exitCode(-1)
	}
	if t.opts.json {
		return t.printJSON(jsonTDBRecord{t.name, args[0], recordJSON(key, h, value)})
	}
	return nil
}
