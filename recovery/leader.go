package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// Raft is what the leader's recovery needs from the Raft layer.
type Raft interface {
	Current() (*raftlayer.State, uint64)
	Watch() <-chan struct{}
	IsLeader() bool
	LeaderChanged() <-chan struct{}
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
}

// NodeError is a recovery that failed because of one node.
type NodeError struct {
	Node uint32
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %d: %v", e.Node, e.Err) }
func (e *NodeError) Unwrap() error { return e.Err }

// failLimit is how many recoveries in a row may fail because of the same
// node before it is banned for RecoveryBanPeriod.
const failLimit = 3

// Leader runs the recoveries while its node leads: whenever the
// committed view has Recovering set, it recovers the databases of that
// generation and commits the view that ends the recovery. It runs on its
// own goroutine, so that the election's leader duties (expiring bans,
// membership) go on meanwhile; the election only decides when, by
// committing a view with a new generation.
type Leader struct {
	self  uint32
	raft  Raft
	links transport.Links
	rpc   noderpc.Caller
	local *Participant
	log   *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup

	mRuns     *metrics.Counter
	mFailures *metrics.Counter
	mBans     *metrics.Counter
	// mBansAvoided counts bans not made to keep a quorum of active nodes.
	mBansAvoided *metrics.Counter
	mDuration    *metrics.Histogram
	mRecords     *metrics.Counter
	mPages       *metrics.Counter

	mu sync.Mutex
	// failures counts consecutive failed recoveries blamed on one node;
	// lastFailure is when the last of them failed.
	failures    map[uint32]int
	lastFailure time.Time
	// now is the clock (tests replace it).
	now func() time.Time
}

// NewLeader returns the recovery of node self, whose own part is local;
// Start runs it.
func NewLeader(self uint32, r Raft, links transport.Links, rpc noderpc.Caller, local *Participant, log *slog.Logger, set *metrics.Set) *Leader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	return &Leader{
		self: self, raft: r, links: links, rpc: rpc, local: local, log: log, failures: make(map[uint32]int), now: time.Now,
		stop:         make(chan struct{}),
		mRuns:        set.GetOrCreateCounter("ctdb_recovery_runs_total"),
		mFailures:    set.GetOrCreateCounter("ctdb_recovery_failures_total"),
		mBans:        set.GetOrCreateCounter("ctdb_recovery_bans_total"),
		mBansAvoided: set.GetOrCreateCounter("ctdb_recovery_bans_avoided_total"),
		mDuration:    set.GetOrCreateHistogram("ctdb_recovery_duration_seconds"),
		mRecords:     set.GetOrCreateCounter("ctdb_recovery_records_total"),
		mPages:       set.GetOrCreateCounter("ctdb_recovery_pages_total"),
	}
}

// Recover makes the volatile databases of the plan's active nodes agree.
func (l *Leader) Recover(ctx context.Context, p Plan) error {
	start := time.Now()
	l.mRuns.Inc()
	err := l.recover(ctx, p)
	if err != nil {
		l.mFailures.Inc()
		l.blame(err)
		return err
	}
	l.mu.Lock()
	clear(l.failures)
	l.mu.Unlock()
	l.mDuration.UpdateDuration(start)
	return nil
}

