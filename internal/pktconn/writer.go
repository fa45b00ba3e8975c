package pktconn

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by Write after Close or after a write failed.
var ErrClosed = errors.New("pktconn: connection closed")

// ErrBacklog is returned when queued bytes would exceed the writer's limit;
// the connection is closed, as ctdbd drops a client whose queue overflows.
var ErrBacklog = errors.New("pktconn: send queue limit exceeded")

// Writer queues packets for one connection. Writes are attempted inline with
// a non-blocking system call; what the socket does not take is written by a
// flusher goroutine that lives only while bytes are pending. Packets are
// written whole and in the order Write was called.
type Writer struct {
	conn    net.Conn
	raw     syscall.RawConn // nil when conn is not a socket (tests, pipes)
	limit   int
	timeout time.Duration
	onError func(error)

	mu sync.Mutex
	// pending holds bytes accepted but not yet written; while flushing is
	// set, the flusher goroutine owns the socket's write side.
	pending  []byte
	spare    []byte
	flushing bool
	err      error
	done     chan struct{} // closed when no flusher runs after Close
}

// Options configure a Writer.
type Options struct {
	// Limit bounds the queued bytes; 0 means 64 MiB.
	Limit int
	// Timeout bounds one blocking write of the flusher; 0 means no bound.
	Timeout time.Duration
	// OnError is called once, from whichever goroutine saw it, when a write
	// fails or the limit is exceeded. The Writer is closed by then.
	OnError func(error)
}

// NewWriter returns a Writer over conn.
func NewWriter(conn net.Conn, opts Options) *Writer {
	w := &Writer{conn: conn, limit: opts.Limit, timeout: opts.Timeout, onError: opts.OnError}
	if w.limit <= 0 {
		w.limit = 64 << 20
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

// Write queues pkt (the caller may reuse it after Write returns). It never
// blocks on the socket.
func (w *Writer) Write(pkt []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.flushing {
		if len(w.pending)+len(pkt) > w.limit {
			w.failLocked(fmt.Errorf("%w: %d bytes queued", ErrBacklog, len(w.pending)))
			w.mu.Unlock()
			w.notify()
			return ErrBacklog
		}
		w.pending = append(w.pending, pkt...)
		w.mu.Unlock()
		return nil
	}
	n, err := w.tryWrite(pkt)
	if err != nil {
		w.failLocked(err)
		w.mu.Unlock()
		w.notify()
		return err
	}
	if n < len(pkt) {
		w.pending = append(w.pending[:0], pkt[n:]...)
		w.flushing = true
		go w.flush()
	}
	w.mu.Unlock()
	return nil
}

// tryWrite writes what the socket takes without blocking. Without a raw
// socket it writes nothing and leaves the work to the flusher.
func (w *Writer) tryWrite(p []byte) (int, error) {
	if w.raw == nil {
		return 0, nil
	}
	var n int
	var werr error
	err := w.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				return true
			}
			if e != nil {
				werr = e
				return true
			}
			n += m
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}

// flush writes pending bytes with blocking writes until none are left. It
// clears flushing before reporting an error, so that OnError may Close.
func (w *Writer) flush() {
	for {
		w.mu.Lock()
		if w.err != nil || len(w.pending) == 0 {
			w.endFlushLocked()
			w.mu.Unlock()
			return
		}
		buf := w.pending
		w.pending = w.spare[:0]
		w.mu.Unlock()

		if w.timeout > 0 {
			_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		_, err := w.conn.Write(buf)

		w.mu.Lock()
		w.spare = buf[:0]
		if err != nil && w.err == nil {
			w.failLocked(err)
			w.endFlushLocked()
			w.mu.Unlock()
			w.notify()
			return
		}
		w.mu.Unlock()
	}
}

func (w *Writer) endFlushLocked() {
	w.flushing = false
	if w.done != nil {
		close(w.done)
		w.done = nil
	}
}

func (w *Writer) failLocked(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	w.pending = nil
	_ = w.conn.Close()
}

func (w *Writer) notify() {
	if w.onError != nil {
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		w.onError(err)
	}
}

// Pending returns the number of queued bytes not yet written.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Close closes the connection, drops what is queued and waits for a running
// flusher to return. It does not call OnError.
func (w *Writer) Close() error {
	w.mu.Lock()
	var wait chan struct{}
	if w.err == nil {
		w.err = ErrClosed
		w.pending = nil
	}
	err := w.conn.Close()
	if w.flushing {
		if w.done == nil {
			w.done = make(chan struct{})
		}
		wait = w.done
	}
	w.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return err
}
