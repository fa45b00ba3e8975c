package persistent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Cluster is what a Committer needs of the node's Raft layer.
type Cluster interface {
	// Apply commits a command and returns once this node applied it.
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
	// State is the replicated state as applied here.
	Current() (*raftlayer.State, uint64)
	// WaitAppliedOn waits until the nodes applied index.
	WaitAppliedOn(ctx context.Context, index uint64, pnns []uint32) error
}

// Committer commits changes of persistent databases through Raft.
type Committer struct {
	self  uint32
	store *Store
	cl    Cluster
	log   *slog.Logger
}

// NewCommitter returns a committer for node self.
func NewCommitter(self uint32, store *Store, cl Cluster, log *slog.Logger) *Committer {
	return &Committer{self: self, store: store, cl: cl, log: log}
}

// ErrFrozen is returned for a commit to a database that DB_FREEZE holds.
var ErrFrozen = errors.New("database is frozen")

// Commit commits a transaction's record buffer (TRANS3_COMMIT,
// UPDATE_RECORD). It returns once every active node has applied it.
func (c *Committer) Commit(ctx context.Context, dbid uint32, recbuf []byte) error {
	if db := c.store.DB(dbid); db != nil && db.Frozen() {
		return fmt.Errorf("commit to %s: %w", db.Name, ErrFrozen)
	}
	return c.run(ctx, opCommit, dbid, recbuf)
}

// Wipe deletes every record of a database on every node.
func (c *Committer) Wipe(ctx context.Context, dbid uint32) error {
	return c.run(ctx, opWipe, dbid, nil)
}

// Restore replaces a database's records on every node.
func (c *Committer) Restore(ctx context.Context, dbid uint32, records []protocol.RecData) error {
	return c.run(ctx, opRestore, dbid, (&protocol.RecBuffer{DBID: dbid, Records: records}).Marshal())
}

func (c *Committer) run(ctx context.Context, kind opKind, dbid uint32, recbuf []byte) error {
	start := time.Now()
	m := c.store.m
	m.commits.Inc()
	cmd := &raftlayer.CmdData{Payload: encodeOp(kind, c.self, dbid, recbuf)}
	if ackBeforeApply {
		go c.cl.Apply(context.Background(), cmd)
		return nil
	}
	idx, err := c.cl.Apply(ctx, cmd)
	if err == nil {
		err = c.waitActive(ctx, idx)
	}
	if err != nil {
		m.commitErrors.Inc()
		return fmt.Errorf("%s 0x%08x: %w", kind, dbid, err)
	}
	m.commitTime.UpdateDuration(start)
	return nil
}

// waitActive waits until every active node has applied index. A node
// that stops being active (the leader dropped it from the view) is no
// longer waited for: it catches up from the log before it is active again.
func (c *Committer) waitActive(ctx context.Context, index uint64) error {
	var mu sync.Mutex
	done := map[uint32]bool{c.self: true}
	for {
		st, _ := c.cl.Current()
		var pending []uint32
		for _, p := range st.Active() {
			if !done[p] {
				pending = append(pending, p)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("nodes %v did not apply raft index %d: %w", pending, index, ctx.Err())
		}
		// A bounded wait per round, so that a node that left is noticed.
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		var wg sync.WaitGroup
		for _, p := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c.cl.WaitAppliedOn(wctx, index, []uint32{p}) == nil {
					mu.Lock()
					done[p] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		cancel()
		mu.Lock()
		pending = slices.DeleteFunc(pending, func(p uint32) bool { return done[p] })
		mu.Unlock()
		if len(pending) > 0 {
			// A node that refuses at once (not connected) is asked again
			// shortly, not in a busy loop.
			c.log.Debug("waiting for nodes to apply a persistent commit", "index", index, "nodes", pending)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}