func (l *Leader) recover(ctx context.Context, p Plan) error {
	st, _ := l.raft.Current()
	if st.View.Generation != p.Generation || !st.View.Recovering {
		return fmt.Errorf("generation %d is not being recovered", p.Generation)
	}
	// Nodes that held records but are gone are not waited for. Active
	// nodes that were not members are asked too: their copies count only
	// where this recovery already pushed to them (see recoverDB).
	var from []uint32
	for _, pnn := range p.From {
		if pnn == l.self || slices.Contains(p.Active, pnn) || l.links.Connected(pnn) {
			from = append(from, pnn)
		}
	}
	for _, pnn := range p.Active {
		if !slices.Contains(from, pnn) {
			from = append(from, pnn)
		}
	}
	// Every database on its own, in parallel: one that a client's lock
	// keeps from freezing does not hold up the others, and once those are
	// thawed the client can get what it waits for and let go.
	var ids []uint32
	for _, id := range st.DBOrder {
		if db, ok := st.DBs[id]; ok && db.Flags&(protocol.DBFlagPersistent|protocol.DBFlagReplicated) == 0 {
			ids = append(ids, id)
		}
	}
	limit := st.TunablesOf(l.self).RecBufferSizeLimit
	// The last database to be recovered is not thawed on its own: the
	// view that ends the recovery thaws it on every node, and is
	// committed before its clients come back and compete with the commit.
	var left atomic.Int32
	left.Store(int32(len(ids)))
	thawNow := func() bool { return left.Add(-1) > 0 }
	sem := make(chan struct{}, maxParallelDBs)
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req := request{Generation: p.Generation, DBID: id, ViewSeq: st.View.Seq}
			r := &dbRecovery{l: l, req: req, from: from, members: p.From, active: p.Active, vnnmap: st.View.VNNMap, limit: limit}
			err := r.run(ctx, thawNow)
			if err != nil {
				err = fmt.Errorf("recover %s: %w", st.DBs[id].Name, err)
			}
			errs <- err
		}()
	}
	var first error
	for range ids {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// maxParallelDBs bounds the databases recovered at once (and so the
// records held in memory).
const maxParallelDBs = 8

// call runs a recovery control on pnn, this node included.
func (l *Leader) call(ctx context.Context, pnn, op uint32, data []byte) ([]byte, error) {
	if pnn == l.self {
		return l.local.Serve(ctx, op, data)
	}
	return l.rpc.Call(ctx, pnn, op, data)
}

// onNodes runs fn for every node in parallel and returns the first failure
// as a *NodeError.
func onNodes(pnns []uint32, fn func(pnn uint32) error) error {
	errs := make(chan error, len(pnns))
	for _, pnn := range pnns {
		go func() {
			if err := fn(pnn); err != nil {
				errs <- &NodeError{Node: pnn, Err: err}
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range pnns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// blame counts a failed recovery against the node it failed on and bans
// that node once it failed failLimit recoveries in a row. Failures older
// than RecoveryGracePeriod are forgiven. A ban that would leave fewer
// active nodes than a majority of the cluster (or none) is not made: a
// struggling cluster must not ban itself out of existence. A recovery that
// a newer view superseded is no node's failure.
func (l *Leader) blame(err error) {
	var ne *NodeError
	if !errors.As(err, &ne) || strings.Contains(ne.Err.Error(), supersededHere) {
		// A node that moved on to a newer view did nothing wrong: the
		// cluster changed under the recovery, which runs again.
		return
	}
	st, _ := l.raft.Current()
	grace := st.TunablesOf(l.self).RecoveryGracePeriod
	now := l.now()
	l.mu.Lock()
	if !l.lastFailure.IsZero() && now.Sub(l.lastFailure) > time.Duration(grace)*time.Second {
		clear(l.failures)
	}
	l.lastFailure = now
	for p := range l.failures {
		if p != ne.Node {
			delete(l.failures, p)
		}
	}
	l.failures[ne.Node]++
	n := l.failures[ne.Node]
	if n >= failLimit {
		delete(l.failures, ne.Node)
	}
	l.mu.Unlock()
	active := st.Active()
	if n < failLimit || !slices.Contains(active, ne.Node) {
		return
	}
	// The culprit's EnableBans, as in 4.17, where the ban is its own
	// SET_BAN_STATE; the ban's length is the leader's RecoveryBanPeriod.
	if st.TunablesOf(ne.Node).EnableBans == 0 {
		return
	}
	members := 0
	for _, node := range st.Nodes {
		if !node.Deleted {
			members++
		}
	}
	if left := len(active) - 1; left < members/2+1 {
		l.log.Warn("not banning a node that keeps failing recoveries: the cluster would keep too few active nodes",
			"pnn", ne.Node, "active_after_ban", left, "nodes", members, "err", ne.Err)
		l.mBansAvoided.Inc()
		return
	}
	secs := st.TunablesOf(l.self).RecoveryBanPeriod
	l.log.Warn("banning a node that keeps failing recoveries", "pnn", ne.Node, "seconds", secs, "err", ne.Err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	until := now.Add(time.Duration(secs) * time.Second).UnixNano()
	if _, err := l.raft.Apply(ctx, &raftlayer.CmdBan{PNN: ne.Node, Seconds: secs, Until: until}); err != nil {
		l.log.Warn("ban after failed recoveries not committed", "pnn", ne.Node, "err", err)
		return
	}
	l.mBans.Inc()
}
