package persistent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/tdb"
)

const testDB = "test_persistent.tdb"

var testID = protocol.DBID(testDB)

func newTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	return newTestStoreHash(t, dir, 101)
}

func newTestStoreHash(t *testing.T, dir string, hashSize int) *Store {
	t.Helper()
	s, err := NewStore(Config{Self: 1, PersistentDir: filepath.Join(dir, "p"), ReplicatedDir: filepath.Join(dir, "v"), HashSize: hashSize},
		slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// testState is a 3-node state with the test database attached.
func testState(t *testing.T, flags uint8) *raftlayer.State {
	t.Helper()
	st := raftlayer.BootstrapState("c", []raftlayer.NodeState{{PNN: 0, Addr: "127.0.0.1"}, {PNN: 1, Addr: "127.0.0.2"}, {PNN: 2, Addr: "127.0.0.3"}})
	if err := st.Apply(&raftlayer.CmdAttachDB{Name: testDB, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	return st
}

// rec builds a transaction record: ltdb header (rsn, dmaster 1) and data.
func rec(key string, rsn uint64, data string) protocol.RecData {
	h := protocol.LtdbHeader{RSN: rsn, DMaster: 1}
	return protocol.RecData{Key: []byte(key), Data: append(h.AppendTo(nil), data...)}
}

func seqnumRec(rsn, value uint64) protocol.RecData {
	r := rec(string(SeqnumKey), rsn, "")
	r.Data = binary.LittleEndian.AppendUint64(r.Data, value)
	return r
}

func commitPayload(recs ...protocol.RecData) []byte {
	return encodeOp(opCommit, 1, testID, (&protocol.RecBuffer{DBID: testID, Records: recs}).Marshal())
}

func mustApply(t *testing.T, s *Store, st *raftlayer.State, payload []byte) {
	t.Helper()
	if err := s.ApplyData(1, payload, st); err != nil {
		t.Fatal(err)
	}
}

func value(t *testing.T, s *Store, key string) string {
	t.Helper()
	v, ok := s.DB(testID).Fetch([]byte(key))
	if !ok {
		return "<none>"
	}
	return string(v[protocol.LtdbHeaderSize:])
}

func TestCommitWritesRecordsAndSeqnum(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	mustApply(t, s, st, commitPayload(rec("k1", 1, "v1"), rec("k2", 1, "v2"), seqnumRec(1, 1)))
	db := s.DB(testID)
	if got := value(t, s, "k1") + "," + value(t, s, "k2"); got != "v1,v2" {
		t.Fatalf("records %s", got)
	}
	if db.Seqnum() != 1 {
		t.Fatalf("seqnum %d", db.Seqnum())
	}
	// A delete stores the header alone, as ctdbd does.
	mustApply(t, s, st, commitPayload(rec("k2", 2, ""), seqnumRec(2, 2)))
	if v, ok := db.Fetch([]byte("k2")); !ok || len(v) != protocol.LtdbHeaderSize {
		t.Fatalf("deleted record %q, %v", v, ok)
	}
	var keys []string
	db.Traverse(t.Context(), false, func(k, v []byte) bool { keys = append(keys, string(k)); return true })
	if len(keys) != 2 { // k1 and the sequence number; k2 is empty
		t.Fatalf("traverse without empty records saw %q", keys)
	}
	if got := db.OpenFlags(); got != tdb.DisallowNesting {
		t.Fatalf("open flags 0x%x, want 0x400 as ctdbd reports", got)
	}
	if db.Path != filepath.Join(filepath.Dir(db.Path), testDB+".1") {
		t.Fatalf("path %s", db.Path)
	}
}

func TestCommitWithStaleRSNRefusedWhole(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	mustApply(t, s, st, commitPayload(rec("k", 1, "a")))
	// Same rsn, other data: two writers that skipped the g_lock.
	err := s.ApplyData(2, commitPayload(rec("other", 1, "x"), rec("k", 1, "b")), st)
	if err == nil {
		t.Fatal("conflicting commit accepted")
	}
	if value(t, s, "other") != "<none>" || value(t, s, "k") != "a" {
		t.Fatalf("refused commit was partly applied: other=%s k=%s", value(t, s, "other"), value(t, s, "k"))
	}
	mustApply(t, s, st, commitPayload(rec("k", 2, "b")))
	mustApply(t, s, st, commitPayload(rec("k", 2, "b"))) // the same again: harmless
	if value(t, s, "k") != "b" {
		t.Fatalf("k=%s", value(t, s, "k"))
	}
}

func TestApplyRefusesUnknownOrVolatileDatabase(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	if err := s.ApplyData(1, commitPayload(rec("k", 1, "a")), testState(t, 0)); err == nil {
		t.Fatal("commit to a volatile database accepted")
	}
	for _, bad := range [][]byte{nil, {9, 0, 0, 0, 0, 0, 0, 0, 0}, {byte(opCommit), 1, 2}} {
		if err := s.ApplyData(1, bad, testState(t, protocol.DBFlagPersistent)); err == nil {
			t.Fatalf("payload %x accepted", bad)
		}
	}
}

func TestWipeAndRestoreOps(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	mustApply(t, s, st, commitPayload(rec("k1", 1, "v1"), rec("k2", 1, "v2")))
	mustApply(t, s, st, encodeOp(opWipe, 1, testID, nil))
	if value(t, s, "k1") != "<none>" {
		t.Fatal("wipe left k1")
	}
	mustApply(t, s, st, encodeOp(opRestore, 1, testID, (&protocol.RecBuffer{DBID: testID, Records: []protocol.RecData{rec("k3", 7, "v3")}}).Marshal()))
	if value(t, s, "k3") != "v3" {
		t.Fatal("restore did not write k3")
	}
}

func TestSnapshotRestoreGivesEqualFiles(t *testing.T) {
	a, b := newTestStore(t, t.TempDir()), newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	if err := st.Apply(&raftlayer.CmdAttachDB{Name: "repl.tdb", Flags: protocol.DBFlagReplicated}); err != nil {
		t.Fatal(err)
	}
	var recs []protocol.RecData
	for i := 0; i < 500; i++ {
		recs = append(recs, rec(string(rune('a'+i%26))+string(rune(i)), uint64(i+1), "value"))
	}
	mustApply(t, a, st, commitPayload(recs...))
	replID := protocol.DBID("repl.tdb")
	mustApply(t, a, st, encodeOp(opCommit, 1, replID, (&protocol.RecBuffer{DBID: replID, Records: []protocol.RecData{rec("r", 1, "x")}}).Marshal()))
	// b has a record of its own that the snapshot does not know.
	mustApply(t, b, st, commitPayload(rec("stale", 1, "old")))

	body, err := a.SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RestoreData(body); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint32{testID, replID} {
		ra, _ := a.DB(id).records()
		rb, _ := b.DB(id).records()
		if len(ra) != len(rb) {
			t.Fatalf("db 0x%x: %d records restored, want %d", id, len(rb), len(ra))
		}
		for i := range ra {
			if !bytes.Equal(ra[i].Key, rb[i].Key) || !bytes.Equal(ra[i].Data, rb[i].Data) {
				t.Fatalf("db 0x%x record %d differs", id, i)
			}
		}
	}
	if !b.DB(replID).Replicated || b.DB(replID).OpenFlags()&tdb.ClearIfFirst == 0 {
		t.Fatal("replicated database restored as persistent")
	}
	if err := b.RestoreData(body[:len(body)-3]); err == nil {
		t.Fatal("truncated snapshot accepted")
	}
	if err := b.RestoreData(nil); err != nil || value(t, b, "r") != "<none>" {
		t.Fatalf("empty snapshot did not wipe: %v", err)
	}
}

// A file is rebuilt from the Raft log in every run: the first open wipes
// it. A file that is not a usable TDB (junk, empty, cut) is never deleted
// or overwritten: it is moved aside, named in an error, and the database
// is rebuilt beside it.
func TestFirstOpenWipesAndMovesDamagedFileAside(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir)
	st := testState(t, protocol.DBFlagPersistent)
	mustApply(t, s, st, commitPayload(rec("k", 1, "v")))
	path := s.DB(testID).Path
	s.Close()
	valid, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s2 := newTestStore(t, dir)
	if _, err := s2.Ensure(testID, testDB, false, 0); err != nil {
		t.Fatal(err)
	}
	if value(t, s2, "k") != "<none>" {
		t.Fatal("a new run kept the old file's records")
	}
	s2.Close()

	for name, damaged := range map[string][]byte{
		"junk":       []byte("not a tdb file at all, just junk"),
		"cut header": valid[:100],
		"tdb magic":  append([]byte("TDB file\n"), bytes.Repeat([]byte{0xff}, 200)...),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s3, err := NewStore(Config{Self: 1, PersistentDir: filepath.Join(dir, "p"), ReplicatedDir: filepath.Join(dir, "v"), HashSize: 101},
				slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s3.Close()
			if _, err := s3.Ensure(testID, testDB, false, 0); err != nil {
				t.Fatalf("damaged file: %v", err)
			}
			aside, _ := filepath.Glob(path + ".*.corrupt")
			if len(aside) != 1 {
				t.Fatalf("damaged file not moved aside: %v (log: %s)", aside, logs.String())
			}
			kept, err := os.ReadFile(aside[0])
			if err != nil || !bytes.Equal(kept, damaged) {
				t.Fatalf("the damaged file's bytes were not kept: %v", err)
			}
			if !strings.Contains(logs.String(), path) || !strings.Contains(logs.String(), aside[0]) {
				t.Fatalf("the log does not name the file and where it went: %s", logs.String())
			}
			os.Remove(aside[0])
			mustApply(t, s3, st, commitPayload(rec("k", 1, "v")))
			if value(t, s3, "k") != "v" {
				t.Fatal("write after rebuilding the file failed")
			}
		})
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{ReplicatedDir: "v", HashSize: 1}, "PersistentDir"},
		{Config{PersistentDir: "p", HashSize: 1}, "ReplicatedDir"},
		{Config{PersistentDir: "p", ReplicatedDir: "v"}, "HashSize"},
	} {
		err := c.cfg.Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.field)) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.field)
		}
	}
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(commitPayload(rec("k", 1, "v")))
	f.Add(encodeOp(opWipe, 1, 7, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeOp(b)
		if err != nil {
			return
		}
		again, err := decodeOp(encodeOp(o.kind, o.origin, o.dbid, (&protocol.RecBuffer{DBID: o.dbid, Records: o.records}).Marshal()))
		if err != nil || again.dbid != o.dbid || len(again.records) != len(o.records) {
			t.Fatalf("re-encoded op differs: %v", err)
		}
	})
}

