package raftlayer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// memSink is a raft.SnapshotSink into memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

// persistSnapshot returns the bytes of a snapshot of f.
func persistSnapshot(t testing.TB, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

func applyCmd(t testing.TB, f *fsm, index uint64, c Command) {
	t.Helper()
	b, err := EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}); res != nil {
		if err, ok := res.(error); ok && err != nil {
			t.Fatalf("apply %T: %v", c, err)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	applyCmd(t, f, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	applyCmd(t, f, 2, &CmdBan{PNN: 1, Seconds: 300, Until: 12345})
	applyCmd(t, f, 3, &CmdSetTunable{Name: "EnableBans", Value: 0})
	applyCmd(t, f, 4, &CmdSetView{View: RuntimeView{Generation: 42, VNNMap: []uint32{0, 2}, Disconnected: []uint32{1}}})
	snapshot := persistSnapshot(t, f)
	g := newFSM(slog.New(slog.DiscardHandler), nil)
	watch := g.changed.Changed()
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshot))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch:
	default:
		t.Error("restore did not notify watchers")
	}
	want, _ := f.read()
	got, _ := g.read()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %s\nwant %s", got, want)
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	applyCmd(t, f, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	snap, _ := f.Snapshot()
	var sink memSink
	snap.Persist(&sink)
	good := sink.Bytes()
	section := func(name string, body []byte) []byte {
		b := []byte{byte(len(name)), 0}
		b = append(b, name...)
		l := make([]byte, 8)
		l[0] = byte(len(body))
		return append(append(b, l...), body...)
	}
	cases := map[string][]byte{
		"not a snapshot":  []byte("hello world, this is no snapshot"),
		"truncated":       good[:len(good)-3],
		"unknown section": append([]byte(snapshotMagic), section("future", []byte("x"))...),
		"no cluster":      []byte(snapshotMagic),
		"bad json":        append([]byte(snapshotMagic), section("cluster", []byte("{"))...),
		"huge section":    append([]byte(snapshotMagic), 7, 0, 'c', 'l', 'u', 's', 't', 'e', 'r', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
	}
	for name, b := range cases {
		g := newFSM(slog.New(slog.DiscardHandler), nil)
		err := g.Restore(io.NopCloser(bytes.NewReader(b)))
		if err == nil {
			t.Errorf("%s: restored", name)
			continue
		}
		if !strings.Contains(err.Error(), "restore snapshot") {
			t.Errorf("%s: error %q does not name the operation", name, err)
		}
		if st, _ := g.read(); st.Initialized() {
			t.Errorf("%s: state changed by a failed restore", name)
		}
	}
}

// TestUndecodableEntrySkipped: a corrupt log entry is reported and skipped,
// never a crash, and the applied index still advances.
func TestUndecodableEntrySkipped(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	res := f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: []byte{200, '{'}})
	if err, ok := res.(error); !ok || err == nil {
		t.Fatalf("result %v", res)
	}
	if f.applied.Get() != 7 {
		t.Fatalf("applied index %d", f.applied.Get())
	}
}

// memData is an in-memory Data: a log of applied payloads.
type memData struct {
	applied [][]byte
	refuse  bool
}

func (d *memData) ApplyData(index uint64, payload []byte, st *State) error {
	if d.refuse {
		return errors.New("disk full")
	}
	d.applied = append(d.applied, bytes.Clone(payload))
	return nil
}
func (d *memData) SnapshotData() ([]byte, error) { return bytes.Join(d.applied, []byte{'|'}), nil }
func (d *memData) RestoreData(body []byte) error {
	d.applied = nil
	if body != nil {
		d.applied = bytes.Split(body, []byte{'|'})
	}
	return nil
}

