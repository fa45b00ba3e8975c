package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// ErrClientClosed is returned by calls on a closed Client, and by calls
// pending when the connection broke.
var ErrClientClosed = errors.New("events: client connection closed")

// Client is a connection to an event daemon (ctdb-eventd or Server).
// Calls may be concurrent; each waits for its own reply.
type Client struct {
	nc net.Conn

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]chan *wireReply
	err     error         // set when the connection is gone
	done    chan struct{} // closed when the reader has stopped
}

// firstReqID is where ctdb-event's request ids start.
const firstReqID = 2147483448

// Dial connects to the event daemon's socket.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to event daemon %s: %w", path, err)
	}
	c := &Client{nc: nc, nextID: firstReqID, pending: make(map[uint32]chan *wireReply), done: make(chan struct{})}
	go c.read()
	return c, nil
}

// Close closes the connection and fails the pending calls.
func (c *Client) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

func (c *Client) read() {
	defer close(c.done)
	var err error
	for {
		var pkt []byte
		pkt, err = readPacket(c.nc, minReplySize, MaxReplySize)
		if err != nil {
			break
		}
		var p *wireReply
		if p, err = decodeReply(pkt); err != nil {
			break
		}
		c.mu.Lock()
		ch := c.pending[p.reqid]
		delete(c.pending, p.reqid)
		c.mu.Unlock()
		if ch != nil {
			ch <- p
		}
	}
	c.nc.Close()
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClientClosed, err)
	for id, ch := range c.pending {
		delete(c.pending, id)
		close(ch)
	}
	c.mu.Unlock()
}

// call sends q and waits for its reply.
func (c *Client) call(ctx context.Context, q *wireRequest) (*wireReply, error) {
	ch := make(chan *wireReply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	q.reqid = c.nextID
	c.nextID++
	c.pending[q.reqid] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetWriteDeadline(dl)
	} else {
		c.nc.SetWriteDeadline(time.Time{})
	}
	_, err := c.nc.Write(encodeRequest(q))
	c.wmu.Unlock()
	if err != nil {
		c.forget(q.reqid)
		return nil, fmt.Errorf("send event request: %w", err)
	}
	select {
	case p, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return nil, err
		}
		if p.cmd != q.cmd {
			return nil, fmt.Errorf("event daemon answered command %d to command %d", p.cmd, q.cmd)
		}
		return p, nil
	case <-ctx.Done():
		c.forget(q.reqid)
		return nil, ctx.Err()
	}
}

func (c *Client) forget(id uint32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Run asks the daemon to run event of component and returns its result
// code (ResultOK, ResultTimedOut, ...). Args are joined with spaces as
// ctdb-event does; none is sent as NULL. timeout is in whole seconds.
func (c *Client) Run(ctx context.Context, component, event string, args []string, timeout time.Duration, flags RunFlags) (int32, error) {
	q := &wireRequest{
		cmd:       cmdRun,
		component: str(component),
		event:     str(event),
		timeout:   uint32(timeout / time.Second),
		flags:     uint32(flags),
	}
	if len(args) > 0 {
		q.args = str(strings.Join(args, " "))
	}
	p, err := c.call(ctx, q)
	if err != nil {
		return 0, err
	}
	return p.result, nil
}

// Status asks for the last run of event in component: result 0 with the
// status, or an errno (ENOENT no such component, EINVAL never run).
func (c *Client) Status(ctx context.Context, component, event string) (int32, *Status, error) {
	p, err := c.call(ctx, &wireRequest{cmd: cmdStatus, component: str(component), event: str(event)})
	if err != nil {
		return 0, nil, err
	}
	return p.result, p.status, nil
}

// Script asks the daemon to set or clear the execute bits of a regular
// script file; returns the daemon's errno (0 on success).
func (c *Client) Script(ctx context.Context, component, script string, enable bool) (int32, error) {
	action := actionDisable
	if enable {
		action = actionEnable
	}
	p, err := c.call(ctx, &wireRequest{cmd: cmdScript, component: str(component), script: str(script), action: action})
	if err != nil {
		return 0, err
	}
	return p.result, nil
}
