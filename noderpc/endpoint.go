package noderpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/protocol"
)

// Error texts ctdbd uses for controls that cannot reach their node; the
// ctdb tool prints them.
const (
	ErrTextDisconnectedNode = "ctdb_control to disconnected node"
	ErrTextNodeDisconnected = "node is disconnected"
	ErrTextTimedOut         = "ctdb_control timed out"
)

// Handler serves one registered control from node from. An error that
// has a Status() int32 method is answered with that status, any other
// with -1; its text is the reply's error message.
type Handler func(ctx context.Context, from uint32, data []byte) ([]byte, error)

// Caller calls a control on another node and waits for its reply.
type Caller interface {
	Call(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error)
}

// Registrar registers the handler of one of rctdb's controls.
type Registrar interface {
	Register(op uint32, h Handler)
}

// Peer is what a subsystem that both calls and serves controls needs.
type Peer interface {
	Caller
	Registrar
}

// CallerFunc adapts a function to Caller (tests).
type CallerFunc func(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error)

// Call calls f.
func (f CallerFunc) Call(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error) {
	return f(ctx, pnn, op, data)
}

// Transport sends packets to other nodes.
type Transport interface {
	Send(pnn uint32, pkt []byte) error
	Connected(pnn uint32) bool
}

// Config configures an Endpoint.
type Config struct {
	Self uint32
	// Generation stamps outgoing packets (the vnn map generation).
	Generation func() uint32
	// Timeout bounds a Call without a deadline and a handler's run
	// (ControlTimeout); nil means 60 s.
	Timeout func() time.Duration
	// OnTimeout is told of every control that timed out (CTDB's
	// statistics count them).
	OnTimeout func()
}

// RemoteError is a control that another node answered with a non-zero
// status.
type RemoteError struct {
	Node   uint32
	Status int32
	Msg    string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("node %d: status %d: %s", e.Node, e.Status, e.Msg)
}

// StatusOf is the control status an error is answered with: its
// Status() if it has one, else -1.
func StatusOf(err error) int32 {
	var es interface{ Status() int32 }
	if errors.As(err, &es) {
		return es.Status()
	}
	return -1
}

// Endpoint is one node's end of the control channel.
type Endpoint struct {
	cfg Config
	tr  Transport
	log *slog.Logger

	mCalls    *metrics.Counter
	mTimeouts *metrics.Counter
	mServed   *metrics.Counter

	hmu      sync.RWMutex
	handlers map[uint32]Handler

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*pendingCall
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers being served
}

// pendingCall is a control sent to another node awaiting its reply.
type pendingCall struct {
	node  uint32
	timer *time.Timer
	// done receives the outcome exactly once: the reply, a timeout or the
	// node's disconnection.
	done func(status int32, data, errmsg []byte)
}