func TestDataCommandsReachDataAndSnapshots(t *testing.T) {
	d := &memData{}
	f := newFSM(slog.New(slog.DiscardHandler), d)
	applyCmd(t, f, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	applyCmd(t, f, 2, &CmdData{Payload: []byte("one")})
	applyCmd(t, f, 3, &CmdData{Payload: []byte("two")})
	if f.applied.Get() != 3 || len(d.applied) != 2 {
		t.Fatalf("applied index %d, data %q", f.applied.Get(), d.applied)
	}
	// A failure of the data store is the command's refusal, in the form
	// that crosses to the node that asked.
	d.refuse = true
	b, _ := EncodeCommand(&CmdData{Payload: []byte("three")})
	var rej *ErrRejected
	if res := f.Apply(&raft.Log{Index: 4, Data: b}); !errors.As(res.(error), &rej) {
		t.Fatalf("refused data command returned %v", res)
	}
	d.refuse = false
	snapshot := persistSnapshot(t, f)
	d2 := &memData{applied: [][]byte{[]byte("stale")}}
	g := newFSM(slog.New(slog.DiscardHandler), d2)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshot))); err != nil {
		t.Fatal(err)
	}
	if string(bytes.Join(d2.applied, []byte(","))) != "one,two" {
		t.Fatalf("restored data %q", d2.applied)
	}
}

// TestPublishedStateNeverChanges: a reader's state stays as it was while
// commands apply, data and no-op entries publish the same state at a new
// index, and a refused command leaves no trace.
func TestPublishedStateNeverChanges(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	applyCmd(t, f, 1, &CmdInit{ClusterID: "pub", Nodes: threeNodes()})
	held, idx := f.read()
	if idx != 1 || held.TunablesOf(0).EnableBans != 1 {
		t.Fatalf("index %d EnableBans %d", idx, held.TunablesOf(0).EnableBans)
	}
	applyCmd(t, f, 2, &CmdSetTunable{Name: "EnableBans", Value: 0})
	applyCmd(t, f, 3, &CmdSetStopped{PNN: 1, Stopped: true})
	if held.TunablesOf(0).EnableBans != 1 || held.Nodes[1].Stopped {
		t.Fatal("a held state changed under its reader")
	}
	now, _ := f.read()
	if now.TunablesOf(0).EnableBans != 0 || !now.Nodes[1].Stopped {
		t.Fatalf("new state not published: %s", now)
	}
	applyCmd(t, f, 4, &CmdNoop{})
	if again, idx := f.read(); again != now || idx != 4 {
		t.Fatalf("a no-op published another state (index %d)", idx)
	}
	b, _ := EncodeCommand(&CmdSetStopped{PNN: 7, Stopped: true})
	if res, _ := f.Apply(&raft.Log{Index: 5, Data: b}).(error); res == nil {
		t.Fatal("command for a missing node applied")
	}
	if after, idx := f.read(); after != now || idx != 5 {
		t.Fatalf("a refused command published another state (index %d)", idx)
	}
}

// TestDataEntriesLeaveTheStateAlone: data entries advance the applied
// index without waking the state's followers, and installing the last
// change installs the state as of any later data entry; a restore is a
// change, and so is the entry after it (the restore publishes at the
// index before it).
func TestDataEntriesLeaveTheStateAlone(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), &memData{})
	watch := f.changed.Changed()
	applyCmd(t, f, 1, &CmdInit{ClusterID: "c", Nodes: threeNodes()})
	select {
	case <-watch:
	default:
		t.Fatal("a command that changed the state woke nobody")
	}
	watch = f.changed.Changed()
	applyCmd(t, f, 2, &CmdData{Payload: []byte("tx")})
	applyCmd(t, f, 3, &CmdNoop{})
	select {
	case <-watch:
		t.Fatal("data entries and no-ops woke the state's followers")
	default:
	}
	if f.applied.Get() != 3 || f.lastChange(3) != 1 || f.lastChange(2) != 1 {
		t.Fatalf("applied %d, last change before 3: %d, before 2: %d", f.applied.Get(), f.lastChange(3), f.lastChange(2))
	}
	applyCmd(t, f, 4, &CmdBan{PNN: 1, Seconds: 5, Until: 1})
	if f.lastChange(3) != 3 || f.lastChange(5) != 4 {
		t.Fatalf("after a change at 4: last change before 3 is %d, before 5 is %d", f.lastChange(3), f.lastChange(5))
	}
	snapshot := persistSnapshot(t, f)
	if err := f.Restore(io.NopCloser(bytes.NewReader(snapshot))); err != nil {
		t.Fatal(err)
	}
	watch = f.changed.Changed() // after the restore's own notification
	applyCmd(t, f, 9, &CmdData{Payload: []byte("after")})
	select {
	case <-watch:
	default:
		t.Fatal("the entry after a restore did not count as a change")
	}
	if f.lastChange(9) != 9 {
		t.Fatalf("last change before 9 after a restore: %d", f.lastChange(9))
	}
}

