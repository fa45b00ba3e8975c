package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// Golden tests of the database commands' formatters against the captures
// of samples-formats.txt, samples-volatile.txt and samples-persistent.txt,
// and the parsing of keys and values.

// sampleDB is a database of the capture cluster.
type sampleDB struct {
	id    uint32
	name  string
	flags uint8
}

var (
	sampleVolatile   = sampleDB{0x440ded14, "sample_volatile.tdb", 0}
	sampleGLock      = sampleDB{0x4d2a432b, "g_lock.tdb", 0}
	samplePersistent = sampleDB{0x3fbc3d69, "sample_persistent.tdb", protocol.DBFlagPersistent}
	sampleCtdb       = sampleDB{0x6645c6c4, "ctdb.tdb", protocol.DBFlagPersistent}
)

// samplePath is where the capture cluster keeps a database on node pnn.
func samplePath(d sampleDB, pnn uint32) string {
	kind := "volatile"
	if d.flags&protocol.DBFlagPersistent != 0 {
		kind = "persistent"
	}
	return fmt.Sprintf("/srv/ctdbtest/node%d/db/%s/%s.%d", pnn, kind, d.name, pnn)
}

// sampleDBMap is the capture cluster's database map, most recent first;
// sticky and readonly are set on sample_volatile.tdb.
func sampleDBMap(flagged bool) []sampleDB {
	v := sampleVolatile
	if flagged {
		v.flags = protocol.DBFlagSticky | protocol.DBFlagReadonly
	}
	return []sampleDB{v, sampleGLock, samplePersistent, sampleCtdb}
}

func TestFormatDBMapGolden(t *testing.T) {
	render := func(dbs []sampleDB, pnn uint32, machine bool) string {
		s := formatDBMapHeader(len(dbs), machine, "|")
		for _, d := range dbs {
			s += formatDBMapLine(dbStatus{ID: d.id, Name: d.name, Path: samplePath(d, pnn), Flags: d.flags}, machine, "|")
		}
		return s
	}
	f := loadSamples(t, "samples-formats.txt")
	eq(t, "getdbmap", render(sampleDBMap(true), 0, false), f["0 getdbmap"].stdout)
	eq(t, "-X getdbmap", render(sampleDBMap(true), 0, true), f["0 -X getdbmap"].stdout)
	v := loadSamples(t, "samples-volatile.txt")
	eq(t, "2 getdbmap", render(sampleDBMap(false), 2, false), v["2 getdbmap"].stdout)
	eq(t, "0 getdbmap", render(sampleDBMap(true), 0, false), v["0 getdbmap"].stdout)
	eq(t, "0 getdbmap -v", render(sampleDBMap(true), 0, false), v["0 getdbmap -v"].stdout)
	eq(t, "0 -X getdbmap", render(sampleDBMap(true), 0, true), v["0 -X getdbmap"].stdout)
	p := loadSamples(t, "samples-persistent.txt")
	eq(t, "persistent getdbmap", render([]sampleDB{samplePersistent, sampleCtdb}, 0, false), p["0 getdbmap"].stdout)

	// The flags the capture does not show, and an unhealthy database.
	reason := "bad"
	d := dbStatus{ID: 0xab, Name: "r.tdb", Path: "/p", Flags: protocol.DBFlagReplicated, Health: &reason}
	eq(t, "replicated", formatDBMapLine(d, false, "|"), "dbid:0x000000ab name:r.tdb path:/p REPLICATED UNHEALTHY\n")
	eq(t, "-X replicated", formatDBMapLine(d, true, ","), ",0x000000AB,r.tdb,/p,0,0,1,0,1,\n")
	all := dbStatus{ID: 1, Name: "a", Path: "b", Flags: 0xf}
	eq(t, "all flags", formatDBMapLine(all, false, "|"), "dbid:0x00000001 name:a path:b PERSISTENT STICKY READONLY REPLICATED\n")
	eq(t, "-Y header", formatDBMapHeader(0, true, ":"), ":ID:Name:Path:Persistent:Sticky:Unhealthy:Readonly:Replicated:\n")
	eq(t, "empty", formatDBMapHeader(0, false, "|"), "Number of databases:0\n")
}

