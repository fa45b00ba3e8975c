package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// pFixture is a dbFixture ready for transactions: g_lock.tdb holds the
// lock records of its persistent databases with this node as dmaster (the
// fake daemon does no migrations), TRANS3_COMMIT is recorded and answered
// with the statuses queued (then 0), PROCESS_EXISTS with exists.
type pFixture struct {
	*dbFixture

	mu       sync.Mutex
	commits  [][]byte // TRANS3_COMMIT data, in order
	applied  int      // commits written into the cluster's TDB files
	statuses []int32
	exists   func(req *protocol.ReqControl) int32
	checks   []*protocol.ReqControl // the PROCESS_EXISTS received
}

func newPFixture(t *testing.T, pnn uint32, dbs ...sampleDB) *pFixture {
	t.Helper()
	if !slices.Contains(dbs, sampleGLock) {
		dbs = append(dbs, sampleGLock)
	}
	f := newDBFixture(t, pnn, dbs...)
	p := &pFixture{dbFixture: f}
	f.fd.on(protocol.ControlTrans3Commit, func(req *protocol.ReqControl) (int32, []byte, bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.commits = append(p.commits, req.Data)
		if req.SrvID != 0 || req.Flags != 0 || req.DestNode != pnn {
			t.Errorf("TRANS3_COMMIT srvid %d flags %d to %d", req.SrvID, req.Flags, req.DestNode)
		}
		if len(p.statuses) > 0 {
			st := p.statuses[0]
			p.statuses = p.statuses[1:]
			return st, nil, true
		}
		return 0, nil, true
	})
	f.fd.on(protocol.ControlProcessExists, func(req *protocol.ReqControl) (int32, []byte, bool) {
		p.mu.Lock()
		p.checks = append(p.checks, req)
		exists := p.exists
		p.mu.Unlock()
		if exists == nil {
			return -1, nil, true
		}
		return exists(req), nil, true
	})
	p.setGLocks()
	return p
}

// gLockKey is the key of a database's transaction lock.
func gLockKey(id uint32) []byte { return fmt.Appendf(nil, "transaction_db_0x%08x\x00", id) }

// setGLocks writes the lock records of the persistent databases, with
// the entries given for the first one.
func (p *pFixture) setGLocks(locks ...protocol.GLock) {
	p.t.Helper()
	var recs []dumpRecord
	for i, d := range p.dbs {
		if d.flags&(protocol.DBFlagPersistent|protocol.DBFlagReplicated) == 0 {
			continue
		}
		var data []byte
		if len(recs) == 0 {
			data = (&protocol.GLockList{Locks: locks}).Marshal()
		}
		recs = append(recs, dumpRecord{gLockKey(d.id), data, protocol.LtdbHeader{RSN: uint64(i), DMaster: p.pnn}})
	}
	p.writeTDB(p.db(sampleGLock.id).path, recs)
}

// gLocks returns the entries of a database's lock record.
func (p *pFixture) gLocks(id uint32) []protocol.GLock {
	p.t.Helper()
	r := p.readTDB(p.db(sampleGLock.id).path)[string(gLockKey(id))]
	var l protocol.GLockList
	if err := l.Unmarshal(r.data); err != nil {
		p.t.Fatal(err)
	}
	return l.Locks
}

// commitBuffers decodes the TRANS3_COMMITs received.
func (p *pFixture) commitBuffers() []protocol.RecBuffer {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []protocol.RecBuffer
	for _, c := range p.commits {
		var rb protocol.RecBuffer
		if err := rb.Unmarshal(c); err != nil || !bytes.Equal(rb.Marshal(), c) {
			p.t.Fatalf("TRANS3_COMMIT data %x: %v", c, err)
		}
		l = append(l, rb)
	}
	return l
}

