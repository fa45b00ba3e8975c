package traverse

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile"
)

// Client is the local client a traverse streams to.
type Client interface {
	// Message sends the client one message on srvid.
	Message(srvid uint64, data []byte)
	// Pending is how many bytes wait in the client's queue.
	Pending() int
}

// Walker is a database whose records a walk visits.
type Walker interface {
	Traverse(ctx context.Context, withEmpty bool, fn func(key, value []byte) bool) error
}

// Databases finds the database a traverse walks; everywhere is true for
// the persistent and replicated ones, whose records are the same on every
// node, so that only the coordinator walks them.
type Databases interface {
	Walker(dbid uint32) (w Walker, everywhere, ok bool)
}

// Nodes reaches the other nodes.
type Nodes interface {
	noderpc.Peer
	// Go sends a control without waiting; done hears whether it left.
	Go(pnn uint32, req protocol.ReqControl, timeout time.Duration, done func(status int32, data, errmsg []byte))
	// Active lists the nodes that walk a volatile database (this one
	// included if it is active).
	Active() []uint32
}

// Config configures a Coordinator.
type Config struct {
	Self uint32
	// Timeout bounds a traverse (TraverseTimeout); nil means 20 s.
	Timeout func() time.Duration
	// QueueLimit is the client queue limit of the daemon: walks pause
	// after every QueueLimit/64 bytes until the client has less than
	// QueueLimit/8 queued.
	QueueLimit int
}

// Coordinator holds the traverses this node coordinates and the walks it
// runs for any coordinator.
type Coordinator struct {
	cfg    Config
	nodes  Nodes
	dbs    Databases
	log    *slog.Logger
	pauses *metrics.Counter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // walks

	mu     sync.Mutex
	nextID uint32
	byID   map[uint32]*traversal
	walks  map[walkKey]context.CancelFunc
}

// traversal is one client's traverse this node coordinates.
type traversal struct {
	id          uint32
	client      Client
	srvid       uint64
	clientReqID uint32
	dbid        uint32
	waiting     map[uint32]bool
	timer       *time.Timer
}

type walkKey struct{ origin, id uint32 }

// New returns a Coordinator and registers its node-to-node control.
func New(cfg Config, nodes Nodes, dbs Databases, log *slog.Logger, set *metrics.Set) *Coordinator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if cfg.Timeout == nil {
		cfg.Timeout = func() time.Duration { return 20 * time.Second }
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 64 << 20
	}
	c := &Coordinator{
		cfg: cfg, nodes: nodes, dbs: dbs, log: log,
		pauses: set.GetOrCreateCounter("ctdb_traverse_pauses_total"),
		byID:   make(map[uint32]*traversal), walks: make(map[walkKey]context.CancelFunc),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	nodes.Register(noderpc.OpTraversePace, c.servePace)
	return c
}

// Close cancels the walks and waits for them.
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	for id, tr := range c.byID {
		tr.timer.Stop()
		delete(c.byID, id)
	}
	c.mu.Unlock()
}

// Start begins a client's traverse. The daemon answers the control first
// and then calls the returned function, which starts the walks.
func (c *Coordinator) Start(cl Client, t protocol.TraverseStartExt) (func(), error) {
	_, everywhere, ok := c.dbs.Walker(t.DBID)
	if !ok {
		return nil, fmt.Errorf("traverse: unknown database 0x%08x", t.DBID)
	}
	targets := c.nodes.Active()
	if everywhere {
		targets = []uint32{c.cfg.Self}
	}
	c.mu.Lock()
	c.nextID++
	tr := &traversal{id: c.nextID, client: cl, srvid: t.SrvID, clientReqID: t.ReqID, dbid: t.DBID, waiting: make(map[uint32]bool)}
	for _, p := range targets {
		tr.waiting[p] = true
	}
	c.byID[tr.id] = tr
	tr.timer = time.AfterFunc(c.cfg.Timeout(), func() { c.finish(tr.id, "timed out") })
	c.mu.Unlock()
	all := protocol.TraverseAllExt{
		TraverseAll:      protocol.TraverseAll{DBID: t.DBID, ReqID: tr.id, PNN: c.cfg.Self, ClientReqID: t.ReqID, SrvID: t.SrvID},
		WithEmptyRecords: t.WithEmptyRecords,
	}
	return func() {
		for _, p := range targets {
			if p == c.cfg.Self {
				c.Walk(all)
				continue
			}
			req := protocol.ReqControl{Opcode: protocol.ControlTraverseAllExt, Flags: protocol.CtrlFlagNoReply, Data: all.Marshal()}
			c.nodes.Go(p, req, 0, func(st int32, _, _ []byte) {
				if st != 0 { // not sent: that node ends at once
					c.ended(tr.id, p)
				}
			})
		}
		if len(targets) == 0 {
			c.finish(tr.id, "")
		}
	}, nil
}

// Walk streams this node's records of a database to the coordinator
// (TRAVERSE_ALL and TRAVERSE_ALL_EXT, or the coordinator itself).
func (c *Coordinator) Walk(t protocol.TraverseAllExt) {
	db, _, _ := c.dbs.Walker(t.DBID)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout())
	k := walkKey{t.PNN, t.ReqID}
	c.mu.Lock()
	c.walks[k] = cancel
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.walks, k)
			c.mu.Unlock()
			cancel()
		}()
		if db != nil {
			sent := 0
			err := db.Traverse(ctx, t.WithEmptyRecords, func(key, value []byte) bool {
				rec := volatile.TraverseRecord(t.ReqID, key, value)
				c.send(t.PNN, rec)
				if sent += len(rec); sent >= c.paceEvery() {
					sent = 0
					if err := c.pace(ctx, t.PNN, t.ReqID); err != nil {
						cancel()
					}
				}
				return ctx.Err() == nil
			})
			if err != nil && ctx.Err() == nil {
				c.log.Warn("traverse failed", "db_id", t.DBID, "err", err)
			}
		}
		c.send(t.PNN, volatile.TraverseRecord(t.ReqID, nil, nil))
	}()
}

