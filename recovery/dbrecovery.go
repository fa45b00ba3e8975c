package recovery

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/volatile"
)

// dbRecovery is the recovery of one database.
//
// A node's copy counts if it was a member of the last recovered
// generation (members) or got this generation's push of the database
// already (a retry after the database was thawed: records may have moved
// to it since).
//
// Pages are ranges of hash chains, so that no page holds more than about
// limit bytes per node: the first node's pull decides where the first page
// ends, the others send the same chains; later pages are sized from the
// density of the first and asked of every node at once. Nodes whose files
// differ in hash size cannot be paged alike; then the database goes in one
// page.
//
// The work is a pipeline, so that the nodes pull, the leader plans and
// the nodes write at the same time: one goroutine pulls the pages in
// order, run plans each (volatile.Planner), and one goroutine per active
// node sends that node its changes in order. At most a few pages are held
// at once.
type dbRecovery struct {
	l   *Leader
	req request
	// from are the nodes pulled, members those whose copies count, active
	// those that get changes; vnnmap is the new generation's.
	from, members, active, vnnmap []uint32
	limit                         uint32 // RecBufferSizeLimit
	// gone are departing nodes that stopped answering; only the puller
	// uses it.
	gone map[uint32]bool
}

// run recovers the database, then thaws it unless thawNow says the end of
// the recovery will.
func (r *dbRecovery) run(ctx context.Context, thawNow func() bool) error {
	l, req, active := r.l, r.req, r.active
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
		if err := r.pullPages(ctx, pages); err != nil {
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
				if _, err := l.call(ctx, pnn, opPush, msg); err != nil {
					fail(&NodeError{Node: pnn, Err: err})
				}
			}
		})
	}
	planner := volatile.NewPlanner(r.vnnmap, l.self)
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
		_, err := l.call(ctx, pnn, opThaw, req.append(nil))
		return err
	})
}

// pulledPage is one range of chains from every node still answering.
type pulledPage struct {
	copies []volatile.NodeCopy
	last   bool
}

// pullPages pulls the database page by page into out, in order.
func (r *dbRecovery) pullPages(ctx context.Context, out chan<- pulledPage) error {
	r.gone = map[uint32]bool{}
	limit := r.limit
	// end is where the next page ends; 0: where the first node's pull
	// passes limit bytes. Once a page shows how densely the chains are
	// filled, the next ones are sized to about limit bytes, so that all
	// nodes can be asked at once.
	start, end := uint32(0), uint32(0)
	for {
		copies, next, hashSizes, err := r.pullPage(ctx, start, end, limit)
		if err != nil {
			return err
		}
		if len(hashSizes) > 1 && limit != 0 {
			if start != 0 {
				return fmt.Errorf("nodes' files differ in hash size (%v) past the first page", hashSizes)
			}
			r.l.log.Warn("nodes' files differ in hash size; recovering the database in one page", "db_id", fmt.Sprintf("0x%08x", r.req.DBID), "hash_sizes", hashSizes)
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
func (r *dbRecovery) pullPage(ctx context.Context, start, end, limit uint32) ([]volatile.NodeCopy, uint32, []uint32, error) {
	var copies []volatile.NodeCopy
	var mu sync.Mutex
	var sizes []uint32
	take := func(pnn uint32, rg pullRange) (uint32, error) {
		buf, err := r.l.call(ctx, pnn, opPull, rg.append(r.req.append(nil)))
		var rep pullReply
		if err == nil {
			rep, err = parsePullReply(buf)
		}
		if err != nil {
			if !slices.Contains(r.active, pnn) {
				// It leaves the cluster; what only it held is lost with
				// it, as when it dies.
				r.l.log.Warn("no records from a departing node", "pnn", pnn, "db_id", fmt.Sprintf("0x%08x", r.req.DBID), "err", err)
				mu.Lock()
				r.gone[pnn] = true
				mu.Unlock()
				return 0, nil
			}
			return 0, err
		}
		mu.Lock()
		defer mu.Unlock()
		copies = append(copies, volatile.NodeCopy{
			PNN: pnn, Packed: rep.packed,
			Counts: rep.pushed || slices.Contains(r.members, pnn),
			Active: slices.Contains(r.active, pnn),
		})
		if !slices.Contains(sizes, rep.hashSize) {
			sizes = append(sizes, rep.hashSize)
		}
		return rep.next, nil
	}
	for {
		var nodes []uint32
		for _, p := range r.from {
			if !r.gone[p] {
				nodes = append(nodes, p)
			}
		}
		if len(nodes) == 0 {
			return nil, 0, nil, nil
		}
		if limit == 0 || end != 0 {
			rg := pullRange{Start: start, End: end}
			if limit == 0 {
				rg = pullRange{}
			}
			err := onNodes(nodes, func(pnn uint32) error {
				_, err := take(pnn, rg)
				return err
			})
			if err != nil {
				return nil, 0, nil, err
			}
			return copies, rg.End, sizes, nil
		}
		// The first node's pull decides the page's end.
		next, err := take(nodes[0], pullRange{Start: start, Limit: limit})
		if err != nil {
			return nil, 0, nil, &NodeError{Node: nodes[0], Err: err}
		}
		if r.gone[nodes[0]] {
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
