package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile"
)

// traversal is a client's traverse this node coordinates: every active node
// walks its records and streams them here (TRAVERSE_DATA), and this node
// passes them to the client as messages, ending with an empty record once
// every node ended.
type traversal struct {
	id          uint32
	client      *clientConn
	srvid       uint64
	clientReqID uint32
	dbid        uint32
	waiting     map[uint32]bool
	timer       *time.Timer
}

// traversals holds the traversals this node coordinates and the walks it
// runs for any coordinator.
type traversals struct {
	mu     sync.Mutex
	nextID uint32
	byID   map[uint32]*traversal
	walks  map[walkKey]context.CancelFunc
}

type walkKey struct {
	origin, id uint32
}

func newTraversals() *traversals {
	return &traversals{byID: make(map[uint32]*traversal), walks: make(map[walkKey]context.CancelFunc)}
}

func (n *Node) ctrlTraverseStart(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	return n.startTraverse(r.client, protocol.TraverseStartExt{DBID: t.DBID, ReqID: t.ReqID, SrvID: t.SrvID})
}

func (n *Node) ctrlTraverseStartExt(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStartExt
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	return n.startTraverse(r.client, t)
}

func (n *Node) startTraverse(c *clientConn, t protocol.TraverseStartExt) reply {
	targets := n.messageTargets(protocol.BroadcastActive)
	if n.pers.DB(t.DBID) != nil {
		targets = []uint32{n.self} // the same records are on every node
	} else if n.vol.DB(t.DBID) == nil {
		return fail("traverse: unknown database 0x%08x", t.DBID)
	}
	ts := n.traversals
	ts.mu.Lock()
	ts.nextID++
	tr := &traversal{id: ts.nextID, client: c, srvid: t.SrvID, clientReqID: t.ReqID, dbid: t.DBID, waiting: make(map[uint32]bool)}
	for _, p := range targets {
		tr.waiting[p] = true
	}
	ts.byID[tr.id] = tr
	tr.timer = time.AfterFunc(n.traverseTimeout(), func() { n.finishTraverse(tr.id, "timed out") })
	ts.mu.Unlock()
	all := protocol.TraverseAllExt{
		TraverseAll:      protocol.TraverseAll{DBID: t.DBID, ReqID: tr.id, PNN: n.self, ClientReqID: t.ReqID, SrvID: t.SrvID},
		WithEmptyRecords: t.WithEmptyRecords,
	}
	rep := status(0)
	rep.after = func() {
		for _, p := range targets {
			if p == n.self {
				n.startWalk(all)
				continue
			}
			req := protocol.ReqControl{Opcode: protocol.ControlTraverseAllExt, Flags: protocol.CtrlFlagNoReply, Data: all.Marshal()}
			n.sendControl(p, req, 0, func(st int32, _, _ []byte) {
				if st != 0 { // not sent: that node ends at once
					n.traverseEnded(tr.id, p)
				}
			})
		}
		if len(targets) == 0 {
			n.finishTraverse(tr.id, "")
		}
	}
	return rep
}

func (n *Node) traverseTimeout() time.Duration {
	if v := n.tunables().TraverseTimeout; v > 0 {
		return time.Duration(v) * time.Second
	}
	return 20 * time.Second
}

// ctrlTraverseAll and ctrlTraverseAllExt start this node's walk for a
// coordinator.
func (n *Node) ctrlTraverseAll(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseAll
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.startWalk(protocol.TraverseAllExt{TraverseAll: t})
	return status(0)
}

func (n *Node) ctrlTraverseAllExt(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseAllExt
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.startWalk(t)
	return status(0)
}

// startWalk streams this node's records of a database to the coordinator.
func (n *Node) startWalk(t protocol.TraverseAllExt) {
	var db walker
	if v := n.vol.DB(t.DBID); v != nil {
		db = v
	} else if p := n.pers.DB(t.DBID); p != nil {
		db = p
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.traverseTimeout())
	k := walkKey{t.PNN, t.ReqID}
	n.traversals.mu.Lock()
	n.traversals.walks[k] = cancel
	n.traversals.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() {
			n.traversals.mu.Lock()
			delete(n.traversals.walks, k)
			n.traversals.mu.Unlock()
			cancel()
		}()
		if db != nil {
			sent := 0
			err := db.Traverse(ctx, t.WithEmptyRecords, func(key, value []byte) bool {
				rec := volatile.TraverseRecord(t.ReqID, key, value)
				n.traverseData(t.PNN, rec)
				if sent += len(rec); sent >= n.paceEvery() {
					sent = 0
					if err := n.paceTraverse(ctx, t.PNN, t.ReqID); err != nil {
						cancel()
					}
				}
				return ctx.Err() == nil
			})
			if err != nil && ctx.Err() == nil {
				n.log.Warn("traverse failed", "db_id", t.DBID, "err", err)
			}
		}
		n.traverseData(t.PNN, volatile.TraverseRecord(t.ReqID, nil, nil))
	}()
}

// A walk pauses after every paceEvery bytes of records until the
// coordinator's client has fewer than paceQueue bytes waiting (an eighth of
// the client queue limit, and an eighth of that), so that a traverse of a
// large database streams at the client's pace instead of overflowing its
// queue, which would close the connection.
func (n *Node) paceQueue() int { return n.clientQueueLimit / 8 }
func (n *Node) paceEvery() int { return n.clientQueueLimit / 64 }