// New returns an Endpoint sending over tr.
func New(cfg Config, tr Transport, log *slog.Logger, set *metrics.Set) *Endpoint {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if cfg.Generation == nil {
		cfg.Generation = func() uint32 { return protocol.InvalidGeneration }
	}
	if cfg.Timeout == nil {
		cfg.Timeout = func() time.Duration { return 60 * time.Second }
	}
	e := &Endpoint{
		cfg: cfg, tr: tr, log: log,
		handlers:  make(map[uint32]Handler),
		pending:   make(map[uint32]*pendingCall),
		mCalls:    set.GetOrCreateCounter("ctdb_noderpc_calls_total"),
		mTimeouts: set.GetOrCreateCounter("ctdb_noderpc_timeouts_total"),
		mServed:   set.GetOrCreateCounter("ctdb_noderpc_served_total"),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	set.GetOrCreateGauge("ctdb_noderpc_pending_calls", func() float64 {
		e.mu.Lock()
		defer e.mu.Unlock()
		return float64(len(e.pending))
	})
	return e
}

// Register serves op with h from now on. Registering an opcode twice, or
// one outside rctdb's range, is a programming error.
func (e *Endpoint) Register(op uint32, h Handler) {
	if !IsInternal(op) {
		panic(fmt.Sprintf("noderpc: register 0x%x: not an rctdb opcode", op))
	}
	e.hmu.Lock()
	defer e.hmu.Unlock()
	if e.handlers[op] != nil {
		panic(fmt.Sprintf("noderpc: opcode 0x%x registered twice", op))
	}
	e.handlers[op] = h
}

// Call sends a control to node pnn and waits for its reply. A non-zero
// status comes back as a *RemoteError.
func (e *Endpoint) Call(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error) {
	type result struct {
		status       int32
		data, errmsg []byte
	}
	ch := make(chan result, 1)
	timeout := e.cfg.Timeout()
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, ctx.Err()
		}
	}
	e.Go(pnn, protocol.ReqControl{Opcode: protocol.Opcode(op), Data: data}, timeout,
		func(status int32, data, errmsg []byte) { ch <- result{status, data, errmsg} })
	select {
	case r := <-ch:
		if r.status != 0 {
			return nil, &RemoteError{Node: pnn, Status: r.status, Msg: string(r.errmsg)}
		}
		return r.data, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Go sends req to node pnn; done gets the outcome once (timeout 0: no
// timeout). Without a link it fails at once, as ctdbd does. A NOREPLY
// control is only sent: done hears of it only if it could not be.
func (e *Endpoint) Go(pnn uint32, req protocol.ReqControl, timeout time.Duration, done func(status int32, data, errmsg []byte)) {
	e.mCalls.Inc()
	if pnn == e.cfg.Self || !e.tr.Connected(pnn) {
		done(-1, nil, []byte(ErrTextDisconnectedNode))
		return
	}
	if req.NoReply() {
		req.Header = protocol.Header{Generation: e.cfg.Generation(), DestNode: pnn, SrcNode: e.cfg.Self}
		if e.tr.Send(pnn, req.Marshal()) != nil {
			done(-1, nil, []byte(ErrTextDisconnectedNode))
		}
		return
	}
	p := &pendingCall{node: pnn, done: done}
	reqid, ok := e.add(p, timeout)
	if !ok {
		done(-1, nil, []byte("daemon shutting down"))
		return
	}
	req.Header = protocol.Header{Generation: e.cfg.Generation(), DestNode: pnn, SrcNode: e.cfg.Self, ReqID: reqid}
	if err := e.tr.Send(pnn, req.Marshal()); err != nil {
		if q := e.take(reqid); q != nil {
			q.finish(-1, nil, []byte(ErrTextDisconnectedNode))
		}
	}
}

// add records a pending call and arms its timer, under the lock so that
// whoever takes the call sees the timer.
func (e *Endpoint) add(p *pendingCall, timeout time.Duration) (uint32, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, false
	}
	for {
		e.nextID++
		if e.nextID != 0 && e.pending[e.nextID] == nil {
			break
		}
	}
	reqid := e.nextID
	e.pending[reqid] = p
	if timeout > 0 {
		p.timer = time.AfterFunc(timeout, func() {
			if q := e.take(reqid); q != nil {
				e.mTimeouts.Inc()
				if e.cfg.OnTimeout != nil {
					e.cfg.OnTimeout()
				}
				q.done(-1, nil, []byte(ErrTextTimedOut))
			}
		})
	}
	return reqid, true
}

// take removes and returns the call for reqid if it is still pending.
func (e *Endpoint) take(reqid uint32) *pendingCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pending[reqid]
	delete(e.pending, reqid)
	return p
}

func (p *pendingCall) finish(status int32, data, errmsg []byte) {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.done(status, data, errmsg)
}