func TestFormatDBStatusGolden(t *testing.T) {
	v := loadSamples(t, "samples-volatile.txt")
	d := dbStatus{ID: sampleVolatile.id, Name: sampleVolatile.name, Path: samplePath(sampleVolatile, 0)}
	eq(t, "volatile", formatDBStatus(d), v["0 getdbstatus sample_volatile.tdb"].stdout)
	p := loadSamples(t, "samples-persistent.txt")
	d = dbStatus{ID: samplePersistent.id, Name: samplePersistent.name, Path: samplePath(samplePersistent, 0), Flags: samplePersistent.flags}
	eq(t, "persistent", formatDBStatus(d), p["0 getdbstatus sample_persistent.tdb"].stdout)
	reason := "NO-HEALTHY-NODES - DB PROBABLY CORRUPT"
	d = dbStatus{ID: 1, Name: "x", Path: "/x", Flags: 0xe, Health: &reason}
	eq(t, "flags", formatDBStatus(d), "dbid: 0x00000001\nname: x\npath: /x\nPERSISTENT: no\nREPLICATED: yes\n"+
		"STICKY: yes\nREADONLY: yes\nHEALTH: NO-HEALTHY-NODES - DB PROBABLY CORRUPT\n")
}

// dumpRecord is a record as a dump shows it.
type dumpRecord struct {
	key, data []byte
	hdr       protocol.LtdbHeader
}

// unescapeData reverses escapeData.
func unescapeData(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, byte(v))
		i += 2
	}
	return b
}

// parseDump reads the records of a catdb or cattdb capture.
func parseDump(t *testing.T, text string) []dumpRecord {
	t.Helper()
	var recs []dumpRecord
	for _, block := range strings.Split(text, "\n\n") {
		lines := strings.Split(block, "\n")
		if !strings.HasPrefix(lines[0], "key(") {
			continue
		}
		quoted := func(line string) []byte {
			return unescapeData(t, line[strings.Index(line, "\"")+1:len(line)-1])
		}
		var r dumpRecord
		r.key = quoted(lines[0])
		fmt.Sscanf(lines[1], "dmaster: %d", &r.hdr.DMaster)
		fmt.Sscanf(lines[2], "rsn: %d", &r.hdr.RSN)
		fmt.Sscanf(lines[3], "flags: 0x%x", &r.hdr.Flags)
		r.data = quoted(lines[4])
		recs = append(recs, r)
	}
	return recs
}

// dumpText renders records and the count line as catdb (records) or
// cattdb (record(s)) does.
func dumpText(recs []dumpRecord, local bool) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(formatRecord(r.key, r.hdr, r.data))
	}
	if local {
		fmt.Fprintf(&b, "Dumped %d record(s)\n", len(recs))
	} else {
		fmt.Fprintf(&b, "Dumped %d records\n", len(recs))
	}
	return b.String()
}

// dumpSamples are the catdb and cattdb captures.
var dumpSamples = []struct{ file, key string }{
	{"samples-volatile.txt", "2 catdb sample_volatile.tdb"},
	{"samples-volatile.txt", "0 -X catdb sample_volatile.tdb"},
	{"samples-volatile.txt", "0 catdb sample_volatile.tdb"},
	{"samples-volatile.txt", "0 cattdb sample_volatile.tdb"},
	{"samples-volatile.txt", "1 cattdb sample_volatile.tdb"},
	{"samples-volatile.txt", "2 cattdb sample_volatile.tdb"},
	{"samples-persistent.txt", "0 catdb sample_persistent.tdb"},
	{"samples-persistent.txt", "2 -X catdb sample_persistent.tdb"},
	{"samples-persistent.txt", "1 cattdb sample_persistent.tdb"},
}

func TestFormatRecordGolden(t *testing.T) {
	for _, s := range dumpSamples {
		want := loadSamples(t, s.file)[s.key].stdout
		recs := parseDump(t, want)
		if len(recs) == 0 {
			t.Fatalf("%s: no records", s.key)
		}
		eq(t, s.key, dumpText(recs, strings.Contains(s.key, "cattdb")), want)
	}
	h := protocol.LtdbHeader{RSN: 1<<64 - 1, DMaster: protocol.UnknownPNN, Flags: 0x0F070000}
	eq(t, "all flags", formatRecord([]byte{}, h, []byte("a\"b\\c\x7f\x80 ~\t")),
		"key(0) = \"\"\ndmaster: 4294967295\nrsn: 18446744073709551615\n"+
			"flags: 0x0f070000 MIGRATED_WITH_DATA VACUUM_MIGRATED AUTOMATIC RO_HAVE_DELEGATIONS RO_HAVE_READONLY RO_REVOKING_READONLY RO_REVOKE_COMPLETE\n"+
			"data(10) = \"a\\22b\\5Cc\\7F\\80 ~\\09\"\n\n")
	if got := recordJSON([]byte{0, 'k'}, protocol.LtdbHeader{Flags: protocol.RecFlagAutomatic}, nil); got.Key != "\\00k" || got.KeyHex != "006b" ||
		got.DataHex != "" || len(got.Flags) != 1 || got.Flags[0] != "AUTOMATIC" {
		t.Errorf("%+v", got)
	}
}