// applyTo writes the commits not applied yet into the TDB files of the
// nodes, as the daemons' UPDATE_RECORD does, and keeps their GET_DB_SEQNUM
// answer in step.
func (p *pFixture) applyTo(nodes ...*pFixture) {
	p.t.Helper()
	bufs := p.commitBuffers()
	p.mu.Lock()
	todo := bufs[p.applied:]
	p.applied = len(bufs)
	p.mu.Unlock()
	for _, rb := range todo {
		for _, n := range nodes {
			d := n.db(rb.DBID)
			db, err := tdb.Open(d.path, 0, 0, os.O_RDWR, 0)
			if err != nil {
				p.t.Fatal(err)
			}
			for _, r := range rb.Records {
				if err := db.Store(r.Key, r.Data, tdb.Replace); err != nil {
					p.t.Fatal(err)
				}
				if string(r.Key) == client.SeqnumKey {
					d.seqnum, _ = protocol.ParseU64(r.Data[protocol.LtdbHeaderSize:])
				}
			}
			db.Close()
		}
	}
}

// txRec is a record of a commit buffer.
func txRec(key string, rsn uint64, dmaster uint32, data string) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: dmaster}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

func seqRec(n uint64, dmaster uint32) protocol.RecData {
	return txRec(client.SeqnumKey, n, dmaster, string(protocol.U64(n)))
}

// samplePtransInput is what the capture feeds ptrans.
const samplePtransInput = `"key2" "value2"
"key3" "value with spaces"
"key1" "value1-updated-by-ptrans"
`

// sortBlocks sorts the records of a dump (for libtdb's order), after
// dumpdbbackup's first line.
func sortBlocks(s string) string {
	head := ""
	if strings.HasPrefix(s, "Dumping ") {
		i := strings.IndexByte(s, '\n')
		head, s = s[:i+1], s[i+1:]
	}
	blocks := strings.Split(s, "\n\n")
	sort.Strings(blocks)
	return head + strings.Join(blocks, "\n\n")
}

// captureOutput is the output of a command of a capture file that
// loadSamples does not take (it is no ctdb-node.sh command).
func captureOutput(t *testing.T, file, command string) string {
	t.Helper()
	data, err := readTestdata(file)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "$ "+command+"\n")
	if !ok {
		t.Fatalf("no %q in %s", command, file)
	}
	out, _, _ := strings.Cut(after, "[rc=")
	return out
}

