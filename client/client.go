package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// ErrClosed is returned once the connection is closed, by either side.
var ErrClosed = errors.New("ctdb client: connection closed")

// ControlError is a control answered with a non-zero status.
type ControlError struct {
	Opcode protocol.Opcode
	Dest   uint32
	Status int32
	Msg    string
}

func (e *ControlError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("control %s to node %s failed: %s (status %d)", e.Opcode, pnnString(e.Dest), e.Msg, e.Status)
	}
	return fmt.Sprintf("control %s to node %s failed with status %d", e.Opcode, pnnString(e.Dest), e.Status)
}

func pnnString(p uint32) string {
	if p == protocol.CurrentNode {
		return "local"
	}
	return fmt.Sprint(p)
}

// Reply is a control's reply.
type Reply struct {
	Status int32
	Data   []byte
	ErrMsg string
}

// Message is a REQ_MESSAGE delivered to a registered srvid.
type Message struct {
	SrvID uint64
	Src   uint32
	Data  []byte
}

// Client is a connection to a daemon's socket.
type Client struct {
	conn net.Conn
	pnn  uint32

	wmu sync.Mutex // serialises writes

	mu       sync.Mutex
	nextReq  uint32
	pending  map[uint32]chan *protocol.ReplyControl
	calls    map[uint32]chan *protocol.ReplyCall
	handlers map[uint64][]chan Message
	tunnels  map[uint64]chan TunnelPacket
	err      error
	done     chan struct{}

	glockMu sync.Mutex // serialises the attach of g_lock.tdb
	glock   *DB        // g_lock.tdb, attached by the first transaction
}

// firstReqID is where CTDB's client library starts its request ids.
const firstReqID = 0x7FFFFF38

// Connect opens the socket at path and asks the daemon for its pnn.
func Connect(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to ctdbd socket %s: %w", path, err)
	}
	c := &Client{
		conn: conn, nextReq: firstReqID, pnn: protocol.UnknownPNN,
		pending:  make(map[uint32]chan *protocol.ReplyControl),
		calls:    make(map[uint32]chan *protocol.ReplyCall),
		handlers: make(map[uint64][]chan Message),
		tunnels:  make(map[uint64]chan TunnelPacket),
		done:     make(chan struct{}),
	}
	go c.readLoop()
	r, err := c.Control(ctx, protocol.CurrentNode, protocol.ControlGetPNN, 0, 0, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.pnn = uint32(r.Status)
	return c, nil
}

// PNN is the pnn of the daemon the client is connected to.
func (c *Client) PNN() uint32 { return c.pnn }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection, and g_lock.tdb if a transaction opened it.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	c.glockMu.Lock()
	if c.glock != nil {
		c.glock.Close()
		c.glock = nil
	}
	c.glockMu.Unlock()
	return err
}

func (c *Client) readLoop() {
	pr := protocol.NewPacketReader(c.conn, 64<<10)
	var err error
	for {
		var pkt []byte
		pkt, err = pr.Next()
		if err != nil {
			break
		}
		switch protocol.PacketOp(pkt) {
		case protocol.OpReplyControl:
			var r protocol.ReplyControl
			if err = r.Unmarshal(pkt); err != nil {
				break
			}
			c.mu.Lock()
			ch := c.pending[r.ReqID]
			delete(c.pending, r.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- &r
			}
		case protocol.OpReplyCall:
			var r protocol.ReplyCall
			if err = r.Unmarshal(pkt); err != nil {
				break
			}
			c.mu.Lock()
			ch := c.calls[r.ReqID]
			delete(c.calls, r.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- &r
			}
		case protocol.OpReqMessage:
			var m protocol.ReqMessage
			if err = m.Unmarshal(pkt); err != nil {
				break
			}
			c.dispatch(Message{SrvID: m.SrvID, Src: m.SrcNode, Data: m.Data})
		case protocol.OpReqTunnel:
			err = c.dispatchTunnel(pkt)
		}
		if err != nil {
			break
		}
	}
	c.conn.Close()
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	for id, ch := range c.calls {
		close(ch)
		delete(c.calls, id)
	}
	for srvid, chs := range c.handlers {
		for _, ch := range chs {
			close(ch)
		}
		delete(c.handlers, srvid)
	}
	for id, ch := range c.tunnels {
		close(ch)
		delete(c.tunnels, id)
	}
	c.mu.Unlock()
	close(c.done)
}

// dispatch hands a message to every handler of its srvid, dropping it for
// a handler whose buffer is full rather than stalling the connection.
func (c *Client) dispatch(m Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.handlers[m.SrvID] {
		select {
		case ch <- m:
		default:
		}
	}
}

func (c *Client) write(pkt []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.conn.Write(pkt); err != nil {
		return fmt.Errorf("%w: write: %v", ErrClosed, err)
	}
	return nil
}

func (c *Client) allocReq() uint32 {
	c.nextReq++
	if c.nextReq == 0 {
		c.nextReq = 1
	}
	return c.nextReq
}

func (c *Client) srcNode() uint32 { return c.pnn }

