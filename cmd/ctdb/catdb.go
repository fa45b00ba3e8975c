package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// CatdbCmd is "ctdb catdb DB": every record of a database, cluster-wide
// (a traverse through the daemon).
type CatdbCmd struct{ Args }

// escapeData is dump_tdb_data's rendering of bytes: printable ASCII as is,
// except '"' and '\', which are escaped as \XX like every other byte.
func escapeData(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\%02X", c)
		}
	}
	return s.String()
}

// recFlagNames are the record flags dump_ltdb_header names, in its order.
var recFlagNames = []struct {
	flag uint32
	name string
}{
	{protocol.RecFlagMigratedWithData, "MIGRATED_WITH_DATA"},
	{protocol.RecFlagVacuumMigrated, "VACUUM_MIGRATED"},
	{protocol.RecFlagAutomatic, "AUTOMATIC"},
	{protocol.RecFlagROHaveDelegations, "RO_HAVE_DELEGATIONS"},
	{protocol.RecFlagROHaveReadonly, "RO_HAVE_READONLY"},
	{protocol.RecFlagRORevokingReadonly, "RO_REVOKING_READONLY"},
	{protocol.RecFlagRORevokeComplete, "RO_REVOKE_COMPLETE"},
}

func recFlags(flags uint32) []string {
	names := []string{}
	for _, f := range recFlagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	return names
}

// formatRecord is dump_record: key, header and data, and an empty line.
func formatRecord(key []byte, h protocol.LtdbHeader, data []byte) string {
	return formatData("key", key) + formatHeader(h) + formatData("data", data) + "\n"
}

// formatData is dump_tdb_data: a name, the size and the bytes escaped.
func formatData(name string, data []byte) string {
	return fmt.Sprintf("%s(%d) = \"%s\"\n", name, len(data), escapeData(data))
}

// formatHeader is dump_ltdb_header.
func formatHeader(h protocol.LtdbHeader) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dmaster: %d\n", h.DMaster)
	fmt.Fprintf(&b, "rsn: %d\n", h.RSN)
	fmt.Fprintf(&b, "flags: 0x%08x", h.Flags)
	for _, n := range recFlags(h.Flags) {
		b.WriteString(" " + n)
	}
	b.WriteString("\n")
	return b.String()
}

// jsonRecord is a record in the catdb and cattdb documents.
type jsonRecord struct {
	Key        string   `json:"key"`
	KeyHex     string   `json:"key_hex"`
	DMaster    uint32   `json:"dmaster"`
	RSN        uint64   `json:"rsn"`
	Flags      []string `json:"flags"`
	FlagsValue uint32   `json:"flags_value"`
	Data       string   `json:"data"`
	DataHex    string   `json:"data_hex"`
}

func recordJSON(key []byte, h protocol.LtdbHeader, data []byte) jsonRecord {
	return jsonRecord{
		Key: escapeData(key), KeyHex: hex.EncodeToString(key),
		DMaster: h.DMaster, RSN: h.RSN, Flags: recFlags(h.Flags), FlagsValue: h.Flags,
		Data: escapeData(data), DataHex: hex.EncodeToString(data),
	}
}

type jsonDump struct {
	PNN uint32 `json:"pnn"`
	jsonDB
	Records []jsonRecord `json:"records"`
	Count   uint32       `json:"count"`
}

// dumper prints records as they come, or collects them for --json.
type dumper struct {
	t       *tool
	count   uint32
	records []jsonRecord
}

func (d *dumper) record(key []byte, h protocol.LtdbHeader, data []byte) bool {
	d.count++
	if d.t.opts.json {
		d.records = append(d.records, recordJSON(key, h, data))
	} else {
		d.t.print(formatRecord(key, h, data))
	}
	return true
}

// document prints the --json document of a dump.
func (d *dumper) document(ref dbRef) error {
	recs := d.records
	if recs == nil {
		recs = []jsonRecord{}
	}
	return d.t.printJSON(jsonDump{d.t.pnn, dbJSON(ref.id, ref.name, ref.flags), recs, d.count})
}

// findAndAttach is what catdb, cattdb and wipedb start with: find the
// database and attach it with its flags ("Failed to attach to DB NAME").
func (t *tool) findAndAttach(arg string) (dbRef, *client.DB, error) {
	ref, err := t.dbExists(arg)
	if err != nil {
		return ref, nil, err
	}
	db, err := t.attachRef(ref)
	return ref, db, err
}

// attachRef attaches a database found by dbExists with its flags, saying
// "Failed to attach to DB NAME" after the library's message when it fails.
func (t *tool) attachRef(ref dbRef) (*client.DB, error) {
	db, err := t.attach(ref.name, ref.flags)
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to attach to DB %s\n", ref.name)
		}
		return nil, err
	}
	return db, nil
}

// Run follows control_catdb: attach, then ctdb_db_traverse (REGISTER_SRVID,
// TRAVERSE_START_EXT with the -t timeout, records until the end marker,
// DEREGISTER_SRVID); the count is printed whatever the outcome.
func (c *CatdbCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, db, err := t.findAndAttach(c.Args.Args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	d := &dumper{t: t}
	err = t.c.TraverseTimeout(t.ctx, db.ID, false, t.opts.timelimit, d.record)
	if err != nil {
		err = t.traverseErr(err)
		if fatal(err) {
			return err
		}
	}
	if t.opts.json {
		if err != nil {
			return err
		}
		return d.document(ref)
	}
	t.printf("Dumped %d records\n", d.count)
	return err
}

// traverseErr reports a failed ctdb_db_traverse as the client library
// does and returns its return value.
func (t *tool) traverseErr(err error) error {
	code, ferr := t.errCode(err)
	if ferr != nil {
		return ferr
	}
	var ce *client.ControlError
	switch {
	case errors.As(err, &ce) && ce.Opcode == protocol.ControlTraverseStartExt:
		t.eprintf("traverse: control reply failed, ret=%d\n", code)
	case errors.As(err, &ce):
		// REGISTER_SRVID or DEREGISTER_SRVID: no message.
	default:
		t.eprintf("traverse: control failed, ret=%d\n", code)
	}
	return exitCode(code)
}
