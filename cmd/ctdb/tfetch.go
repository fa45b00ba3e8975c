package main

import (
	"os"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// TfetchCmd is "ctdb tfetch TDBFILE KEY [OUTFILE]": a record read straight
// from a TDB file, its ltdb header and data shown (and the raw value
// written to OUTFILE).
type TfetchCmd struct{ Args }

// Run follows control_tfetch. A failure to write OUTFILE is reported, and
// the record shown all the same.
func (c *TfetchCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 2 || len(args) > 3 {
		return t.usage()
	}
	f, err := openTDBFile(t, args[0])
	if err != nil {
		return err
	}
	key, err := t.parseArg(args[1], "key")
	if err != nil {
		f.Close()
		return err
	}
	value, err := f.Fetch(key)
	f.Close()
	if err != nil {
		t.eprintf("No record for key %s\n", args[1])
		return exitCode(1)
	}
	if len(value) < protocol.LtdbHeaderSize {
		t.eprintf("Invalid record for key %s\n", args[1])
		return exitCode(1)
	}
	if len(args) == 3 {
		if out, err := os.OpenFile(args[2], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			t.eprintf("Failed to open output file %s\n", args[2])
		} else {
			if _, err := out.Write(value); err != nil {
				t.eprintf("Failed to write record to file\n")
			}
			out.Close()
		}
	}
	h, _ := protocol.DecodeLtdbHeader(value)
	data := value[protocol.LtdbHeaderSize:]
	if t.opts.json {
		return t.printJSON(jsonTDBRecord{t.name, args[0], recordJSON(key, h, data)})
	}
	t.print(formatHeader(h) + formatData("data", data))
	return nil
}

// jsonTDBRecord is the document of tfetch and tstore.
type jsonTDBRecord struct {
	Command string `json:"command"`
	File    string `json:"file"`
	jsonRecord
}

// openTDBFile opens a TDB file as tfetch and tstore do: read-write, the
// flags and hash size from the file.
func openTDBFile(t *tool, path string) (*tdb.DB, error) {
	f, err := tdb.Open(path, 0, 0, os.O_RDWR, 0)
	if err != nil {
		t.eprintf("Failed to open TDB file %s\n", path)
		return nil, exitCode(1)
	}
	return f, nil
}