// TestPersistentSamples replays the persistent capture on three fake
// nodes whose TDB files receive each commit, as the daemons write them.
func TestPersistentSamples(t *testing.T) {
	p := loadSamples(t, "samples-persistent.txt")
	var nodes []*pFixture
	for pnn := uint32(0); pnn < 3; pnn++ {
		nodes = append(nodes, newPFixture(t, pnn, samplePersistent, sampleCtdb))
	}
	step := func(key string) {
		t.Helper()
		n := nodes[key[0]-'0']
		checkRun(t, key, n.run(args(key)...), p[key])
		n.applyTo(nodes...)
	}
	step("0 pstore sample_persistent.tdb key1 value1")
	// The wire: the attaches, then one TRANS3_COMMIT of the record and
	// the sequence number, then the lock record's deletion.
	want := protocol.RecBuffer{DBID: samplePersistent.id, Records: []protocol.RecData{
		txRec("key1", 1, 0, "value1"), seqRec(1, 0),
	}}
	if c := nodes[0].commitBuffers(); len(c) != 1 || !bytes.Equal(c[0].Marshal(), want.Marshal()) {
		t.Errorf("pstore commit %+v", c)
	}
	var ops []string
	for _, r := range nodes[0].fd.reqs() {
		switch r.Opcode {
		case protocol.ControlGetPNN, protocol.ControlRegisterSrvID, protocol.ControlGetDBMap, protocol.ControlGetDBName:
			continue
		}
		if r.DestNode != 0 {
			t.Errorf("%s to %d", r.Opcode, r.DestNode)
		}
		ops = append(ops, r.Opcode.String())
	}
	if s := strings.Join(ops, " "); s != "DB_ATTACH_PERSISTENT GETDBPATH DB_GET_HEALTH DB_OPEN_FLAGS "+
		"DB_ATTACH GETDBPATH DB_GET_HEALTH DB_OPEN_FLAGS TRANS3_COMMIT SCHEDULE_FOR_DELETION" {
		t.Errorf("pstore controls %s", s)
	}
	step("2 pfetch sample_persistent.tdb key1")
	step("1 pfetch sample_persistent.tdb key1")
	step("1 pfetch sample_persistent.tdb no-such-key")
	expect(t, runToolInput(nodes[1].fd, nil, samplePtransInput, "ptrans", "sample_persistent.tdb"), "", "", 0)
	nodes[1].applyTo(nodes...)
	want.Records = []protocol.RecData{
		txRec("key2", 1, 1, "value2"), txRec("key3", 1, 1, "value with spaces"),
		txRec("key1", 2, 1, "value1-updated-by-ptrans"), seqRec(2, 1),
	}
	if c := nodes[1].commitBuffers(); len(c) != 1 || !bytes.Equal(c[0].Marshal(), want.Marshal()) {
		t.Errorf("ptrans commit %+v", c)
	}
	// The capture's second pfetch of key1 (loadSamples keeps the first).
	expect(t, nodes[2].run("pfetch", "sample_persistent.tdb", "key1"), "value1-updated-by-ptrans\n", "", 0)
	step("0 pfetch sample_persistent.tdb key3")
	step("0 getdbseqnum sample_persistent.tdb")
	step("2 getdbseqnum sample_persistent.tdb")
	step("1 pdelete sample_persistent.tdb key2")
	step("2 pfetch sample_persistent.tdb key2")

	// Every node's file holds what tdbdump showed, and cattdb shows it.
	for pnn, n := range nodes {
		cmd := fmt.Sprintf("tdbdump /srv/ctdbtest/node%d/db/persistent/sample_persistent.tdb.%d", pnn, pnn)
		wantRecs := parseTdbdump(t, captureOutput(t, "samples-persistent.txt", cmd))
		got := n.readTDB(n.db(samplePersistent.id).path)
		if len(got) != len(wantRecs) {
			t.Errorf("node %d: %d records, want %d", pnn, len(got), len(wantRecs))
		}
		for k, v := range wantRecs {
			r := got[k]
			if !bytes.Equal(append(r.hdr.AppendTo(nil), r.data...), v) {
				t.Errorf("node %d %q: %x, want %x", pnn, k, append(r.hdr.AppendTo(nil), r.data...), v)
			}
		}
	}
	got := nodes[1].run("cattdb", "sample_persistent.tdb")
	got.stdout = sortBlocks(got.stdout)
	w := p["1 cattdb sample_persistent.tdb"]
	w.stdout = sortBlocks(w.stdout)
	checkRun(t, "1 cattdb", got, w)

	// backupdb, then dumpdbbackup of the file: the capture's records, in
	// libtdb's order, at our time.
	file := nodes[0].dir + "/sample_persistent.backup"
	got = nodes[0].run("backupdb", "sample_persistent.tdb", file)
	w = p["0 backupdb sample_persistent.tdb /srv/ctdbtest/sample_persistent.backup"]
	w.stdout = strings.ReplaceAll(w.stdout, "/srv/ctdbtest/sample_persistent.backup", file)
	checkRun(t, "0 backupdb", got, w)
	setBackupTime(t, file, tCurrent-2)
	got = runTool(nil, nil, "dumpdbbackup", file)
	got.stdout = sortBlocks(got.stdout)
	w = p["0 dumpdbbackup /srv/ctdbtest/sample_persistent.backup"]
	w.stdout = sortBlocks(w.stdout)
	checkRun(t, "0 dumpdbbackup", got, w)

	for _, key := range []string{
		"0 pstore sample_persistent.tdb from-node0 written-on-node0",
		"1 pstore sample_persistent.tdb from-node1 written-on-node1",
		"2 pstore sample_persistent.tdb from-node2 written-on-node2",
		"0 pfetch sample_persistent.tdb from-node0",
		"1 pfetch sample_persistent.tdb from-node0", "2 pfetch sample_persistent.tdb from-node0",
		"0 pfetch no_such_db.tdb key1", "0 pstore sample_persistent.tdb",
	} {
		step(key)
	}
	if s := nodes[2].db(samplePersistent.id).seqnum; s != 6 {
		t.Errorf("seqnum %d after six commits", s)
	}
	// No migrations were needed.
	for _, n := range nodes {
		if c := n.fd.callCount(); c != 0 {
			t.Errorf("node %d: %d REQ_CALLs", n.pnn, c)
		}
	}
}

