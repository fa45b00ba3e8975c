package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/election"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// Raft is what the leader's recovery needs from the Raft layer.
type Raft interface {
	State() (*raftlayer.State, uint64)
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
}

// Nodes reaches the other nodes.
type Nodes interface {
	Connected(pnn uint32) bool
	// Call sends a node-to-node control and waits for its reply.
	Call(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error)
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

// Leader runs recoveries for the election while its node leads.
type Leader struct {
	self  uint32
	raft  Raft
	nodes Nodes
	local *Participant
	log   *slog.Logger

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

// NewLeader returns the recovery of node self, whose own part is local.
func NewLeader(self uint32, r Raft, nodes Nodes, local *Participant, log *slog.Logger, set *metrics.Set) *Leader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	return &Leader{
		self: self, raft: r, nodes: nodes, local: local, log: log, failures: make(map[uint32]int), now: time.Now,
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
func (l *Leader) Recover(ctx context.Context, p election.RecoveryPlan) error {
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

func (l *Leader) recover(ctx context.Context, p election.RecoveryPlan) error {
	st, _ := l.raft.State()
	if st.View.Generation != p.Generation || !st.View.Recovering {
		return fmt.Errorf("generation %d is not being recovered", p.Generation)
	}
	// Nodes that held records but are gone are not waited for. Active
	// nodes that were not members are asked too: their copies count only
	// where this recovery already pushed to them (see recoverDB).
	var from []uint32
	for _, pnn := range p.From {
		if pnn == l.self || slices.Contains(p.Active, pnn) || l.nodes.Connected(pnn) {
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
	limit, _ := st.Tunable("RecBufferSizeLimit")
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
			err := l.recoverDB(ctx, req, from, p.From, p.Active, st.View.VNNMap, limit, thawNow)
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

// recoverDB recovers one database, then thaws it unless thawNow says the
// end of the recovery will. A node's copy counts if
// it was a member of the last recovered generation (members) or got this
// generation's push of the database already (a retry after the database
// was thawed: records may have moved to it since).
//
// Pages are ranges of hash chains, so that no page holds more than about
// limit bytes per node: the first node's pull decides where a page ends,
// the others send the same chains. Nodes whose files differ in hash size
// cannot be paged alike; then the database goes in one page.
//
// The work is a pipeline, so that the nodes pull, the leader plans and
// the nodes write at the same time: one goroutine pulls the pages in
// order, this one plans each (volatile.Planner), and one per active node
// sends that node its changes in order. At most a few pages are held at
// once.
func (l *Leader) recoverDB(ctx context.Context, req request, from, members, active, vnnmap []uint32, limit uint32, thawNow func() bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var failed error
	fail := func(err error) {
		mu.Lock()
		if failed == nil {
			failed = err
		}
		mu.Unlock()
		cancel()
	}
	began := time.Now()
	var pulled time.Duration
	var wg sync.WaitGroup
	pages := make(chan pulledPage, 1)
	wg.Go(func() {
		defer close(pages)
		if err := l.pullPages(ctx, req, from, members, active, limit, pages); err != nil {
			fail(err)
		}
		pulled = time.Since(began)
	})
	pushes := make(map[uint32]chan []byte, len(active))
	for _, pnn := range active {
		ch := make(chan []byte, 2)
		pushes[pnn] = ch
		wg.Go(func() {
			for msg := range ch {
				if ctx.Err() != nil {
					continue // drain
				}
				if _, err := l.call(ctx, pnn, OpPush, msg); err != nil {
					fail(&NodeError{Node: pnn, Err: err})
				}
			}
		})
	}
	planner := volatile.NewPlanner(vnnmap, l.self)
	started := make(map[uint32]bool, len(active))
	pageCount, records, changed := 0, 0, 0
	var tPlan time.Duration
	for pg := range pages {
		if ctx.Err() != nil {
			continue // drain, so that the puller ends
		}
		t0 := time.Now()
		plan, err := planner.Plan(pg.copies)
		tPlan += time.Since(t0)
		if err != nil {
			fail(err)
			continue
		}
		pageCount++
		records += plan.Records
		changed += plan.Changed
		l.mPages.Inc()
		l.mRecords.Add(plan.Records)
		for _, pnn := range active {
			changes, pending := plan.Changes[pnn], plan.Pending[pnn]
			empty := len(changes) == 0 && len(pending) == 0
			var flags uint32
			if !started[pnn] {
				if empty && !pg.last {
					continue // nothing to write yet: no transaction yet
				}
				flags |= pushFirst
				started[pnn] = true
			}
			if pg.last {
				flags |= pushLast
			} else if empty {
				continue
			}
			select {
			case pushes[pnn] <- appendPush(req.append(nil), flags, changes, pending):
			case <-ctx.Done():
			}
		}
	}
	for _, ch := range pushes {
		close(ch)
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.log.Info("database recovered", "db_id", fmt.Sprintf("0x%08x", req.DBID), "records", records,
		"changed", changed, "pages", pageCount, "pulled_after", pulled, "planning", tPlan, "pushed_after", time.Since(began))
	if !thawNow() {
		return nil
	}
	return onNodes(active, func(pnn uint32) error {
		_, err := l.call(ctx, pnn, OpThaw, req.append(nil))
		return err
	})
}

// pulledPage is one range of chains from every node still answering.
type pulledPage struct {
	copies []volatile.NodeCopy
	last   bool
}

// pullPages pulls the database page by page into out, in order.
func (l *Leader) pullPages(ctx context.Context, req request, from, members, active []uint32, limit uint32, out chan<- pulledPage) error {
	gone := map[uint32]bool{} // departing nodes that stopped answering
	// end is where the next page ends; 0: where the first node's pull
	// passes limit bytes. Once a page shows how densely the chains are
	// filled, the next ones are sized to about limit bytes, so that all
	// nodes can be asked at once.
	start, end := uint32(0), uint32(0)
	for {
		copies, next, hashSizes, err := l.pullPage(ctx, req, from, members, active, gone, start, end, limit)
		if err != nil {
			return err
		}
		if len(hashSizes) > 1 && limit != 0 {
			if start != 0 {
				return fmt.Errorf("nodes' files differ in hash size (%v) past the first page", hashSizes)
			}
			l.log.Warn("nodes' files differ in hash size; recovering the database in one page", "db_id", fmt.Sprintf("0x%08x", req.DBID), "hash_sizes", hashSizes)
			limit = 0
			continue
		}
		last := limit == 0 || len(hashSizes) == 0 || next >= hashSizes[0]
		select {
		case out <- pulledPage{copies: copies, last: last}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if last {
			return nil
		}
		most := 0
		for _, c := range copies {
			most = max(most, len(c.Packed))
		}
		span := 2 * uint64(next-start)
		if most > 0 {
			span = uint64(next-start) * uint64(limit) / uint64(most)
		}
		start, end = next, uint32(min(uint64(next)+max(span, 1), uint64(hashSizes[0])))
	}
}

// pullPage pulls one page from every node still answering: the records of
// each, the chain after the page, and the distinct hash sizes reported.
// The page ends before chain end, or if end is 0 where the first node's
// records pass limit bytes; without a limit, every node sends all its
// chains.
func (l *Leader) pullPage(ctx context.Context, req request, from, members, active []uint32, gone map[uint32]bool, start, end, limit uint32) ([]volatile.NodeCopy, uint32, []uint32, error) {
	var copies []volatile.NodeCopy
	var mu sync.Mutex
	var sizes []uint32
	take := func(pnn uint32, r pullRange) (uint32, error) {
		buf, err := l.call(ctx, pnn, OpPull, r.append(req.append(nil)))
		var rep pullReply
		if err == nil {
			rep, err = parsePullReply(buf)
		}
		if err != nil {
			if !slices.Contains(active, pnn) {
				// It leaves the cluster; what only it held is lost with
				// it, as when it dies.
				l.log.Warn("no records from a departing node", "pnn", pnn, "db_id", fmt.Sprintf("0x%08x", req.DBID), "err", err)
				mu.Lock()
				gone[pnn] = true
				mu.Unlock()
				return 0, nil
			}
			return 0, err
		}
		mu.Lock()
		defer mu.Unlock()
		copies = append(copies, volatile.NodeCopy{
			PNN: pnn, Packed: rep.packed,
			Counts: rep.pushed || slices.Contains(members, pnn),
			Active: slices.Contains(active, pnn),
		})
		if !slices.Contains(sizes, rep.hashSize) {
			sizes = append(sizes, rep.hashSize)
		}
		return rep.next, nil
	}
	for {
		var nodes []uint32
		for _, p := range from {
			if !gone[p] {
				nodes = append(nodes, p)
			}
		}
		if len(nodes) == 0 {
			return nil, 0, nil, nil
		}
		if limit == 0 || end != 0 {
			r := pullRange{Start: start, End: end}
			if limit == 0 {
				r = pullRange{}
			}
			err := onNodes(nodes, func(pnn uint32) error {
				_, err := take(pnn, r)
				return err
			})
			if err != nil {
				return nil, 0, nil, err
			}
			return copies, r.End, sizes, nil
		}
		// The first node's pull decides the page's end.
		next, err := take(nodes[0], pullRange{Start: start, Limit: limit})
		if err != nil {
			return nil, 0, nil, &NodeError{Node: nodes[0], Err: err}
		}
		if gone[nodes[0]] {
			continue
		}
		err = onNodes(nodes[1:], func(pnn uint32) error {
			_, err := take(pnn, pullRange{Start: start, End: next})
			return err
		})
		if err != nil {
			return nil, 0, nil, err
		}
		return copies, next, sizes, nil
	}
}

// call runs a recovery control on pnn, this node included.
func (l *Leader) call(ctx context.Context, pnn, op uint32, data []byte) ([]byte, error) {
	if pnn == l.self {
		return l.local.Serve(ctx, op, data)
	}
	return l.nodes.Call(ctx, pnn, op, data)
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
// struggling cluster must not ban itself out of existence.
func (l *Leader) blame(err error) {
	var ne *NodeError
	if !errors.As(err, &ne) {
		return
	}
	st, _ := l.raft.State()
	grace, _ := st.Tunable("RecoveryGracePeriod")
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
	if v, _ := st.Tunable("EnableBans"); v == 0 {
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
	secs, _ := st.Tunable("RecoveryBanPeriod")
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