func TestFormatReadkeyGolden(t *testing.T) {
	v := loadSamples(t, "samples-volatile.txt")
	eq(t, "vkey1", formatReadkey([]byte("vvalue1")), v["2 readkey sample_volatile.tdb vkey1"].stdout)
	eq(t, "vkey2", formatReadkey([]byte("vvalue2")), v["0 readkey sample_volatile.tdb vkey2"].stdout)
	eq(t, "missing", formatReadkey(nil), v["0 readkey sample_volatile.tdb missing"].stdout)
	eq(t, "deleted", formatReadkey([]byte{}), v["0 readkey sample_volatile.tdb vkey1"].stdout)
	// "%.*s" stops at a NUL.
	eq(t, "NUL", formatReadkey([]byte("ab\x00cd")), "Data: size:5 ptr:[ab]\n")
	eq(t, "binary", formatReadkey([]byte{0xff, '\n'}), "Data: size:2 ptr:[\xff\n]\n")
}

func TestFormatSeqnumGolden(t *testing.T) {
	p := loadSamples(t, "samples-persistent.txt")
	eq(t, "seqnum", formatSeqnum(2), p["0 getdbseqnum sample_persistent.tdb"].stdout)
	eq(t, "big", formatSeqnum(0xDEADBEEF00), "0xdeadbeef00\n")
	eq(t, "zero", formatSeqnum(0), "0x0\n")
}

// sampleDBStatistics is the database statistics of the capture.
func sampleDBStatistics() *protocol.DBStatistics {
	s := &protocol.DBStatistics{}
	s.HopCountBucket[0] = 1
	s.HotKeys = []protocol.HotKey{
		{Count: 1, Key: []byte("vkey2")}, {Count: 1, Key: []byte("missing")}, {Count: 1, Key: []byte("vkey1")},
	}
	for len(s.HotKeys) < protocol.MaxHotKeys {
		s.HotKeys = append(s.HotKeys, protocol.HotKey{})
	}
	return s
}

func TestFormatDBStatisticsGolden(t *testing.T) {
	v := loadSamples(t, "samples-volatile.txt")
	eq(t, "dbstatistics", formatDBStatistics("sample_volatile.tdb", sampleDBStatistics()), v["0 dbstatistics sample_volatile.tdb"].stdout)

	s := &protocol.DBStatistics{DBRODelegations: 7, DBRORevokes: 8}
	s.Locks.NumCalls, s.Locks.NumCurrent, s.Locks.NumPending, s.Locks.NumFailed = 1, 2, 3, 4
	s.Locks.Buckets[15] = 0xffffffff
	s.Locks.Latency = protocol.LatencyCounter{Num: 2, Min: 0.5, Max: 1.5, Total: 2}
	s.VacuumLatency = protocol.LatencyCounter{Num: 1, Min: 0.25, Max: 0.25, Total: 0.25}
	s.HotKeys = []protocol.HotKey{{Count: 3, Key: []byte{0, 0xAB}}}
	want := "DB Statistics x\n" +
		" db_ro_delegations                  7\n" +
		" db_ro_revokes                      8\n" +
		" locks\n" +
		"     num_calls                      1\n" +
		"     num_current                    2\n" +
		"     num_pending                    3\n" +
		"     num_failed                     4\n" +
		" hop_count_buckets: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n" +
		" lock_buckets: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -1\n" +
		" locks_latency      MIN/AVG/MAX     0.500000/1.000000/1.500000 sec out of 2\n" +
		" vacuum_latency     MIN/AVG/MAX     0.250000/0.250000/0.250000 sec out of 1\n" +
		" Num Hot Keys:     1\n" +
		"     Count:3 Key:00ab\n"
	eq(t, "values", formatDBStatistics("x", s), want)
	j := dbStatisticsJSON(0, dbRef{id: 1, name: "x"}, s)
	if j.Counters["locks.num_failed"] != 4 || j.Latency["locks"].Avg != 1 || j.Latency["vacuum"].Num != 1 ||
		len(j.HotKeys) != 1 || j.HotKeys[0].KeyHex != "00ab" || j.LockBuckets[15] != 0xffffffff {
		t.Errorf("%+v", j)
	}
}