// HandlePacket takes a node packet that is this package's: the reply to a
// call, or a request for a registered control (served on its own
// goroutine, bounded by the timeout). It returns false for any other
// packet, which the caller dispatches.
func (e *Endpoint) HandlePacket(from uint32, pkt []byte) bool {
	switch protocol.PacketOp(pkt) {
	case protocol.OpReplyControl:
		e.handleReply(from, pkt)
		return true
	case protocol.OpReqControl:
		if len(pkt) < 36 {
			return false
		}
		op := uint32(pkt[32]) | uint32(pkt[33])<<8 | uint32(pkt[34])<<16 | uint32(pkt[35])<<24
		e.hmu.RLock()
		h := e.handlers[op]
		e.hmu.RUnlock()
		if h == nil {
			return false
		}
		var rc protocol.ReqControl
		if err := rc.Unmarshal(pkt); err != nil {
			e.log.Warn("dropping malformed REQ_CONTROL from node", "pnn", from, "err", err)
			return true
		}
		e.serve(from, &rc, h)
		return true
	}
	return false
}

func (e *Endpoint) serve(from uint32, rc *protocol.ReqControl, h Handler) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		e.mServed.Inc()
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.Timeout())
		defer cancel()
		data, err := h(ctx, from, rc.Data)
		if rc.NoReply() {
			return
		}
		if err != nil {
			e.Reply(from, rc, StatusOf(err), nil, err.Error())
			return
		}
		e.Reply(from, rc, 0, data, "")
	}()
}

// Reply answers a control node from sent us.
func (e *Endpoint) Reply(to uint32, req *protocol.ReqControl, status int32, data []byte, errmsg string) {
	rp := protocol.ReplyControl{
		Header: protocol.Header{Generation: e.cfg.Generation(), DestNode: to, SrcNode: e.cfg.Self, ReqID: req.ReqID},
		Status: status, Data: data, ErrMsg: []byte(errmsg),
	}
	if err := e.tr.Send(to, rp.Marshal()); err != nil {
		e.log.Debug("could not reply to node", "pnn", to, "op", req.Opcode, "err", err)
	}
}

// handleReply completes the call a node answered.
func (e *Endpoint) handleReply(from uint32, pkt []byte) {
	var r protocol.ReplyControl
	if err := r.Unmarshal(pkt); err != nil {
		e.log.Warn("dropping malformed REPLY_CONTROL from node", "pnn", from, "err", err)
		return
	}
	p := e.take(r.ReqID)
	if p == nil {
		return // timed out or failed already
	}
	if p.node != from {
		e.log.Warn("REPLY_CONTROL from the wrong node", "pnn", from, "expected", p.node, "reqid", r.ReqID)
	}
	// The reply buffer is ours; the callback may keep the slices.
	p.finish(r.Status, r.Data, r.ErrMsg)
}

// PeerDisconnected fails every call pending on a node that went away.
func (e *Endpoint) PeerDisconnected(pnn uint32) {
	e.mu.Lock()
	var gone []*pendingCall
	for id, p := range e.pending {
		if p.node == pnn {
			gone = append(gone, p)
			delete(e.pending, id)
		}
	}
	e.mu.Unlock()
	for _, p := range gone {
		p.finish(-1, nil, []byte(ErrTextNodeDisconnected))
	}
}

// Close fails every pending call, cancels the handlers being served and
// waits for them; later calls fail at once.
func (e *Endpoint) Close() {
	e.mu.Lock()
	e.closed = true
	gone := e.pending
	e.pending = make(map[uint32]*pendingCall)
	e.mu.Unlock()
	for _, p := range gone {
		p.finish(-1, nil, []byte("daemon shutting down"))
	}
	e.cancel()
	e.wg.Wait()
}

// LinkHandler lets an Endpoint alone take a node transport's packets and
// link events: the in-memory RPC of subsystem tests, over
// transport.MemNetwork.
type LinkHandler struct{ E *Endpoint }

// HandlePacket passes the packet to the endpoint; others are dropped.
func (h LinkHandler) HandlePacket(from uint32, pkt []byte) { h.E.HandlePacket(from, pkt) }

// PeerConnected does nothing: calls need no set-up.
func (h LinkHandler) PeerConnected(uint32) {}

// PeerDisconnected fails the calls pending on the node.
func (h LinkHandler) PeerDisconnected(pnn uint32) { h.E.PeerDisconnected(pnn) }