// parseTdbdump reads tdbdump's output: the raw values by key.
func parseTdbdump(t *testing.T, text string) map[string][]byte {
	t.Helper()
	recs := map[string][]byte{}
	var key string
	for _, line := range strings.Split(text, "\n") {
		quoted := func() []byte { return unescapeData(t, line[strings.Index(line, "\"")+1:len(line)-1]) }
		switch {
		case strings.HasPrefix(line, "key("):
			key = string(quoted())
		case strings.HasPrefix(line, "data("):
			recs[key] = quoted()
		}
	}
	if len(recs) == 0 {
		t.Fatal("no records in the tdbdump capture")
	}
	return recs
}

// setBackupTime sets the time in a backup file's header.
func setBackupTime(t *testing.T, path string, sec int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(protocol.U64(uint64(sec)), 8); err != nil {
		t.Fatal(err)
	}
}

func TestTransactionCommands(t *testing.T) {
	f := newPFixture(t, 1, append(sampleDBMap(false), sampleDB{0x11223344, "r.tdb", protocol.DBFlagReplicated})...)
	pid := f.db(samplePersistent.id)
	f.writeTDB(pid.path, []dumpRecord{
		{[]byte("nul"), []byte("ab\x00cd"), protocol.LtdbHeader{RSN: 4, DMaster: 0}},
		{[]byte("k"), []byte("v"), protocol.LtdbHeader{RSN: 7, DMaster: 2, Flags: 0x10000}},
		{[]byte(client.SeqnumKey), protocol.U64(9), protocol.LtdbHeader{RSN: 9, DMaster: 2}},
	})
	// printf "%.*s" stops at a NUL; the key may be given in hex.
	expect(t, f.run("pfetch", "sample_persistent.tdb", "0x6e756c"), "ab\n", "", 0)
	// A store keeps the header's flags, takes our node as dmaster and the
	// next rsn; an unchanged value commits nothing.
	expect(t, f.run("pstore", "0x3fbc3d69", "k", "0x7677"), "", "", 0)
	expect(t, f.run("pstore", "sample_persistent.tdb", "nul", "0x61620063640a"), "", "", 0)
	expect(t, f.run("pstore", "sample_persistent.tdb", "nul", "0x6162006364"), "", "", 0)
	expect(t, f.run("pdelete", "sample_persistent.tdb", "nosuch"), "", "", 0)
	c := f.commitBuffers()
	want := protocol.RecBuffer{DBID: samplePersistent.id, Records: []protocol.RecData{
		{Key: []byte("k"), Data: append((&protocol.LtdbHeader{RSN: 8, DMaster: 1, Flags: 0x10000}).AppendTo(nil), "vw"...)},
		seqRec(10, 1),
	}}
	if len(c) != 2 || !bytes.Equal(c[0].Marshal(), want.Marshal()) {
		t.Fatalf("commits %+v", c)
	}
	// A replicated database has transactions too.
	expect(t, f.run("pstore", "r.tdb", "a", "b"), "", "", 0)
	if c = f.commitBuffers(); len(c) != 3 || c[2].DBID != 0x11223344 {
		t.Errorf("replicated commit %+v", c)
	}
	// Every run released the lock, leaving an empty record.
	if l := f.gLocks(samplePersistent.id); len(l) != 0 {
		t.Errorf("locks left %+v", l)
	}

	// A refused commit is sent again while the seqnum has not moved.
	f.mu.Lock()
	f.statuses = []int32{-1, 1}
	f.mu.Unlock()
	expect(t, f.run("pstore", "sample_persistent.tdb", "k", "x"), "", "", 0)
	if c = f.commitBuffers(); len(c) != 6 || !bytes.Equal(c[3].Marshal(), c[5].Marshal()) {
		t.Errorf("%d commits", len(c))
	}

	// A dead holder's entry is removed; a live one is waited for.
	other := protocol.ServerID{PID: 31337, TaskID: samplePersistent.id, VNN: 2, UniqueID: uint64(samplePersistent.id)<<32 | 31337}
	f.setGLocks(protocol.GLock{Type: protocol.GLockWrite, SID: other})
	alive := 2
	f.mu.Lock()
	f.exists = func(req *protocol.ReqControl) int32 {
		if req.DestNode != 2 || !bytes.Equal(req.Data, protocol.U32(31337)) {
			t.Errorf("PROCESS_EXISTS to %d %x", req.DestNode, req.Data)
		}
		if alive > 0 {
			alive--
			return 0
		}
		return -1
	}
	f.mu.Unlock()
	expect(t, f.run("pstore", "sample_persistent.tdb", "k", "y"), "", "", 0)
	f.mu.Lock()
	checks := len(f.checks)
	f.mu.Unlock()
	if checks != 3 || alive != 0 {
		t.Errorf("%d PROCESS_EXISTS", checks)
	}
	// A live reader does not stop pfetch, and stays.
	f.setGLocks(protocol.GLock{Type: protocol.GLockRead, SID: other})
	expect(t, f.run("pfetch", "sample_persistent.tdb", "k"), "v\n", "", 0)
	if l := f.gLocks(samplePersistent.id); len(l) != 1 || l[0].SID != other {
		t.Errorf("locks %+v", l)
	}

	// The g_lock failures, as the library reports them.
	me := protocol.ServerID{PID: uint64(os.Getpid()), TaskID: samplePersistent.id, VNN: 1, UniqueID: uint64(samplePersistent.id)<<32 | uint64(os.Getpid())}
	f.setGLocks(protocol.GLock{Type: protocol.GLockRead, SID: me})
	expect(t, f.run("pstore", "sample_persistent.tdb", "k", "z"), "",
		"g_lock_lock: transaction_db_0x3fbc3d69 deadlock\n"+
			"transaction_start: sample_persistent.tdb g_lock lock failed, ret=35\n"+
			"Failed to start transaction on db sample_persistent.tdb\n", 35)
	f.setGLocks(protocol.GLock{Type: 2, SID: other})
	expect(t, f.run("pfetch", "sample_persistent.tdb", "k"), "",
		"g_lock_lock: transaction_db_0x3fbc3d69 invalid lock data\n"+
			"transaction_start: sample_persistent.tdb g_lock lock failed, ret=71\n"+
			"Failed to start transaction on db sample_persistent.tdb\n", 71)
	f.setGLocks()
	f.fd.reply(protocol.ControlDBAttach, -1, nil)
	expect(t, f.run("pdelete", "sample_persistent.tdb", "k"), "",
		"attach: g_lock.tdb failed to get db_id, ret=-1\n"+
			"transaction_start: sample_persistent.tdb attach g_lock.tdb failed\n"+
			"Failed to start transaction on db sample_persistent.tdb\n", 1)

	// Refusals before any transaction.
	for _, a := range [][]string{{"pfetch", "g_lock.tdb", "k"}, {"pstore", "0x440ded14", "k", "v"}, {"pdelete", "g_lock.tdb", "k"}, {"ptrans", "g_lock.tdb"}} {
		name := "g_lock.tdb"
		if a[1] != name {
			name = "sample_volatile.tdb"
		}
		expect(t, f.run(a...), "", "Transactions not supported on DB "+name+"\n", 1)
	}
	expect(t, f.run("pstore", "sample_persistent.tdb", "0x1", "v"), "", "Key (1) contains odd number of hex digits\nFailed to parse key 0x1\n", 22)
	expect(t, f.run("pstore", "sample_persistent.tdb", "k", "0xq1"), "", "Invalid hex: q1\nFailed to parse value 0xq1\n", 22)
	before := len(f.fd.reqs())
	expect(t, f.run("ptrans", "sample_persistent.tdb", "/nonexistent/file"), "", "Failed to open file /nonexistent/file\n", 1)
	for _, r := range f.fd.reqs()[before:] {
		if r.Opcode == protocol.ControlDBAttachPersistent {
			t.Error("ptrans attached before opening its file")
		}
	}
	for _, a := range []string{"pfetch", "pstore", "pdelete", "ptrans"} {
		expect(t, f.run("-n", "0", a, "sample_persistent.tdb", "k", "v"), "", "Node cannot be specified for command "+a+"\n", 1)
	}
	usage := func(args ...string) {
		t.Helper()
		got := f.run(args...)
		if got.rc != 1 || got.stderr != "" || !strings.HasSuffix(got.stdout, "\nCommands:\n  "+fmt.Sprintf("%-15s %-27s  %s\n", args[0], commands[args[0]].args, commandHelp(args[0]))) {
			t.Errorf("%v: %+v", args, got)
		}
	}
	usage("pfetch", "a")
	usage("pstore", "a", "k")
	usage("pdelete", "a", "k", "v")
	usage("ptrans")
	usage("ptrans", "a", "b", "c")
	usage("backupdb", "a")
	usage("restoredb")
	usage("restoredb", "a", "b", "c")
	usage("tfetch", "a")
	usage("tstore", "a", "b", "c", "d", "e", "f")
}