// TestRestoreOfACutSnapshotChangesNothing: a snapshot cut anywhere (at a
// section boundary too) or followed by garbage is refused with an error
// naming what failed, and neither the cluster state nor the data is
// replaced by part of it.
func TestRestoreOfACutSnapshotChangesNothing(t *testing.T) {
	src := newFSM(slog.New(slog.DiscardHandler), &memData{})
	applyCmd(t, src, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	applyCmd(t, src, 2, &CmdData{Payload: []byte("committed")})
	good := persistSnapshot(t, src)

	for _, b := range [][]byte{append(bytes.Clone(good), "trailing garbage"...), good[:0]} {
		checkRestoreRefused(t, b, len(good))
	}
	for cut := range len(good) {
		checkRestoreRefused(t, good[:cut], cut)
	}
}

func checkRestoreRefused(t *testing.T, b []byte, at int) {
	t.Helper()
	if err := restoreOverOtherState(t, b); err == nil {
		t.Fatalf("restored a snapshot cut or extended at byte %d of %d", at, len(b))
	}
}

// restoreOverOtherState restores b into an FSM that has state and data of
// its own; when the restore fails, it checks that the error names the
// operation and that neither the state nor the data changed.
func restoreOverOtherState(t *testing.T, b []byte) error {
	t.Helper()
	data := &memData{applied: [][]byte{[]byte("before")}}
	g := newFSM(slog.New(slog.DiscardHandler), data)
	applyCmd(t, g, 1, &CmdInit{ClusterID: "other", Nodes: threeNodes()})
	before, _ := g.read()
	err := g.Restore(io.NopCloser(bytes.NewReader(b)))
	if err == nil {
		return nil
	}
	if !strings.HasPrefix(err.Error(), "restore snapshot: ") {
		t.Fatalf("error %q does not name the operation", err)
	}
	if st, _ := g.read(); !reflect.DeepEqual(st, before) {
		t.Fatalf("a failed restore (%v) changed the state to %s", err, st)
	}
	if len(data.applied) != 1 || string(data.applied[0]) != "before" {
		t.Fatalf("a failed restore (%v) replaced the data with %q", err, data.applied)
	}
	return err
}

// FuzzSnapshotRestore: whatever a snapshot holds, Restore either takes
// all of it or fails naming what failed, leaving state and data alone;
// a good snapshot with any byte changed is refused.
func FuzzSnapshotRestore(f *testing.F) {
	src := newFSM(slog.New(slog.DiscardHandler), &memData{})
	applyCmd(f, src, 1, &CmdInit{ClusterID: "snap", Nodes: threeNodes()})
	applyCmd(f, src, 2, &CmdData{Payload: []byte("committed")})
	good := persistSnapshot(f, src)
	f.Add(good, uint16(0), byte(0))
	f.Add(good, uint16(40), byte(1))
	f.Add(good[:len(good)/2], uint16(0), byte(0))
	f.Add([]byte(snapshotMagicV1), uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, b []byte, at uint16, flip byte) {
		if err := restoreOverOtherState(t, b); err != nil {
			return
		}
		if flip != 0 && int(at) < len(b) && bytes.HasPrefix(b, []byte(snapshotMagic)) {
			changed := bytes.Clone(b)
			changed[at] ^= flip
			if restoreOverOtherState(t, changed) == nil {
				t.Fatalf("restored a snapshot with byte %d changed", at)
			}
		}
	})
}