// opTraversePace is rctdb's node-to-node control a walker sends its
// coordinator after a batch of TRAVERSE_DATA: the reply comes once the
// client has taken most of what is queued for it. Data: u32 traverse id.
const opTraversePace uint32 = 0x7C000201

// paceTraverse waits until the coordinator's client has drained its queue.
func (n *Node) paceTraverse(ctx context.Context, origin, id uint32) error {
	if origin == n.self {
		return n.waitTraverseDrained(ctx, id)
	}
	_, err := n.Call(ctx, origin, opTraversePace, protocol.U32(id))
	return err
}

// ctrlTraversePace answers a walker once the traversal's client queue has
// drained; it arrives after the walker's batch on the same link, so the
// batch is already queued.
func (n *Node) ctrlTraversePace(ctx context.Context, r *controlReq) reply {
	id, err := protocol.ParseU32(r.Data)
	if err != nil {
		return failErr(err)
	}
	if err := n.waitTraverseDrained(ctx, id); err != nil {
		return failErr(err)
	}
	return ok(nil)
}

// waitTraverseDrained returns once traversal id's client has fewer than
// paceQueue bytes queued, or fails when the traversal ended.
func (n *Node) waitTraverseDrained(ctx context.Context, id uint32) error {
	paused := false
	for {
		n.traversals.mu.Lock()
		tr := n.traversals.byID[id]
		n.traversals.mu.Unlock()
		if tr == nil {
			return fmt.Errorf("traverse %d: ended", id)
		}
		if tr.client.w.Pending() < n.paceQueue() {
			return nil
		}
		if !paused {
			paused = true
			n.sm.traversePauses.Inc()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("traverse %d: client did not drain its queue: %w", id, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// walker is a database whose records a traverse walks.
type walker interface {
	Traverse(ctx context.Context, withEmpty bool, fn func(key, value []byte) bool) error
}

// traverseData sends one record (or the end marker) to the coordinator.
func (n *Node) traverseData(origin uint32, rec []byte) {
	if origin == n.self {
		n.handleTraverseData(n.self, rec)
		return
	}
	req := protocol.ReqControl{Opcode: protocol.ControlTraverseData, Flags: protocol.CtrlFlagNoReply, Data: rec}
	n.sendControl(origin, req, 0, func(int32, []byte, []byte) {})
}

func (n *Node) ctrlTraverseData(ctx context.Context, r *controlReq) reply {
	n.handleTraverseData(r.from, r.Data)
	return status(0)
}

// handleTraverseData passes a node's record to the client, or notes that
// node's end.
func (n *Node) handleTraverseData(from uint32, data []byte) {
	var rd protocol.RecData
	if err := rd.Unmarshal(data); err != nil || int(le32(data)) != len(data) {
		n.log.Warn("malformed TRAVERSE_DATA", "from", from, "err", err)
		return
	}
	if rd.IsEndMarker() {
		n.traverseEnded(rd.ReqID, from)
		return
	}
	n.traversals.mu.Lock()
	tr := n.traversals.byID[rd.ReqID]
	n.traversals.mu.Unlock()
	if tr == nil {
		return
	}
	rd.ReqID = tr.clientReqID
	n.messageClient(tr.client, tr.srvid, rd.Marshal())
}

func (n *Node) traverseEnded(id, from uint32) {
	ts := n.traversals
	ts.mu.Lock()
	tr := ts.byID[id]
	if tr == nil {
		ts.mu.Unlock()
		return
	}
	delete(tr.waiting, from)
	done := len(tr.waiting) == 0
	ts.mu.Unlock()
	if done {
		n.finishTraverse(id, "")
	}
}

// finishTraverse sends the client the end marker, once.
func (n *Node) finishTraverse(id uint32, why string) {
	ts := n.traversals
	ts.mu.Lock()
	tr := ts.byID[id]
	delete(ts.byID, id)
	ts.mu.Unlock()
	if tr == nil {
		return
	}
	tr.timer.Stop()
	if why != "" {
		n.log.Warn("traverse ended early", "db_id", tr.dbid, "reason", why)
	}
	end := protocol.RecData{ReqID: tr.clientReqID}
	n.messageClient(tr.client, tr.srvid, end.Marshal())
}

// dropClientTraversals stops the traversals of a client that went away.
func (n *Node) dropClientTraversals(c *clientConn) {
	ts := n.traversals
	ts.mu.Lock()
	var gone []*traversal
	for id, tr := range ts.byID {
		if tr.client == c {
			gone = append(gone, tr)
			delete(ts.byID, id)
		}
	}
	ts.mu.Unlock()
	for _, tr := range gone {
		tr.timer.Stop()
		kill := protocol.TraverseStart{DBID: tr.dbid, ReqID: tr.id, SrvID: tr.srvid}
		for p := range tr.waiting {
			if p == n.self {
				n.killWalk(n.self, tr.id)
				continue
			}
			req := protocol.ReqControl{Opcode: protocol.ControlTraverseKill, Flags: protocol.CtrlFlagNoReply, Data: kill.Marshal()}
			n.sendControl(p, req, 0, func(int32, []byte, []byte) {})
		}
	}
}

func (n *Node) ctrlTraverseKill(ctx context.Context, r *controlReq) reply {
	var t protocol.TraverseStart
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	n.killWalk(r.from, t.ReqID)
	return status(0)
}

func (n *Node) killWalk(origin, id uint32) {
	n.traversals.mu.Lock()
	cancel := n.traversals.walks[walkKey{origin, id}]
	n.traversals.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