// TestPtransInput: the lines ptrans takes, skips and complains about.
func TestPtransInput(t *testing.T) {
	f := newPFixture(t, 0, samplePersistent)
	f.writeTDB(f.db(samplePersistent.id).path, []dumpRecord{{[]byte("gone"), []byte("x"), protocol.LtdbHeader{RSN: 3}}})
	long := strings.Repeat("a", 1100)
	input := "\"k1\" \"v1\"\n" +
		"  \t\"k2\"   \"0x414243\" trailing\n" +
		"\"gone\" \"\"\n" +
		"\"\" \"0xzz skipped without a word\"\n" +
		"\"0x\" \"0xzz rest\"\n" +
		"\"k5\" \"unterminated\n" +
		"k6 \"v6\"\n" +
		"\n" +
		"\"long\" \"" + long + "\"\n" +
		"\"k9\" \"with\x00nul\"\n" +
		"\"k1\" \"v1-again\"\n" +
		"\"k10\" \"no newline\""
	got := runToolInput(f.fd, nil, input, "ptrans", "sample_persistent.tdb")
	expect(t, got, "",
		"Key (zz rest\"\n) contains odd number of hex digits\n"+
			"Unmatched \" in input  \"unterminated\n\n"+
			"Unsupported input format in k6 \"v6\"\n\n"+
			"Unsupported input format in \n\n"+
			"Unmatched \" in input  \""+long[:1023-8]+"\n"+
			"Unsupported input format in "+long[1023-8:]+"\"\n\n"+
			"Unmatched \" in input  \"with\n", 0)
	c := f.commitBuffers()
	want := protocol.RecBuffer{DBID: samplePersistent.id, Records: []protocol.RecData{
		txRec("k1", 1, 0, "v1"), txRec("k2", 1, 0, "ABC"), txRec("gone", 4, 0, ""),
		txRec("k1", 2, 0, "v1-again"), txRec("k10", 1, 0, "no newline"), seqRec(1, 0),
	}}
	if len(c) != 1 || !bytes.Equal(c[0].Marshal(), want.Marshal()) {
		t.Errorf("commit %+v", c)
	}
	// From a file; nothing to store: no commit.
	f.applyTo(f)
	file := f.dir + "/in.txt"
	os.WriteFile(file, []byte("\"k1\" \"v1-again\"\n"), 0o600)
	expect(t, f.run("ptrans", "sample_persistent.tdb", file), "", "", 0)
	if n := len(f.commitBuffers()); n != 1 {
		t.Errorf("%d commits", n)
	}
}