// TestSnapshotOf100kRecords measures a snapshot and its restore for a
// database of 100,000 records (numbers in the log; the note cites them).
func TestSnapshotOf100kRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	// The daemon's hash size (DatabaseHashSize).
	a, b := newTestStoreHash(t, t.TempDir(), 100001), newTestStoreHash(t, t.TempDir(), 100001)
	st := testState(t, protocol.DBFlagPersistent)
	recs := make([]protocol.RecData, 100_000)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", i), 1, fmt.Sprintf("value of record %d, about sixty bytes long like a passdb entry", i))
	}
	start := time.Now()
	mustApply(t, a, st, commitPayload(recs...))
	commit := time.Since(start)
	start = time.Now()
	body, err := a.SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	snap := time.Since(start)
	start = time.Now()
	if err := b.RestoreData(body); err != nil {
		t.Fatal(err)
	}
	restore := time.Since(start)
	if got, _ := b.DB(testID).records(); len(got) != len(recs) {
		t.Fatalf("restored %d records", len(got))
	}
	t.Logf("100k records: one commit %v, snapshot %v (%.1f MiB), restore %v", commit.Round(time.Millisecond), snap.Round(time.Millisecond), float64(len(body))/(1<<20), restore.Round(time.Millisecond))
}

// A commit that reaches the log after its node left the active set is
// refused: the transaction lock its client held went with the node.
func TestCommitFromInactiveNodeRefused(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	st.View.Disconnected = []uint32{2}
	payload := encodeOp(opCommit, 2, testID, (&protocol.RecBuffer{DBID: testID, Records: []protocol.RecData{rec("k", 1, "late")}}).Marshal())
	if err := s.ApplyData(5, payload, st); err == nil {
		t.Fatal("commit of a departed node applied")
	}
	if _, err := s.Ensure(testID, testDB, false, 0); err != nil {
		t.Fatal(err)
	}
	if value(t, s, "k") != "<none>" {
		t.Fatal("refused commit wrote its record")
	}
}