func TestParseData(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []byte
		msg  string
	}{
		{"vkey1", []byte("vkey1"), ""},
		{"", []byte{}, ""},
		{"0x", []byte{}, ""},
		{"0x00ff7A", []byte{0, 0xff, 0x7a}, ""},
		{"0xABcd", []byte{0xab, 0xcd}, ""},
		{"0X41", []byte("0X41"), ""}, // only "0x" introduces hex
		{"x0x41", []byte("x0x41"), ""},
		{"0x4", nil, "Key (4) contains odd number of hex digits\n"},
		{"0xabc", nil, "Key (abc) contains odd number of hex digits\n"},
		{"0x41zz42", nil, "Invalid hex: zz42\n"},
		{"0x4z", nil, "Invalid hex: 4z\n"},
		{"0x 1", nil, "Invalid hex:  1\n"},
		{"0x0x", nil, "Invalid hex: 0x\n"},
	} {
		got, msg, ok := parseData(c.in)
		if ok != (c.msg == "") || msg != c.msg || string(got) != string(c.want) || (ok && got == nil) {
			t.Errorf("%q: %q %q %v", c.in, got, msg, ok)
		}
	}
}

func TestEscapeData(t *testing.T) {
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	got := escapeData(all)
	var want strings.Builder
	for i := 0; i < 256; i++ {
		if i >= 0x20 && i <= 0x7e && i != '"' && i != '\\' {
			want.WriteByte(byte(i))
		} else {
			fmt.Fprintf(&want, "\\%02X", i)
		}
	}
	eq(t, "all bytes", got, want.String())
	if string(unescapeData(t, got)) != string(all) {
		t.Error("round trip")
	}
}

func TestAttachFlags(t *testing.T) {
	for arg, want := range map[string]uint8{
		"persistent": protocol.DBFlagPersistent, "replicated": protocol.DBFlagReplicated,
		"readonly": protocol.DBFlagReadonly, "sticky": protocol.DBFlagSticky,
	} {
		if got, ok := attachFlags(arg); !ok || got != want {
			t.Errorf("%s: %d %v", arg, got, ok)
		}
	}
	for _, arg := range []string{"", "Persistent", "volatile", "persistent "} {
		if _, ok := attachFlags(arg); ok {
			t.Errorf("%q accepted", arg)
		}
	}
}

func TestAttachFailure(t *testing.T) {
	ce := func(op protocol.Opcode, st int32) error {
		return fmt.Errorf("attach %q: %w", "d.tdb", &client.ControlError{Opcode: op, Status: st})
	}
	for _, c := range []struct {
		err  error
		msg  string
		code int
	}{
		{ce(protocol.ControlDBAttach, -1), "attach: d.tdb failed to get db_id, ret=-1\n", -1},
		{ce(protocol.ControlDBAttachPersistent, -1), "attach: d.tdb failed to get db_id, ret=-1\n", -1},
		{ce(protocol.ControlGetDBPath, -5), "attach: d.tdb GETDBPATH parse failed, ret=-5\n", -5},
		{ce(protocol.ControlDBGetHealth, 3), "attach: d.tdb DB_GET_HEALTH parse failed, ret=3\n", 3},
		{ce(protocol.ControlDBOpenFlags, -1), "attach: d.tdb DB_OPEN_FLAGS parse failed, ret=-1\n", -1},
		{errors.New(`attach "d.tdb": database unhealthy: NO-HEALTHY-NODES`), "attach: d.tdb database unhealthy (NO-HEALTHY-NODES)\n", errnoEIO},
		{fmt.Errorf("attach %q: control GETDBPATH to node 0: %w", "d.tdb", context.DeadlineExceeded), "attach: d.tdb GETDBPATH failed, ret=110\n", errnoETIMEDOUT},
		{fmt.Errorf("attach %q: control DB_ATTACH_REPLICATED to node 0: %w", "d.tdb", context.DeadlineExceeded), "attach: d.tdb DB_ATTACH_REPLICATED failed, ret=110\n", errnoETIMEDOUT},
		{fmt.Errorf("attach %q: tdb open /x: %w", "d.tdb", syscall.ENOENT), "attach: d.tdb tdb_wrap_open failed\n", errnoENOMEM},
	} {
		msg, code := attachFailure("d.tdb", c.err)
		if msg != c.msg || code != c.code {
			t.Errorf("%v: %q %d", c.err, msg, code)
		}
	}
}

func TestListOfNodes(t *testing.T) {
	nm := threeNodes(protocol.NodeFlagDisconnected, protocol.NodeFlagStopped, 0)
	if got := listOfNodes(nm, protocol.NodeFlagDisconnected, protocol.UnknownPNN); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("connected %v", got)
	}
	if got := listOfNodes(nm, protocol.NodeFlagsInactive, protocol.UnknownPNN); fmt.Sprint(got) != "[2]" {
		t.Errorf("active %v", got)
	}
	if got := listOfNodes(nm, 0, 1); fmt.Sprint(got) != "[0 2]" {
		t.Errorf("exclude %v", got)
	}
}