// Control sends a control to dest (a pnn, or protocol.CurrentNode) and
// waits for its reply. A non-zero status is not an error here: many
// controls return their result in it.
func (c *Client) Control(ctx context.Context, dest uint32, op protocol.Opcode, srvid uint64, flags uint32, data []byte) (*Reply, error) {
	p, err := c.Send(dest, op, srvid, flags, data)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a control that was sent and whose reply is awaited.
type Pending struct {
	c     *Client
	reqid uint32
	dest  uint32
	op    protocol.Opcode
	ch    chan *protocol.ReplyControl
}

// Send sends a control to dest without waiting for its reply; Wait then
// waits for it (every Pending must be waited for, or its reply is kept
// until the connection closes). Controls sent one after the other reach
// the daemon in that order, which is what a client that sends a batch
// (the ctdb tool's connection lists, its multi-node controls) relies on.
func (c *Client) Send(dest uint32, op protocol.Opcode, srvid uint64, flags uint32, data []byte) (*Pending, error) {
	ch := make(chan *protocol.ReplyControl, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	reqid := c.allocReq()
	c.pending[reqid] = ch
	c.mu.Unlock()
	req := protocol.ReqControl{
		Header: protocol.Header{DestNode: dest, SrcNode: c.srcNode(), ReqID: reqid},
		Opcode: op, SrvID: srvid, Flags: flags, Data: data,
	}
	if err := c.write(req.Marshal()); err != nil {
		c.forget(reqid)
		return nil, err
	}
	return &Pending{c: c, reqid: reqid, dest: dest, op: op, ch: ch}, nil
}

// Wait waits for the reply of a control sent with Send. After ctx ends, a
// late reply is dropped.
func (p *Pending) Wait(ctx context.Context) (*Reply, error) {
	select {
	case r, ok := <-p.ch:
		if !ok {
			return nil, p.c.Err()
		}
		return &Reply{Status: r.Status, Data: r.Data, ErrMsg: string(r.ErrMsg)}, nil
	case <-ctx.Done():
		p.c.forget(p.reqid)
		return nil, fmt.Errorf("control %s to node %s: %w", p.op, pnnString(p.dest), ctx.Err())
	}
}

// WaitStatus is Wait with the status as an error: nil for status 0, a
// *ControlError for any other.
func (p *Pending) WaitStatus(ctx context.Context) error {
	r, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	if r.Status != 0 {
		return &ControlError{Opcode: p.op, Dest: p.dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return nil
}

func (c *Client) forget(reqid uint32) {
	c.mu.Lock()
	delete(c.pending, reqid)
	c.mu.Unlock()
}

// ControlNoReply sends a control with the NOREPLY flag.
func (c *Client) ControlNoReply(dest uint32, op protocol.Opcode, srvid uint64, flags uint32, data []byte) error {
	c.mu.Lock()
	reqid := c.allocReq()
	c.mu.Unlock()
	req := protocol.ReqControl{
		Header: protocol.Header{DestNode: dest, SrcNode: c.srcNode(), ReqID: reqid},
		Opcode: op, SrvID: srvid, Flags: flags | protocol.CtrlFlagNoReply, Data: data,
	}
	return c.write(req.Marshal())
}

// call sends a control and turns a non-zero status into a *ControlError.
func (c *Client) call(ctx context.Context, dest uint32, op protocol.Opcode, data []byte) (*Reply, error) {
	return c.callSrvID(ctx, dest, op, 0, data)
}

func (c *Client) callSrvID(ctx context.Context, dest uint32, op protocol.Opcode, srvid uint64, data []byte) (*Reply, error) {
	r, err := c.Control(ctx, dest, op, srvid, 0, data)
	if err != nil {
		return nil, err
	}
	if r.Status != 0 {
		return r, &ControlError{Opcode: op, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return r, nil
}

// SendMessage sends a message to srvid on dest (a pnn or a broadcast).
func (c *Client) SendMessage(dest uint32, srvid uint64, data []byte) error {
	m := protocol.ReqMessage{
		Header: protocol.Header{DestNode: dest, SrcNode: c.srcNode()},
		SrvID:  srvid, Data: data,
	}
	return c.write(m.Marshal())
}

// Subscribe registers srvid with the daemon and returns a channel of the
// messages sent to it (buffered; messages beyond the buffer are dropped)
// and a function that deregisters it.
func (c *Client) Subscribe(ctx context.Context, srvid uint64, buffer int) (<-chan Message, func() error, error) {
	ch := make(chan Message, buffer)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, nil, c.err
	}
	c.handlers[srvid] = append(c.handlers[srvid], ch)
	c.mu.Unlock()
	remove := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		list := c.handlers[srvid]
		for i, x := range list {
			if x == ch {
				c.handlers[srvid] = append(list[:i], list[i+1:]...)
				close(ch)
				break
			}
		}
		if len(c.handlers[srvid]) == 0 {
			delete(c.handlers, srvid)
		}
	}
	if _, err := c.callSrvID(ctx, c.pnn, protocol.ControlRegisterSrvID, srvid, nil); err != nil {
		remove()
		return nil, nil, err
	}
	unsub := func() error {
		remove()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.callSrvID(ctx, c.pnn, protocol.ControlDeregisterSrvID, srvid, nil)
		return err
	}
	return ch, unsub, nil
}