func errnoErr(n int) error { return syscall.Errno(n) }

// TestTxErrMessages: the client library's messages for the failures the
// fake daemon cannot cause.
func TestTxErrMessages(t *testing.T) {
	db := &client.DB{ID: 0x3fbc3d69, Name: "p.tdb"}
	tdbErr := func(op string) error { return &tdb.Error{Op: op, Msg: "IO Error"} }
	for _, c := range []struct {
		step   client.TxStep
		err    error
		op     string
		stderr string
		rc     int
	}{
		{client.TxSeqnumMismatch, &client.SeqnumMismatchError{Before: 2, Now: 4}, "transaction_commit",
			"transaction_commit: p.tdb seqnum mismatch 0x4 != 0x2 + 1\n", 5},
		{client.TxSeqnum, tdbErr("fetch"), "transaction_commit", "transaction_commit: p.tdb seqnum fetch failed, ret=5\n", 5},
		{client.TxSeqnum, fmt.Errorf("x: %w", errnoErr(errnoEINVAL)), "transaction_commit", "", 22},
		{client.TxGLockFetch, tdbErr("chainlock"), "transaction_start",
			"fetch_lock: g_lock.tdb tdb_chainlock failed, IO Error\ng_lock_lock: transaction_db_0x3fbc3d69 fetch lock failed\n" +
				"transaction_start: p.tdb g_lock lock failed, ret=5\n", 5},
		{client.TxGLockStore, tdbErr("store"), "transaction_start",
			"store_record: g_lock.tdb tdb_storev failed, IO Error\ntransaction_start: p.tdb g_lock lock failed, ret=5\n", 5},
		{client.TxUnlockFetch, tdbErr("fetch"), "transaction_commit",
			"g_lock_unlock: transaction_db_0x3fbc3d69 fetch lock failed\ntransaction_commit: p.tdb g_lock unlock failed, ret=5\n", 5},
		{client.TxUnlockData, errnoErr(errnoEPROTO), "transaction_cancel",
			"g_lock_unlock: transaction_db_0x3fbc3d69 invalid lock data\ntransaction_cancel: p.tdb g_lock unlock failed, ret=71\n", 71},
		{client.TxUnlockDelete, tdbErr("store"), "transaction_commit",
			"fetch_lock delete: g_lock.tdb tdb_store failed, IO Error\ng_lock_unlock transaction_db_0x3fbc3d69 delete record failed, ret=5\n" +
				"transaction_commit: p.tdb g_lock unlock failed, ret=5\n", 5},
		{client.TxStore, errnoErr(errnoEINVAL), "", "", 22},
		{client.TxFetch, tdbErr("fetch"), "", "", 5},
	} {
		var errb bytes.Buffer
		tl := newTool(context.Background(), Globals{Timelimit: 10, Node: -1}, "pstore", func(string) (string, bool) { return "", false }, nil, &errb, &errb)
		err := tl.txErr(db, &client.TxError{Step: c.step, DB: db.Name, Err: c.err}, c.op)
		if errb.String() != c.stderr || status(err) != c.rc {
			t.Errorf("%s: %q rc %d, want %q rc %d", c.step, errb.String(), status(err), c.stderr, c.rc)
		}
	}
}

