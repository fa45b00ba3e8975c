package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// writeBackup writes a backup file of the records (raw values by key, in
// order), split into buffers of at most perBuf records.
func writeBackup(t *testing.T, path string, hdr backupHeader, dbID uint32, perBuf int, recs []dumpRecord) []*backupBuffer {
	t.Helper()
	var bufs []*backupBuffer
	for i, r := range recs {
		if i%perBuf == 0 {
			bufs = append(bufs, &backupBuffer{dbID: dbID})
		}
		bufs[len(bufs)-1].add(r.key, append(r.hdr.AppendTo(nil), r.data...))
	}
	hdr.version, hdr.nbuf, hdr.nrec = backupVersion, uint64(len(bufs)), uint64(len(recs))
	out := hdr.marshal()
	for _, b := range bufs {
		out = append(out, b.fileBytes()...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return bufs
}

// sampleBackupRecords are the records of the capture's backup, in its order.
func sampleBackupRecords(t *testing.T) []dumpRecord {
	return parseDump(t, loadSamples(t, "samples-persistent.txt")["1 cattdb sample_persistent.tdb"].stdout)
}

func TestDumpdbbackupSample(t *testing.T) {
	want := loadSamples(t, "samples-persistent.txt")["0 dumpdbbackup /srv/ctdbtest/sample_persistent.backup"]
	path := filepath.Join(t.TempDir(), "b")
	hdr := backupHeader{timestamp: tCurrent - 2, flags: uint64(protocol.DBFlagPersistent), name: "sample_persistent.tdb"}
	writeBackup(t, path, hdr, 0x8b0b44d0, 3, sampleBackupRecords(t))
	checkRun(t, "dumpdbbackup", runTool(nil, nil, "dumpdbbackup", path), want)
}

func TestBackupdbFile(t *testing.T) {
	f := newDBFixture(t, 0, samplePersistent, sampleCtdb)
	recs := sampleBackupRecords(t)
	f.writeTDB(f.dbs[0].path, recs)
	path := filepath.Join(f.dir, "backup")
	// An older, longer file: the real tool does not truncate it.
	os.WriteFile(path, bytes.Repeat([]byte{'X'}, 5000), 0o600)
	before := time.Now().Unix()
	expect(t, f.run("backupdb", "sample_persistent.tdb", path), "Database backed up to "+path+"\n", "", 0)
	after := time.Now().Unix()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr := parseBackupHeader(data)
	if hdr.version != 3 || hdr.flags != 1 || hdr.nbuf != 1 || hdr.nrec != 4 || hdr.name != "sample_persistent.tdb" ||
		hdr.timestamp < before || hdr.timestamp > after || !bytes.Equal(data[40+len(hdr.name):backupHeaderSize], make([]byte, backupHeaderSize-40-len(hdr.name))) {
		t.Errorf("header %+v % x", hdr, data[:backupHeaderSize])
	}
	if len(data) != 5000 || data[4999] != 'X' {
		t.Errorf("file of %d bytes", len(data))
	}
	buf, err := readBackupBuffer(bytes.NewReader(data[backupHeaderSize:]))
	if err != nil {
		t.Fatal(err)
	}
	if buf.dbID != samplePersistent.id || buf.count != 4 {
		t.Errorf("buffer of db 0x%08x, %d records", buf.dbID, buf.count)
	}
	// The records as stored, empty ones and the sequence number included.
	stored := f.readTDB(f.dbs[0].path)
	n := 0
	buf.walk(func(key, value []byte) error {
		r := stored[string(key)]
		if !bytes.Equal(value, append(r.hdr.AppendTo(nil), r.data...)) {
			t.Errorf("%q: %x", key, value)
		}
		n++
		return nil
	})
	if n != 4 {
		t.Errorf("%d records", n)
	}
	// Only attaches: no traverse through the daemon.
	for _, op := range f.fd.opcodes() {
		if op == protocol.ControlTraverseStartExt || op == protocol.ControlTraverseAll {
			t.Errorf("backupdb sent %s", op)
		}
	}

	// Buffers are cut once they reach 100000 bytes.
	var big []dumpRecord
	for i := 0; i < 250; i++ {
		big = append(big, dumpRecord{[]byte(fmt.Sprintf("key%03d", i)), bytes.Repeat([]byte{byte(i)}, 1000), protocol.LtdbHeader{RSN: 1}})
	}
	f.writeTDB(f.dbs[0].path, big)
	path2 := filepath.Join(f.dir, "big")
	expect(t, f.run("backupdb", "0x3fbc3d69", path2), "Database backed up to "+path2+"\n", "", 0)
	data, _ = os.ReadFile(path2)
	hdr = parseBackupHeader(data)
	if hdr.nbuf != 3 || hdr.nrec != 250 {
		t.Errorf("header %+v", hdr)
	}
	r := bytes.NewReader(data[backupHeaderSize:])
	total := 0
	for i := 0; i < 3; i++ {
		b, err := readBackupBuffer(r)
		if err != nil {
			t.Fatal(err)
		}
		const recLen = 16 + 6 + 24 + 1000
		if i < 2 && (b.len() < backupBufferFlush || b.len()-recLen >= backupBufferFlush) {
			t.Errorf("buffer %d of %d bytes", i, b.len())
		}
		total += int(b.count)
	}
	if total != 250 || r.Len() != 0 {
		t.Errorf("%d records, %d bytes left", total, r.Len())
	}
	got := runTool(nil, nil, "dumpdbbackup", path2)
	if got.rc != 0 || !strings.HasSuffix(got.stdout, "\nDumped 250 record(s)\n") || strings.Count(got.stdout, "key(6)") != 250 {
		t.Errorf("dump of the big backup: rc %d %q", got.rc, got.stderr)
	}

	expect(t, f.run("backupdb", "nosuch", path), "", "No database matching 'nosuch' found\n", 1)
	expect(t, f.run("backupdb", "ctdb.tdb", filepath.Join(f.dir, "no", "such")), "", "Failed to open file "+filepath.Join(f.dir, "no", "such")+" for writing\n", 2)
	expect(t, f.run("-n", "1", "backupdb", "ctdb.tdb", path), "", "Node cannot be specified for command backupdb\n", 1)
}

func TestDumpdbbackupErrors(t *testing.T) {
	dir := t.TempDir()
	recs := sampleBackupRecords(t)
	good := filepath.Join(dir, "good")
	writeBackup(t, good, backupHeader{name: "x.tdb"}, 1, 2, recs)
	data, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	v4 := append([]byte{4}, data[1:]...)
	expect(t, runTool(nil, nil, "dumpdbbackup", write("v4", v4)), "", "Wrong version of backup file, expected 3, got 4\n", 22)
	expect(t, runTool(nil, nil, "dumpdbbackup", write("short", []byte("xx"))), "", "Wrong version of backup file, expected 3, got 30840\n", 22)
	expect(t, runTool(nil, nil, "dumpdbbackup", filepath.Join(dir, "none")), "", "Failed to open file "+filepath.Join(dir, "none")+" for reading\n", 2)
	expect(t, runTool(nil, nil, "dumpdbbackup", dir), "", "Failed to read db header from file "+dir+"\n", 21)
	// Cut in the second buffer: the first is shown.
	got := runTool(nil, nil, "dumpdbbackup", write("cut", data[:len(data)-5]))
	if got.rc != 2 || got.stderr != "Failed to read records\n" || strings.Count(got.stdout, "key(") != 2 {
		t.Errorf("cut file: %+v", got)
	}
	// A record without an ltdb header stops the dump.
	bad := filepath.Join(dir, "bad")
	b := &backupBuffer{dbID: 1}
	b.add([]byte("ok"), append((&protocol.LtdbHeader{RSN: 1}).AppendTo(nil), 'v'))
	b.add([]byte("bad"), []byte("short"))
	os.WriteFile(bad, append((&backupHeader{version: 3, nbuf: 1, nrec: 2, name: "x.tdb"}).marshal(), b.fileBytes()...), 0o600)
	got = runTool(nil, nil, "dumpdbbackup", bad)
	if got.rc != 90 || got.stderr != "Failed to dump records\n" || !strings.Contains(got.stdout, "key(2) = \"ok\"") {
		t.Errorf("bad record: %+v", got)
	}
	expect(t, runTool(nil, nil, "-n", "0", "dumpdbbackup", good), "", "Cannot specify node for command dumpdbbackup\n", 1)
	// The real tool asks for the usage of "dumpbackup", which it does not
	// know: the usage of every command.
	var all strings.Builder
	printUsage(&all, "")
	expect(t, runTool(nil, nil, "dumpdbbackup"), all.String(), "", 1)
}

// restoreFixture is a fixture of node 1 whose node 2 is stopped (not
// active), answering DB_PUSH_CONFIRM with confirm(pnn).
func restoreFixture(t *testing.T, confirm func(pnn uint32) []byte) *dbFixture {
	f := newDBFixture(t, 1, samplePersistent, sampleCtdb)
	f.nodemap = threeNodes(0, 0, protocol.NodeFlagStopped)
	f.fd.reply(protocol.ControlDBPushStart, 0, nil)
	f.fd.on(protocol.ControlDBPushConfirm, func(req *protocol.ReqControl) (int32, []byte, bool) {
		return 0, confirm(req.DestNode), true
	})
	return f
}

func TestRestoredb(t *testing.T) {
	recs := sampleBackupRecords(t)
	f := restoreFixture(t, func(uint32) []byte { return protocol.U32(4) })
	path := filepath.Join(f.dir, "backup")
	hdr := backupHeader{timestamp: tCurrent - 2, flags: uint64(protocol.DBFlagPersistent), name: "sample_persistent.tdb"}
	bufs := writeBackup(t, path, hdr, 0x8b0b44d0, 3, recs)
	expect(t, f.run("restoredb", path), "Restoring database sample_persistent.tdb from backup @ 2026/11/21 19:36:18\n"+
		"Database sample_persistent.tdb restored\n", "", 0)
	id := samplePersistent.id
	trans := (&protocol.TransDB{DBID: id, TID: 35991741}).Marshal()
	push := (&protocol.PullDBExt{DBID: id, SrvID: 0xCE02000000000000}).Marshal()
	wantData := map[protocol.Opcode][]byte{
		protocol.ControlDBFreeze: protocol.U32(id), protocol.ControlDBTransactionStart: trans,
		protocol.ControlWipeDatabase: trans, protocol.ControlDBPushStart: push,
		protocol.ControlDBPushConfirm: protocol.U32(id), protocol.ControlDBSetHealthy: protocol.U32(id),
		protocol.ControlDBTransactionCommit: trans, protocol.ControlDBThaw: protocol.U32(id),
	}
	var ops []string
	for _, r := range f.fd.reqs() {
		if want, ok := wantData[r.Opcode]; ok {
			if !bytes.Equal(r.Data, want) {
				t.Errorf("%s data %x", r.Opcode, r.Data)
			}
			ops = append(ops, fmt.Sprintf("%s>%d", r.Opcode, r.DestNode))
		}
		if r.Opcode == protocol.ControlDBAttachPersistent && protocol.ParseCString(r.Data) != "sample_persistent.tdb" {
			t.Errorf("attached %q", r.Data)
		}
	}
	want := "DB_FREEZE>0 DB_FREEZE>1 DB_TRANSACTION_START>0 DB_TRANSACTION_START>1 WIPE_DATABASE>0 WIPE_DATABASE>1 " +
		"DB_PUSH_START>0 DB_PUSH_START>1 DB_PUSH_CONFIRM>0 DB_PUSH_CONFIRM>1 DB_SET_HEALTHY>0 DB_SET_HEALTHY>1 " +
		"DB_TRANSACTION_COMMIT>0 DB_TRANSACTION_COMMIT>1 DB_THAW>0 DB_THAW>1"
	if s := strings.Join(sortedMulti(ops), " "); s != want {
		t.Errorf("controls\n%s\nwant\n%s", s, want)
	}
	// Each buffer of the file, as it is, to every active node.
	msgs := f.fd.sentMessages()
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, m := range msgs {
		if m.SrvID != srvIDPushDB || m.DestNode != uint32(i%2) || !bytes.Equal(m.Data, bufs[i/2].wire()) {
			t.Errorf("message %d: srvid %#x to %d, %x", i, m.SrvID, m.DestNode, m.Data)
		}
	}

	// Under another name: that database is attached with the file's flags.
	got := f.run("restoredb", path, "other.tdb")
	if got.rc != 0 || got.stdout != "Restoring database other.tdb from backup @ 2026/11/21 19:36:18\nDatabase other.tdb restored\n" {
		t.Errorf("%+v", got)
	}
	if d := f.db(tdb.JenkinsHash([]byte("other.tdb"))); d == nil || d.flags != protocol.DBFlagPersistent {
		t.Errorf("other.tdb %+v", d)
	}

	// A node that took another number of records: recovery, yet status 0.
	f2 := restoreFixture(t, func(pnn uint32) []byte { return protocol.U32(4 - pnn) })
	path2 := filepath.Join(f2.dir, "backup")
	writeBackup(t, path2, hdr, 1, 3, recs)
	expect(t, f2.run("restoredb", path2), "Restoring database sample_persistent.tdb from backup @ 2026/11/21 19:36:18\n",
		"Node 1 received 3 of 4 records\n", 0)
	checkRecovery := func(f *dbFixture, notSent protocol.Opcode) {
		t.Helper()
		reqs := f.fd.reqs()
		last := reqs[len(reqs)-1]
		if last.Opcode != protocol.ControlSetRecMode || last.DestNode != 1 || !bytes.Equal(last.Data, protocol.U32(1)) {
			t.Errorf("last control %s to %d %x", last.Opcode, last.DestNode, last.Data)
		}
		for _, r := range reqs {
			if r.Opcode == notSent {
				t.Errorf("%s sent", notSent)
			}
		}
	}
	checkRecovery(f2, protocol.ControlDBSetHealthy)

	// A step fails: recovery, the status.
	f3 := restoreFixture(t, func(uint32) []byte { return protocol.U32(4) })
	path3 := filepath.Join(f3.dir, "backup")
	writeBackup(t, path3, hdr, 1, 3, recs)
	f3.fd.on(protocol.ControlDBFreeze, func(req *protocol.ReqControl) (int32, []byte, bool) {
		return -int32(req.DestNode) - 2, nil, true
	})
	got = f3.run("restoredb", path3)
	if got.rc != 254 && got.rc != 253 {
		t.Errorf("failed freeze: %+v", got)
	}
	checkRecovery(f3, protocol.ControlDBTransactionStart)
	// A file cut short: the error of the read, after the push started.
	f3.fd.reply(protocol.ControlDBFreeze, 0, nil)
	data, _ := os.ReadFile(path3)
	os.WriteFile(path3, data[:len(data)-3], 0o600)
	got = f3.run("restoredb", path3)
	if got.rc != 2 || got.stderr != "" {
		t.Errorf("cut file: %+v", got)
	}
	checkRecovery(f3, protocol.ControlDBPushConfirm)

	expect(t, f3.run("restoredb", filepath.Join(f3.dir, "none")), "", "Failed to open file "+filepath.Join(f3.dir, "none")+" for reading\n", 2)
	os.WriteFile(path3, append([]byte{7}, data[1:]...), 0o600)
	expect(t, f3.run("restoredb", path3), "", "Wrong version of backup file, expected 3, got 7\n", 22)
	expect(t, f3.run("-n", "0", "restoredb", path3), "", "Node cannot be specified for command restoredb\n", 1)
}

func TestTfetchTstore(t *testing.T) {
	f := newDBFixture(t, 0, sampleGLock)
	path := filepath.Join(f.dir, "t.tdb")
	f.writeTDB(path, nil)
	expect(t, f.run("tstore", path, "k", "0x00ff", "0x10", "7"), "", "", 0)
	expect(t, f.run("tfetch", path, "k"), "dmaster: 7\nrsn: 16\nflags: 0x00000000\ndata(2) = \"\\00\\FF\"\n", "", 0)
	expect(t, f.run("tstore", path, "plain", "v"), "", "", 0)
	out := filepath.Join(f.dir, "out")
	expect(t, f.run("-n", "2", "tfetch", path, "plain", out), "dmaster: 0\nrsn: 0\nflags: 0x00000000\ndata(1) = \"v\"\n", "", 0)
	if b, _ := os.ReadFile(out); !bytes.Equal(b, append(make([]byte, 24), 'v')) {
		t.Errorf("record written %x", b)
	}
	expect(t, f.run("tfetch", path, "plain", filepath.Join(f.dir, "no", "out")), "dmaster: 0\nrsn: 0\nflags: 0x00000000\ndata(1) = \"v\"\n",
		"Failed to open output file "+filepath.Join(f.dir, "no", "out")+"\n", 0)
	expect(t, f.run("tfetch", path, "nokey"), "", "No record for key nokey\n", 1)
	db, _ := tdb.Open(path, 0, 0, os.O_RDWR, 0)
	db.Store([]byte("short"), []byte("abc"), tdb.Replace)
	db.Close()
	expect(t, f.run("tfetch", path, "short"), "", "Invalid record for key short\n", 1)
	expect(t, f.run("tfetch", filepath.Join(f.dir, "none"), "k"), "", "Failed to open TDB file "+filepath.Join(f.dir, "none")+"\n", 1)
	expect(t, f.run("tstore", path, "k", "v", "x"), "", "", 22)
	expect(t, f.run("tstore", path, "0x1", "v"), "", "Key (1) contains odd number of hex digits\nFailed to parse key 0x1\n", 22)
}