// TestClosedStoreRefusesWork: after Close no file is opened again.
func TestClosedStoreRefusesWork(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	if _, err := s.Ensure(testID, testDB, false, 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Ensure(testID, testDB, false, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ensure after Close: %v", err)
	}
	if s.DB(testID) != nil {
		t.Fatal("a closed store still lists its database")
	}
}

// TestRestoreOfACutBodyChangesNothing: a snapshot body cut inside an entry
// is refused before any database is touched, so that no database holds
// the snapshot's records while others keep their old ones. (A cut between
// two entries reads as a shorter snapshot: the checksummed end of the
// Raft snapshot around the body catches that.)
func TestRestoreOfACutBodyChangesNothing(t *testing.T) {
	a, b := newTestStore(t, t.TempDir()), newTestStore(t, t.TempDir())
	st := testState(t, protocol.DBFlagPersistent)
	if err := st.Apply(&raftlayer.CmdAttachDB{Name: "second.tdb", Flags: protocol.DBFlagPersistent}); err != nil {
		t.Fatal(err)
	}
	second := protocol.DBID("second.tdb")
	mustApply(t, a, st, commitPayload(rec("k", 2, "new")))
	mustApply(t, a, st, encodeOp(opCommit, 1, second, (&protocol.RecBuffer{DBID: second, Records: []protocol.RecData{rec("s", 1, "x")}}).Marshal()))
	body, err := a.SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, b, st, commitPayload(rec("k", 1, "old")))
	refused := 0
	for cut := 1; cut < len(body); cut++ {
		if err := b.RestoreData(body[:cut]); err == nil {
			mustApply(t, b, st, commitPayload(rec("k", 3, "old")))
			continue
		}
		refused++
		if v := value(t, b, "k"); v != "old" {
			t.Fatalf("a body cut at %d of %d changed k to %q", cut, len(body), v)
		}
	}
	if refused < len(body)-3 {
		t.Fatalf("only %d of %d cuts refused", refused, len(body)-1)
	}
}
