package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Error texts ctdbd uses for controls that cannot reach their node.
const (
	errDisconnectedNode = "ctdb_control to disconnected node"
	errNodeDisconnected = "node is disconnected"
	errControlTimedOut  = "ctdb_control timed out"
)

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

// RemoteStatus and RemoteMessage let other packages inspect the failure
// without importing this one.
func (e *RemoteError) RemoteStatus() int32   { return e.Status }
func (e *RemoteError) RemoteMessage() string { return e.Msg }

// pendingCall is a control sent to another node awaiting its reply.
type pendingCall struct {
	node  uint32
	timer *time.Timer
	// done receives the reply exactly once: from the reply, a timeout or the
	// node's disconnection.
	done func(status int32, data, errmsg []byte)
}

// calls tracks controls in flight to other nodes.
type calls struct {
	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*pendingCall
}

func newCalls() *calls { return &calls{pending: make(map[uint32]*pendingCall)} }

func (cs *calls) add(p *pendingCall) uint32 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for {
		cs.nextID++
		if cs.nextID != 0 && cs.pending[cs.nextID] == nil {
			break
		}
	}
	cs.pending[cs.nextID] = p
	return cs.nextID
}

// take removes and returns the call for reqid if it is still pending.
func (cs *calls) take(reqid uint32) *pendingCall {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	p := cs.pending[reqid]
	delete(cs.pending, reqid)
	return p
}

// takeNode removes every call pending on node.
func (cs *calls) takeNode(node uint32) []*pendingCall {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []*pendingCall
	for id, p := range cs.pending {
		if p.node == node {
			out = append(out, p)
			delete(cs.pending, id)
		}
	}
	return out
}

func (cs *calls) takeAll() []*pendingCall {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*pendingCall, 0, len(cs.pending))
	for id, p := range cs.pending {
		out = append(out, p)
		delete(cs.pending, id)
	}
	return out
}

func (p *pendingCall) finish(status int32, data, errmsg []byte) {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.done(status, data, errmsg)
}

// sendControl sends a control to another node; done gets the outcome once.
// Without a connection it fails at once, as ctdbd does. A NOREPLY control is
// only sent; done hears of it only if it could not be.
func (n *Node) sendControl(node uint32, req protocol.ReqControl, timeout time.Duration, done func(status int32, data, errmsg []byte)) {
	if node == n.self || !n.tr.Connected(node) {
		done(-1, nil, []byte(errDisconnectedNode))
		return
	}
	if req.Flags&protocol.CtrlFlagNoReply != 0 {
		// Nothing will answer: send it and forget it.
		req.Header = protocol.Header{Generation: n.generation(), DestNode: node, SrcNode: n.self}
		if n.sendNode(node, req.Marshal()) != nil {
			done(-1, nil, []byte(errDisconnectedNode))
		}
		return
	}
	p := &pendingCall{node: node, done: done}
	reqid := n.calls.add(p)
	if timeout > 0 {
		p.timer = time.AfterFunc(timeout, func() {
			if q := n.calls.take(reqid); q != nil {
				n.stats.c.timeoutsControl.Add(1)
				q.done(-1, nil, []byte(errControlTimedOut))
			}
		})
	}
	req.Header = protocol.Header{Generation: n.generation(), DestNode: node, SrcNode: n.self, ReqID: reqid}
	if err := n.sendNode(node, req.Marshal()); err != nil {
		if q := n.calls.take(reqid); q != nil {
			q.finish(-1, nil, []byte(errDisconnectedNode))
		}
	}
}

// handleReplyControl completes the call a node answered.
func (n *Node) handleReplyControl(from uint32, pkt []byte) {
	var r protocol.ReplyControl
	if err := r.Unmarshal(pkt); err != nil {
		n.log.Warn("dropping malformed REPLY_CONTROL from node", "pnn", from, "err", err)
		return
	}
	p := n.calls.take(r.ReqID)
	if p == nil {
		return // timed out or failed already
	}
	if p.node != from {
		n.log.Warn("REPLY_CONTROL from the wrong node", "pnn", from, "expected", p.node, "reqid", r.ReqID)
	}
	// The reply buffer is ours; the callback may keep the slices.
	p.finish(r.Status, r.Data, r.ErrMsg)
}

// failNode completes every call pending on a node that went away.
func (n *Node) failNode(node uint32) {
	for _, p := range n.calls.takeNode(node) {
		p.finish(-1, nil, []byte(errNodeDisconnected))
	}
}

// Call sends a node-to-node control and waits for its reply: it is the RPC
// the Raft layer uses.
func (n *Node) Call(ctx context.Context, node uint32, op uint32, data []byte) ([]byte, error) {
	type result struct {
		status       int32
		data, errmsg []byte
	}
	ch := make(chan result, 1)
	timeout := n.controlTimeout()
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, ctx.Err()
		}
	}
	n.sendControl(node, protocol.ReqControl{Opcode: protocol.Opcode(op), Data: data}, timeout,
		func(status int32, data, errmsg []byte) { ch <- result{status, data, errmsg} })
	select {
	case r := <-ch:
		if r.status != 0 {
			return nil, &RemoteError{Node: node, Status: r.status, Msg: string(r.errmsg)}
		}
		return r.data, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errStatus is implemented by errors that carry a control status.
type errStatus interface{ Status() int32 }

func statusOf(err error) int32 {
	var es errStatus
	if errors.As(err, &es) {
		return es.Status()
	}
	return -1
}