// A walk pauses after every paceEvery bytes of records until the
// coordinator's client has fewer than paceQueue bytes waiting (an eighth of
// the client queue limit, and an eighth of that), so that a traverse of a
// large database streams at the client's pace instead of overflowing its
// queue, which would close the connection.
func (c *Coordinator) paceQueue() int { return c.cfg.QueueLimit / 8 }
func (c *Coordinator) paceEvery() int { return c.cfg.QueueLimit / 64 }

// pace waits until the coordinator's client has drained its queue.
func (c *Coordinator) pace(ctx context.Context, origin, id uint32) error {
	if origin == c.cfg.Self {
		return c.waitDrained(ctx, id)
	}
	_, err := c.nodes.Call(ctx, origin, noderpc.OpTraversePace, protocol.U32(id))
	return err
}

// servePace answers a walker once the traversal's client queue has
// drained; it arrives after the walker's batch on the same link, so the
// batch is already queued.
func (c *Coordinator) servePace(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	id, err := protocol.ParseU32(data)
	if err != nil {
		return nil, err
	}
	return nil, c.waitDrained(ctx, id)
}

// waitDrained returns once traversal id's client has fewer than paceQueue
// bytes queued, or fails when the traversal ended.
func (c *Coordinator) waitDrained(ctx context.Context, id uint32) error {
	paused := false
	for {
		c.mu.Lock()
		tr := c.byID[id]
		c.mu.Unlock()
		if tr == nil {
			return fmt.Errorf("traverse %d: ended", id)
		}
		if tr.client.Pending() < c.paceQueue() {
			return nil
		}
		if !paused {
			paused = true
			c.pauses.Inc()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("traverse %d: client did not drain its queue: %w", id, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// send sends one record (or the end marker) to the coordinator.
func (c *Coordinator) send(origin uint32, rec []byte) {
	if origin == c.cfg.Self {
		c.Data(c.cfg.Self, rec)
		return
	}
	req := protocol.ReqControl{Opcode: protocol.ControlTraverseData, Flags: protocol.CtrlFlagNoReply, Data: rec}
	c.nodes.Go(origin, req, 0, func(int32, []byte, []byte) {})
}

// Data passes a node's record to the client, or notes that node's end
// (TRAVERSE_DATA).
func (c *Coordinator) Data(from uint32, data []byte) {
	var rd protocol.RecData
	if err := rd.Unmarshal(data); err != nil || len(data) < 4 || int(binary.LittleEndian.Uint32(data)) != len(data) {
		c.log.Warn("malformed TRAVERSE_DATA", "from", from, "err", err)
		return
	}
	if rd.IsEndMarker() {
		c.ended(rd.ReqID, from)
		return
	}
	c.mu.Lock()
	tr := c.byID[rd.ReqID]
	c.mu.Unlock()
	if tr == nil {
		return
	}
	rd.ReqID = tr.clientReqID
	tr.client.Message(tr.srvid, rd.Marshal())
}

func (c *Coordinator) ended(id, from uint32) {
	c.mu.Lock()
	tr := c.byID[id]
	if tr == nil {
		c.mu.Unlock()
		return
	}
	delete(tr.waiting, from)
	done := len(tr.waiting) == 0
	c.mu.Unlock()
	if done {
		c.finish(id, "")
	}
}

// finish sends the client the end marker, once.
func (c *Coordinator) finish(id uint32, why string) {
	c.mu.Lock()
	tr := c.byID[id]
	delete(c.byID, id)
	c.mu.Unlock()
	if tr == nil {
		return
	}
	tr.timer.Stop()
	if why != "" {
		c.log.Warn("traverse ended early", "db_id", tr.dbid, "reason", why)
	}
	end := protocol.RecData{ReqID: tr.clientReqID}
	tr.client.Message(tr.srvid, end.Marshal())
}

// DropClient stops the traverses of a client that went away.
func (c *Coordinator) DropClient(cl Client) {
	c.mu.Lock()
	var gone []*traversal
	for id, tr := range c.byID {
		if tr.client == cl {
			gone = append(gone, tr)
			delete(c.byID, id)
		}
	}
	c.mu.Unlock()
	for _, tr := range gone {
		tr.timer.Stop()
		kill := protocol.TraverseStart{DBID: tr.dbid, ReqID: tr.id, SrvID: tr.srvid}
		for p := range tr.waiting {
			if p == c.cfg.Self {
				c.Kill(c.cfg.Self, tr.id)
				continue
			}
			req := protocol.ReqControl{Opcode: protocol.ControlTraverseKill, Flags: protocol.CtrlFlagNoReply, Data: kill.Marshal()}
			c.nodes.Go(p, req, 0, func(int32, []byte, []byte) {})
		}
	}
}

// Kill cancels the walk this node runs for coordinator origin's traverse
// id (TRAVERSE_KILL).
func (c *Coordinator) Kill(origin, id uint32) {
	c.mu.Lock()
	cancel := c.walks[walkKey{origin, id}]
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