func TestPersistentJSON(t *testing.T) {
	f := newPFixture(t, 0, samplePersistent)
	f.writeTDB(f.db(samplePersistent.id).path, []dumpRecord{{[]byte("k"), []byte("v\x01"), protocol.LtdbHeader{RSN: 1}}})
	doc := func(input string, args ...string) string {
		t.Helper()
		got := runToolInput(f.fd, nil, input, append([]string{"--json"}, args...)...)
		if got.rc != 0 || got.stderr != "" {
			t.Fatalf("%v: %+v", args, got)
		}
		return strings.Join(strings.Fields(got.stdout), "")
	}
	db := `"db_id":1069301097,"name":"sample_persistent.tdb","persistent":true,"replicated":false,"sticky":false,"readonly":false,"flags_value":1`
	if s := doc("", "pfetch", "sample_persistent.tdb", "k"); s != `{"command":"pfetch","pnn":0,`+db+`,"key":"k","key_hex":"6b","size":2,"data":"v\\01","data_hex":"7601"}` {
		t.Errorf("pfetch %s", s)
	}
	if s := doc("", "pstore", "sample_persistent.tdb", "k", "w"); s != `{"command":"pstore","pnn":0,`+db+`,"key":"k","key_hex":"6b"}` {
		t.Errorf("pstore %s", s)
	}
	if s := doc(`"a" "b"`+"\n"+`"k" "v\x01"`, "ptrans", "sample_persistent.tdb"); s != `{"command":"ptrans","pnn":0,`+db+`,"stored":2}` {
		t.Errorf("ptrans %s", s)
	}
	file := f.dir + "/b"
	if s := doc("", "backupdb", "sample_persistent.tdb", file); s != `{"command":"backupdb","pnn":0,`+db+`,"file":"`+file+`","buffers":1,"records":1}` {
		t.Errorf("backupdb %s", s)
	}
	setBackupTime(t, file, tCurrent)
	if s := doc("", "dumpdbbackup", file); s != `{"name":"sample_persistent.tdb","timestamp":"2026-11-21T19:36:20.000000Z","flags_value":1,"records":[{"key":"k","key_hex":"6b","dmaster":0,"rsn":1,"flags":[],"flags_value":0,"data":"v\\01","data_hex":"7601"}],"count":1}` {
		t.Errorf("dumpdbbackup %s", s)
	}
}
