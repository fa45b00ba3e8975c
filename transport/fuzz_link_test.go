package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// fuzzConn is an accepted node link connection: reads come from a fuzzed
// stream in fuzzed chunks, writes (the welcome) are kept.
type fuzzConn struct {
	r      *testutil.ChunkReader
	remote net.Addr
	closed atomic.Bool

	mu      sync.Mutex
	written bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}

func (c *fuzzConn) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written.Write(p)
}

func (c *fuzzConn) output() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.written.Bytes())
}

func (c *fuzzConn) Close() error { c.closed.Store(true); return nil }
func (c *fuzzConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: testPort}
}
func (c *fuzzConn) RemoteAddr() net.Addr             { return c.remote }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// What a fuzzed link stream starts with.
const (
	startRaw     = iota // nothing: the fuzzer writes the handshake too
	startNode           // a good node hello, then good packets
	startRaft           // a good Raft hello
	startForeign        // the hello of another cluster
	startKinds
)

func linkStreamSeeds(clusterID string) [][]byte {
	msg := protocol.ReqMessage{Header: protocol.Header{SrcNode: 1}, SrvID: 5, Data: []byte("x")}
	ka := protocol.ReqKeepalive{Header: protocol.Header{SrcNode: 1}, KeepaliveVersion: protocol.KeepaliveVersion}
	huge := msg.Marshal()
	copy(huge, []byte{0xf8, 0xff, 0xff, 0x7f})
	// Within the reader's limit: allowed, but not allocated up front.
	large := msg.Marshal()
	binary.LittleEndian.PutUint32(large, protocol.DefaultMaxPacket-8)
	unaligned := msg.Marshal()
	unaligned[0]--
	var hello bytes.Buffer
	_ = writeHello(&hello, tagNode, helloOf(1, clusterID))
	return [][]byte{
		nil,
		msg.Marshal(),
		bytes.Join([][]byte{msg.Marshal(), ka.Marshal(), msg.Marshal()}, nil),
		append(msg.Marshal(), "garbage after a good packet"...),
		huge,
		huge[:protocol.HeaderSize],
		large,
		append(append(msg.Marshal(), large...), make([]byte, 50)...),
		unaligned,
		msg.Marshal()[:20],
		hello.Bytes(),
		hello.Bytes()[:12],
		append(hello.Bytes(), msg.Marshal()...),
		[]byte("GET / HTTP/1.0\r\n\r\n"),
		{tagRaft, 'R', 'C', 'T', 'D', 3, 0, 0, 0},
		{tagNode, 'R', 'C', 'T', 'D', 4, 0, 0, 0, 0x11, 0, 4, 0, 1, 0, 0, 0, 0xff},
	}
}

func helloOf(pnn uint32, clusterID string) hello {
	return hello{Version: linkVersion, SambaVersion: defaultSambaVersion, PNN: pnn, ClusterID: clusterID, Software: "fuzz"}
}

