package persistent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// fakeCluster applies commands to one store and lets a test decide when
// the other nodes report them applied.
type fakeCluster struct {
	store *Store

	mu      sync.Mutex
	state   *raftlayer.State
	index   uint64
	applied map[uint32]uint64 // other nodes' applied index
	changed chan struct{}
}

func newFakeCluster(t *testing.T, s *Store) *fakeCluster {
	return &fakeCluster{store: s, state: testState(t, protocol.DBFlagPersistent), applied: map[uint32]uint64{}, changed: make(chan struct{})}
}

func (f *fakeCluster) Apply(ctx context.Context, c raftlayer.Command) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	return f.index, f.store.ApplyData(f.index, c.(*raftlayer.CmdData).Payload, f.state)
}

func (f *fakeCluster) Current() (*raftlayer.State, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Clone(), f.index
}

func (f *fakeCluster) WaitAppliedOn(ctx context.Context, index uint64, pnns []uint32) error {
	for {
		f.mu.Lock()
		ok, ch := true, f.changed
		for _, p := range pnns {
			if f.applied[p] < index {
				ok = false
			}
		}
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeCluster) update(fn func()) {
	f.mu.Lock()
	fn()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func TestCommitWaitsForEveryActiveNode(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	fc := newFakeCluster(t, s)
	c := NewCommitter(1, s, fc, slog.New(slog.DiscardHandler))
	if _, err := s.Ensure(testID, testDB, false, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- c.Commit(t.Context(), testID, (&protocol.RecBuffer{DBID: testID, Records: []protocol.RecData{rec("k", 1, "v")}}).Marshal())
	}()
	fc.update(func() { fc.applied[0] = 1 })
	select {
	case err := <-done:
		t.Fatalf("commit answered (%v) before node 2 applied it", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Node 2 leaves the active set instead of applying: the commit is
	// answered, since node 2 catches up from the log before it is back.
	fc.update(func() { fc.state.View.Disconnected = []uint32{2} })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("commit still waits for a node that left")
	}
	if value(t, s, "k") != "v" {
		t.Fatal("committed record missing")
	}
}

func TestCommitToFrozenDatabaseRefused(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	fc := newFakeCluster(t, s)
	c := NewCommitter(1, s, fc, slog.New(slog.DiscardHandler))
	db, err := s.Ensure(testID, testDB, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	db.SetFrozen(true)
	if err := c.Commit(t.Context(), testID, (&protocol.RecBuffer{DBID: testID}).Marshal()); !errors.Is(err, ErrFrozen) {
		t.Fatalf("commit to a frozen database: %v", err)
	}
	db.SetFrozen(false)
	fc.update(func() { fc.applied[0], fc.applied[2] = 100, 100 })
	if err := c.Wipe(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
}

func TestCommitTimesOutNamingNodes(t *testing.T) {
	s := newTestStore(t, t.TempDir())
	fc := newFakeCluster(t, s)
	c := NewCommitter(1, s, fc, slog.New(slog.DiscardHandler))
	if _, err := s.Ensure(testID, testDB, false, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := c.Wipe(ctx, testID)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wipe with nodes that never apply: %v", err)
	}
}
