package main

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// DumpdbbackupCmd is "ctdb dumpdbbackup FILE": the records of a backup
// file, as catdb prints records. It needs no daemon.
type DumpdbbackupCmd struct{ Args }

// Run follows control_dumpdbbackup. With the wrong number of arguments the
// real tool asks for the usage of "dumpbackup", a command it does not
// have, and so prints the usage of every command.
func (c *DumpdbbackupCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		printUsage(t.out, "")
		return exitCode(1)
	}
	f, hdr, err := t.openBackup(c.Args.Args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if !t.opts.json {
		t.printf("Dumping database %s from backup @ %s\n", hdr.name, t.backupTime(hdr))
	}
	d := &dumper{t: t}
	for i := uint64(0); i < hdr.nbuf; i++ {
		buf, err := readBackupBuffer(f)
		if err != nil {
			t.eprintf("Failed to read records\n")
			return errnoOf(err)
		}
		err = buf.walk(func(key, data []byte) error {
			h, err := protocol.DecodeLtdbHeader(data)
			if err != nil {
				return syscall.EMSGSIZE // ctdb_ltdb_header_extract
			}
			d.record(key, h, data[protocol.LtdbHeaderSize:])
			return nil
		})
		if err != nil {
			t.eprintf("Failed to dump records\n")
			return errnoOf(err)
		}
	}
	if t.opts.json {
		recs := d.records
		if recs == nil {
			recs = []jsonRecord{}
		}
		return t.printJSON(struct {
			Name       string       `json:"name"`
			Timestamp  *string      `json:"timestamp"`
			FlagsValue uint64       `json:"flags_value"`
			Records    []jsonRecord `json:"records"`
			Count      uint32       `json:"count"`
		}{hdr.name, jsonTime(protocol.Timeval{Sec: hdr.timestamp}), hdr.flags, recs, d.count})
	}
	t.printf("Dumped %d record(s)\n", d.count)
	return nil
}

// openBackup opens a backup file and reads its header, as restoredb and
// dumpdbbackup do, with their messages; the version must be 3.
func (t *tool) openBackup(path string) (*os.File, backupHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		t.eprintf("Failed to open file %s for reading\n", path)
		return nil, backupHeader{}, errnoOf(err)
	}
	b := make([]byte, backupHeaderSize)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		f.Close()
		t.eprintf("Failed to read db header from file %s\n", path)
		return nil, backupHeader{}, errnoOf(err)
	}
	hdr := parseBackupHeader(b[:n])
	if hdr.version != backupVersion {
		f.Close()
		t.eprintf("Wrong version of backup file, expected %d, got %d\n", backupVersion, hdr.version)
		return nil, backupHeader{}, exitCode(errnoEINVAL)
	}
	return f, hdr, nil
}

// backupTime is the header's time as the tool prints it (strftime
// "%Y/%m/%d %H:%M:%S", local time).
func (t *tool) backupTime(h backupHeader) string {
	return time.Unix(h.timestamp, 0).In(t.loc).Format("2006/01/02 15:04:05")
}