// FuzzLinkStream feeds an accepted node link connection a byte stream as
// the peer's TCP connection delivers it: the handshake, then packets, or
// a Raft stream. Whatever the bytes, the reader must end when the stream
// ends or breaks the protocol, close the connection, deliver the good
// packets before the first bad one, hand a Raft stream on without losing a
// byte read ahead, answer a hello it refuses with the reason, and not
// allocate what a length field claims before the bytes arrive.
func FuzzLinkStream(f *testing.F) {
	addrs := testutil.LoopbackRange(f, 2, testPort)
	const clusterID = "fuzz"
	cfg := Config{ClusterID: clusterID, Self: 0}
	cfg.Port = testPort
	for i, a := range addrs {
		cfg.Peers = append(cfg.Peers, Peer{PNN: uint32(i), Addr: a})
	}
	tr, rec := startTCPLogging(f, cfg, slog.New(slog.DiscardHandler))
	peer := &net.TCPAddr{IP: addrs[1].AsSlice(), Port: 40000}

	for i, s := range linkStreamSeeds(clusterID) {
		for kind := range uint8(startKinds) {
			f.Add(kind+startKinds*uint8(i%3), []byte(nil), s)
		}
		f.Add(uint8(startNode+startKinds*2), []byte{0}, s)
		f.Add(uint8(startRaft), []byte{5, 90}, s)
	}
	f.Fuzz(func(t *testing.T, start uint8, sizes, stream []byte) {
		kind, nGood := start%startKinds, int(start/startKinds)%4
		var full bytes.Buffer
		var good [][]byte
		switch kind {
		case startNode:
			_ = writeHello(&full, tagNode, helloOf(1, clusterID))
			for i := range nGood {
				m := protocol.ReqMessage{Header: protocol.Header{SrcNode: 1, DestNode: 0, ReqID: uint32(i)}, SrvID: 9, Data: []byte{byte(i)}}
				good = append(good, m.Marshal())
				full.Write(good[i])
			}
		case startRaft:
			_ = writeHello(&full, tagRaft, helloOf(1, clusterID))
		case startForeign:
			_ = writeHello(&full, tagNode, helloOf(1, "another cluster"))
		}
		prefix := full.Len()
		full.Write(stream)
		conn := &fuzzConn{r: testutil.NewChunkReader(full.Bytes(), sizes), remote: peer}
		rec.mu.Lock()
		rec.pkts = nil
		rec.mu.Unlock()

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.serveConn(conn)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("reader still runs 10 s after its stream ended (%d of %d bytes read)", conn.r.Consumed(), full.Len())
		}
		runtime.ReadMemStats(&after)
		if alloc, budget := after.TotalAlloc-before.TotalAlloc, uint64(8<<20+64*full.Len()); alloc > budget {
			t.Fatalf("serving a %d-byte stream allocated %d bytes (budget %d)", full.Len(), alloc, budget)
		}

		var raft net.Conn
		select {
		case raft = <-tr.raftLn.conns:
		default:
		}
		if raft != nil {
			// Raft's side owns the connection now: every byte after the
			// hello must reach it, read-ahead included.
			rest, err := io.ReadAll(raft)
			if err != nil {
				t.Fatalf("read the Raft stream: %v", err)
			}
			if !bytes.HasSuffix(full.Bytes(), rest) || (kind == startRaft && len(rest) != full.Len()-prefix) {
				t.Fatalf("the Raft stream got %d bytes that are not the %d after the hello", len(rest), full.Len()-prefix)
			}
			raft.Close()
		} else if kind == startRaft {
			t.Fatal("a good Raft hello was not handed to Raft")
		}
		if !conn.closed.Load() {
			t.Fatal("the reader ended without closing the connection")
		}
		checkWelcomeSent(t, kind, conn.output())
		got := rec.packets()
		for i, g := range good {
			if i >= len(got) || !bytes.Equal(got[i].pkt, g) || got[i].from != 1 {
				t.Fatalf("good packet %d of %d before the fuzzed bytes was not delivered in order (%d delivered)", i+1, len(good), len(got))
			}
		}
		for _, p := range got {
			if _, err := protocol.DecodeHeader(p.pkt); err != nil || len(p.pkt)%protocol.Alignment != 0 {
				t.Fatalf("delivered a bad packet (%d bytes): %v", len(p.pkt), err)
			}
		}
		l := tr.peers.Load().links[1]
		l.mu.Lock()
		in := l.in
		l.mu.Unlock()
		if in != nil {
			t.Fatal("the link still holds its incoming connection after the reader ended")
		}
	})
}

// checkWelcomeSent checks the acceptor's answer to a hello of kind.
func checkWelcomeSent(t *testing.T, kind uint8, out []byte) {
	t.Helper()
	if kind == startRaw {
		if len(out) > 0 {
			if _, err := readWelcome(bytes.NewReader(out)); err != nil {
				t.Fatalf("wrote something that is not a welcome: %v", err)
			}
		}
		return
	}
	w, err := readWelcome(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("no welcome after a hello: %v", err)
	}
	switch {
	case kind == startForeign && (w.OK || w.Reason == ""):
		t.Fatalf("another cluster's hello got %+v, want a refusal with a reason", w)
	case kind != startForeign && !w.OK:
		t.Fatalf("a good hello was refused: %s", w.Reason)
	}
}
