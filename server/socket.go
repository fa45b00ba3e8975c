package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/access"
	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/internal/pktconn"
	"github.com/rctdb/rctdb/protocol"
)

// listenSocket creates the client socket: its directory is created with
// mode 0700 if missing, a stale socket file is replaced only if no daemon
// answers on it, and the socket gets mode 0600.
func listenSocket(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create socket directory %s: %w", dir, err)
		}
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s: another daemon is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return ln, nil
}

// clientConn is one client connection on the Unix socket.
type clientConn struct {
	n *Node
	// conn is a *net.UnixConn from the socket; tests drive readLoop over
	// other connections (see serveClient).
	conn net.Conn
	w    *pktconn.Writer
	id   uint32
	pid  int32
	// uid is the connecting process's uid (SO_PEERCRED), access.UnknownUID if
	// unreadable: only root may change state (package access).
	uid int64
	// refusals counts the requests refused for want of privilege; only
	// readLoop touches it.
	refusals int
	// srvids counts this client's registrations; guarded by the registry's
	// mutex. nil once the client is removed.
	srvids map[uint64]int

	closeOnce sync.Once
	closed    atomic.Bool // set first thing in close
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		conn, err := n.ln.AcceptUnix()
		if err != nil {
			if n.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("accept on client socket failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		pid, uid := access.PeerCred(conn)
		n.serveClient(conn, pid, uid, nil)
	}
}

// serveClient registers a client connection and starts its reader, which
// closes done (if not nil) when it has ended; it returns the client's id.
func (n *Node) serveClient(conn net.Conn, pid int32, uid int64, done chan<- struct{}) uint32 {
	c := &clientConn{n: n, conn: conn, pid: pid, uid: uid, srvids: make(map[uint64]int)}
	c.w = pktconn.NewWriter(conn, pktconn.Options{
		Limit:   n.clientQueueLimit,
		OnError: func(err error) { c.close("write failed: " + err.Error()) },
	})
	n.reg.add(c)
	n.sm.accepted.Inc()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if done != nil {
			defer close(done)
		}
		c.readLoop()
	}()
	return c.id
}

// readLoop frames the client's packets and dispatches them until the
// connection ends or sends something malformed.
func (c *clientConn) readLoop() {
	defer c.close("")
	pr := protocol.NewPacketReader(c.conn, 64<<10)
	for {
		pkt, err := pr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.n.ctx.Err() == nil {
				c.n.sm.closedBad.Inc()
				c.n.log.Warn("closing client connection: bad input", "client", c.id, "pid", c.pid, "err", err)
			}
			return
		}
		op := protocol.PacketOp(pkt)
		c.n.stats.CountClientRecv(op)
		if c.n.refuseUnprivileged(c, op, pkt) {
			continue
		}
		if err := c.n.handleClientPacket(c, op, pkt); err != nil {
			c.n.sm.closedBad.Inc()
			c.n.log.Warn("closing client connection: malformed packet", "client", c.id, "pid", c.pid, "op", op, "err", err)
			return
		}
	}
}

// send writes a packet to the client; a client that cannot keep up is
// disconnected by the writer.
func (c *clientConn) send(pkt []byte) {
	if c.w.Write(pkt) == nil {
		c.n.stats.CountClientSent()
	}
}

// SendPacket writes a packet to the client (a tunnel.Holder).
func (c *clientConn) SendPacket(pkt []byte) { c.send(pkt) }

// Closed reports whether the connection is closed (a tunnel.Holder).
func (c *clientConn) Closed() bool { return c.closed.Load() }

// PID is the client's process id, from SO_PEERCRED.
func (c *clientConn) PID() int32 { return c.pid }

// clientOf is the connection a local client's control came on; nil for a
// control from another node.
func clientOf(r *control.Request) *clientConn {
	c, _ := r.Client.(*clientConn)
	return c
}

// Message sends the client one message from this node.
func (c *clientConn) Message(srvid uint64, data []byte) { c.n.messageClient(c, srvid, data) }

// Pending is how many bytes wait to be written to the client.
func (c *clientConn) Pending() int { return c.w.Pending() }

// close ends the connection and forgets its registrations.
func (c *clientConn) close(reason string) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if reason != "" {
			c.n.log.Info("closing client connection", "client", c.id, "pid", c.pid, "reason", reason)
		}
		c.w.Close()
		c.n.reg.remove(c)
		c.n.tunnels.Drop(c)
		c.n.failover.ClientGone(c)
		c.n.traverse.DropClient(c)
	})
}
