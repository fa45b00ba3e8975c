package events

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("events: server closed")

// replyWriteTimeout bounds the write of one reply to a client that does
// not read.
const replyWriteTimeout = 10 * time.Second

// Server serves ctdb-eventd's protocol over a Runner: RUN, STATUS and
// SCRIPT requests, answered in any order (each request runs on its own
// goroutine; the reqid matches replies to requests). A malformed packet
// closes its connection with a log line.
type Server struct {
	r   *Runner
	log *slog.Logger

	// base ends when Shutdown gives up waiting: RUN requests stop
	// waiting for their events.
	base   context.Context
	cancel context.CancelFunc
	// wg counts Serve loops, connection readers and request handlers.
	wg sync.WaitGroup

	mu        sync.Mutex
	shutdown  bool
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
}

// NewServer returns a Server of r's events; log nil discards.
func NewServer(r *Runner, log *slog.Logger) *Server {
	if log == nil {
		log = r.log
	}
	base, cancel := context.WithCancel(context.Background())
	return &Server{
		r:         r,
		log:       log,
		base:      base,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*serverConn]struct{}),
	}
}

// Listen listens on the Unix socket path (4.17: <rundir>/eventd.socket),
// replacing a stale socket file that nobody answers on.
func Listen(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: %w", path, syscall.EADDRINUSE)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or until ln fails.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			delete(s.listeners, ln)
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		c := &serverConn{s: s, nc: nc}
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes every connection and waits for the
// request handlers; when ctx ends first, RUN requests stop waiting (their
// events go on in the Runner) and Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// serverConn is one client connection: a reader goroutine and one
// goroutine per request; writes are serialised by wmu.
type serverConn struct {
	s   *Server
	nc  net.Conn
	wmu sync.Mutex
	// inflight counts this connection's request handlers: the reader
	// closes the connection only after they have answered.
	inflight sync.WaitGroup
}

func (c *serverConn) serve() {
	defer c.s.wg.Done()
	defer func() {
		// Requests read before the end of the stream (or before a bad
		// packet) are still answered; then the connection goes.
		if cr, ok := c.nc.(interface{ CloseRead() error }); ok {
			cr.CloseRead()
		}
		c.inflight.Wait()
		c.nc.Close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	for {
		pkt, err := readPacket(c.nc, minRequestSize, MaxRequestSize)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Error("event client connection closed: "+err.Error(), "remote", c.nc.RemoteAddr())
			}
			return
		}
		q, err := decodeRequest(pkt)
		if err != nil {
			c.s.log.Error(fmt.Sprintf("Invalid packet received, buflen=%d: %v; closing the connection", len(pkt), err))
			return
		}
		c.inflight.Add(1)
		go c.handle(q)
	}
}

// readPacket reads one length-prefixed packet, refusing lengths outside
// [min, max].
func readPacket(r io.Reader, min, max int) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(lb[:])
	if n < uint32(min) || n > uint32(max) {
		return nil, fmt.Errorf("packet length %d outside [%d, %d]", n, min, max)
	}
	pkt := make([]byte, n)
	copy(pkt, lb[:])
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("packet of %d bytes: %w", n, err)
	}
	return pkt, nil
}

func (c *serverConn) handle(q *wireRequest) {
	defer c.inflight.Done()
	p := &wireReply{reqid: q.reqid, cmd: q.cmd}
	r := c.s.r
	switch q.cmd {
	case cmdRun:
		var args []string
		if q.args.valid {
			args = splitArgs(q.args.s)
		}
		timeout := time.Duration(q.timeout) * time.Second
		res, err := r.Run(c.s.base, q.component.s, q.event.s, args, timeout, RunFlags(q.flags))
		if err != nil && errors.Is(err, context.Canceled) {
			return // shutting down: nobody to answer
		}
		p.result = res.Code
	case cmdStatus:
		st, err := r.Status(q.component.s, q.event.s)
		if err != nil {
			p.result = int32(errnoOf(err))
		} else {
			p.status = st
		}
	case cmdScript:
		p.result = r.chmodScript(q.component.s, q.script.s, q.action == actionEnable)
	}
	c.write(encodeReply(p))
}

func (c *serverConn) write(pkt []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(replyWriteTimeout))
	if _, err := c.nc.Write(pkt); err != nil && !errors.Is(err, net.ErrClosed) {
		c.s.log.Info("Sending reply failed: "+err.Error(), "remote", c.nc.RemoteAddr())
		c.nc.Close()
	}
}
