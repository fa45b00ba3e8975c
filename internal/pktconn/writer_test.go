package pktconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// socketPair returns two connected Unix stream sockets with small buffers,
// so that a reader that does not read fills them quickly.
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "sock")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func packet(writer, seq int, size int) []byte {
	p := make([]byte, size)
	binary.LittleEndian.PutUint32(p, uint32(size))
	binary.LittleEndian.PutUint32(p[4:], uint32(writer))
	binary.LittleEndian.PutUint32(p[8:], uint32(seq))
	return p
}

// TestOrderAndIntegrityUnderConcurrency: packets from several writers arrive
// whole and, per writer, in order, whether written inline or by the flusher.
func TestOrderAndIntegrityUnderConcurrency(t *testing.T) {
	a, b := socketPair(t)
	w := NewWriter(a, Options{})
	const writers, each = 4, 2000
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := 0; s < each; s++ {
				if err := w.Write(packet(i, s, 12+(s*7)%300)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	done := make(chan error, 1)
	go func() {
		for n := 0; n < writers*each; n++ {
			var hdr [12]byte
			if _, err := io.ReadFull(b, hdr[:]); err != nil {
				done <- err
				return
			}
			size := int(binary.LittleEndian.Uint32(hdr[:]))
			who, seq := int(binary.LittleEndian.Uint32(hdr[4:])), int(binary.LittleEndian.Uint32(hdr[8:]))
			if _, err := io.ReadFull(b, make([]byte, size-12)); err != nil {
				done <- err
				return
			}
			if who >= writers || seq != next[who] {
				done <- errors.New("packet out of order or corrupt")
				return
			}
			next[who]++
		}
		done <- nil
	}()
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSlowReaderNeverBlocksWriter: a reader that does not read makes the
// writer queue, not block; reading later receives everything.
func TestSlowReaderNeverBlocksWriter(t *testing.T) {
	a, b := socketPair(t)
	w := NewWriter(a, Options{})
	p := bytes.Repeat([]byte{7}, 1000)
	start := time.Now()
	for i := 0; i < 200; i++ {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("writes blocked for %v", d)
	}
	if w.Pending() == 0 {
		t.Fatal("nothing queued although the reader has not read")
	}
	got, err := io.ReadAll(io.LimitReader(b, 200*1000))
	if err != nil || len(got) != 200*1000 {
		t.Fatalf("read %d bytes: %v", len(got), err)
	}
}

// TestBacklogLimitCloses: exceeding the limit fails the writer once, closes
// the connection and calls OnError, which may itself call Close.
func TestBacklogLimitCloses(t *testing.T) {
	a, b := socketPair(t)
	var calls int
	var w *Writer
	w = NewWriter(a, Options{Limit: 10000, OnError: func(err error) {
		calls++
		w.Close()
	}})
	p := make([]byte, 1000)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = w.Write(p)
	}
	if !errors.Is(err, ErrBacklog) {
		t.Fatalf("got %v, want ErrBacklog", err)
	}
	if calls != 1 {
		t.Fatalf("OnError called %d times", calls)
	}
	if err := w.Write(p); err == nil {
		t.Fatal("write after failure succeeded")
	}
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadAll(b); err != nil {
		t.Fatalf("peer did not see the connection close: %v", err)
	}
}

// TestPeerGoneReportsError: a write to a closed peer is reported through
// OnError, from the flusher when the write was queued.
func TestPeerGoneReportsError(t *testing.T) {
	a, b := socketPair(t)
	errc := make(chan error, 1)
	w := NewWriter(a, Options{OnError: func(err error) { errc <- err }})
	p := make([]byte, 64<<10) // more than the socket buffers: forces the flusher
	if err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	b.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("nil error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported for a vanished peer")
	}
	w.Close()
}

// TestCloseWaitsForFlusher: Close returns only after the flusher stopped.
func TestCloseWaitsForFlusher(t *testing.T) {
	a, _ := socketPair(t)
	w := NewWriter(a, Options{Timeout: 10 * time.Second})
	w.Write(make([]byte, 256<<10))
	done := make(chan struct{})
	go func() {
		w.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung")
	}
	if err := w.Write([]byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestNonSocketConn works over net.Pipe, which has no raw socket: every
// write goes through the flusher.
func TestNonSocketConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := NewWriter(a, Options{})
	for i := 0; i < 10; i++ {
		w.Write(packet(0, i, 12))
	}
	for i := 0; i < 10; i++ {
		var hdr [12]byte
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			t.Fatal(err)
		}
		if seq := binary.LittleEndian.Uint32(hdr[8:]); int(seq) != i {
			t.Fatalf("packet %d has seq %d", i, seq)
		}
	}
}
