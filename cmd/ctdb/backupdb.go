package main

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"
)

// BackupdbCmd is "ctdb backupdb DB FILE": our node's copy of a database,
// saved in the real tool's backup format (backupfile.go).
type BackupdbCmd struct{ Args }

// Run follows control_backupdb: attach, open FILE (created 0600, not
// truncated: a longer old file keeps its tail, as with the real tool),
// write an empty header, walk the local TDB with read locks (no control:
// for persistent databases every node has every record) writing the
// records as stored in buffers of about 100000 bytes, then the header.
func (c *BackupdbCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 2 {
		return t.usage()
	}
	ref, db, err := t.findAndAttach(args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	path := args[1]
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.eprintf("Failed to open file %s for writing\n", path)
		return errnoOf(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, backupHeaderSize)); err != nil {
		t.eprintf("Failed to write header to file %s\n", path)
		return errnoOf(err)
	}

	hdr := backupHeader{version: backupVersion, flags: uint64(ref.flags), name: ref.name}
	buf := &backupBuffer{dbID: ref.id}
	flush := func() error {
		if _, err := f.Write(buf.fileBytes()); err != nil {
			t.eprintf("Failed to write records to backup file\n")
			return errnoOf(err)
		}
		hdr.nbuf++
		hdr.nrec += uint64(buf.count)
		buf = &backupBuffer{dbID: ref.id}
		return nil
	}
	var werr error
	err = db.TraverseLocalRaw(func(key, value []byte) bool {
		buf.add(key, value)
		if buf.len() >= backupBufferFlush {
			werr = flush()
		}
		return werr == nil
	})
	if werr != nil {
		// The handler's error ends the walk; the tool reports both.
		t.eprintf("Failed to collect records from DB %s\n", ref.name)
		return werr
	}
	if err != nil {
		t.eprintf("Failed to collect records from DB %s\n", ref.name)
		return exitCode(errnoEIO)
	}
	if buf.count > 0 {
		if err := flush(); err != nil {
			return err
		}
	}

	hdr.timestamp = time.Now().Unix()
	f.Seek(0, io.SeekStart) // the tool does not look at lseek's result
	if _, err := f.Write(hdr.marshal()); err != nil {
		t.eprintf("Failed to write header to file %s\n", path)
		return errnoOf(err)
	}
	if t.opts.json {
		return t.printJSON(struct {
			jsonDBCommand
			File    string `json:"file"`
			Buffers uint64 `json:"buffers"`
			Records uint64 `json:"records"`
		}{t.dbCommandJSON(t.pnn, ref.id, ref.name, ref.flags), path, hdr.nbuf, hdr.nrec})
	}
	t.printf("Database backed up to %s\n", path)
	return nil
}

// errnoOf is the errno of a failed system call as the command's exit
// status (EIO when there is none).
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return exitCode(int(errno))
	}
	return exitCode(errnoEIO)
}
