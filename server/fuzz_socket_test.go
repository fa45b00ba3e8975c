package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// chunkedConn is the daemon's end of a real socket pair whose reads come
// from a fuzzed stream in fuzzed chunks: the daemon writes its replies
// to the real socket (inline, as to a client), and reads what the fuzzer
// says a client sent.
type chunkedConn struct {
	*net.UnixConn
	r      *testutil.ChunkReader
	closed atomic.Bool
}

func (c *chunkedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *chunkedConn) Close() error {
	c.closed.Store(true)
	return c.UnixConn.Close()
}

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ends [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = c.(*net.UnixConn)
		t.Cleanup(func() { ends[i].Close() })
	}
	return ends[0], ends[1]
}

// goodReqID numbers the well-formed controls a fuzzed stream starts with.
const goodReqID = 0x5eed0000

func getPNN(reqid uint32) []byte {
	rc := protocol.ReqControl{Header: protocol.Header{DestNode: protocol.CurrentNode, ReqID: reqid}, Opcode: protocol.ControlGetPNN}
	return rc.Marshal()
}

func control(op protocol.Opcode, dest uint32, data []byte) []byte {
	rc := protocol.ReqControl{Header: protocol.Header{DestNode: dest, ReqID: 7}, Opcode: op, Data: data}
	return rc.Marshal()
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// clientStreamSeeds are streams a client might send, good and bad.
func clientStreamSeeds() [][]byte {
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	good := getPNN(1)
	msg := protocol.ReqMessage{Header: protocol.Header{DestNode: protocol.CurrentNode}, SrvID: 0xabc, Data: []byte("hello")}
	call := protocol.ReqCall{Header: protocol.Header{DestNode: protocol.CurrentNode, ReqID: 9}, DBID: 0x1234, Key: []byte("k")}
	reply := protocol.ReplyControl{Header: protocol.Header{ReqID: 3}}
	huge := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(huge, 0xfffffff0)
	// Within the reader's limit: allowed, but not allocated up front.
	large := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(large, protocol.DefaultMaxPacket-8)
	short := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(short, 8)
	badMagic := append([]byte(nil), good...)
	badMagic[4] = 'X'
	return [][]byte{
		nil,
		good,
		join(good, good, good),
		join(good, []byte("garbage after a good packet")),
		join(control(protocol.ControlRegisterSrvID, protocol.CurrentNode, nil), msg.Marshal(), good),
		join(control(protocol.ControlPing, protocol.CurrentNode, nil), control(protocol.ControlEchoData, protocol.CurrentNode, join(u32(3), u32(0), []byte("abc")))),
		join(control(protocol.ControlGetNodeMap, 1, nil), control(protocol.ControlGetPNN, protocol.BroadcastAll, nil)),
		join(control(protocol.ControlSetBanState, protocol.CurrentNode, u64(0)), control(protocol.ControlGetDBMap, protocol.CurrentNode, nil)),
		join(call.Marshal(), good),
		reply.Marshal(),
		huge,
		huge[:protocol.HeaderSize],
		large,
		join(good, large, make([]byte, 100)),
		short,
		badMagic,
		good[:len(good)-3],
		join(good, good[:protocol.HeaderSize+2]),
	}
}

// FuzzClientStream feeds the daemon's client socket reader and dispatch a
// byte stream as a client connection delivers it, after a few well-formed
// controls. Whatever follows them, the reader must answer those, end when
// the stream ends or breaks the protocol, close the connection, forget the
// client and not allocate what a length field claims before the bytes
// arrive.
func FuzzClientStream(f *testing.F) {
	c := clustertest.Start(f, 1)
	clustertest.WaitAgreed(f, c, clustertest.Want{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Databases named by the fuzzer would pile up files over millions of
	// runs; the control is still parsed and refused.
	if _, err := c.Client(0).SetTunable(ctx, protocol.CurrentNode, "AllowClientDBAttach", 0); err != nil {
		f.Fatal(err)
	}
	node := c.Node(0)
	for i, s := range clientStreamSeeds() {
		f.Add(uint8(i%3), []byte(nil), s)
		f.Add(uint8(1), []byte{0}, s)
		f.Add(uint8(2), []byte{3, 200, 7}, s)
	}
	f.Fuzz(func(t *testing.T, good uint8, sizes, stream []byte) {
		nGood := int(good % 8)
		var full []byte
		for i := range nGood {
			full = append(full, getPNN(goodReqID+uint32(i))...)
		}
		full = append(full, stream...)
		srv, peer := socketPair(t)
		conn := &chunkedConn{UnixConn: srv, r: testutil.NewChunkReader(full, sizes)}
		replies := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(peer)
			replies <- b
		}()

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done, id := node.ServeClientForTest(conn, int32(os.Getpid()))
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("reader still runs 10 s after its stream ended (%d of %d bytes read)", conn.r.Consumed(), len(full))
		}
		runtime.ReadMemStats(&after)
		// A claimed length costs memory only as its bytes arrive; replies
		// (an echo, a node map) are small or as large as the request.
		if alloc, budget := after.TotalAlloc-before.TotalAlloc, uint64(16<<20+64*len(full)); alloc > budget {
			t.Fatalf("serving a %d-byte stream allocated %d bytes (budget %d)", len(full), alloc, budget)
		}
		if !conn.closed.Load() {
			t.Fatal("the reader ended without closing the connection")
		}
		if node.HoldsClientForTest(id) {
			t.Fatal("the node still holds the client after its connection ended")
		}
		var out []byte
		select {
		case out = <-replies:
		case <-time.After(10 * time.Second):
			t.Fatal("the client's end of the socket was not closed")
		}
		answered := answeredReqIDs(t, out)
		for i := range nGood {
			if !answered[goodReqID+uint32(i)] {
				t.Fatalf("well-formed control %d of %d before the fuzzed bytes got no reply", i+1, nGood)
			}
		}
	})
}

// answeredReqIDs returns the request ids of the control replies in out,
// which must be well-formed packets.
func answeredReqIDs(t *testing.T, out []byte) map[uint32]bool {
	t.Helper()
	ids := make(map[uint32]bool)
	pr := protocol.NewPacketReader(bytes.NewReader(out), 64<<10)
	for {
		pkt, err := pr.Next()
		if errors.Is(err, io.EOF) {
			return ids
		}
		if err != nil {
			// The writer drops what is queued when the connection closes,
			// so the tail may be cut; only whole packets count.
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return ids
			}
			t.Fatalf("the daemon wrote a malformed packet: %v", err)
		}
		if protocol.PacketOp(pkt) != protocol.OpReplyControl {
			continue
		}
		var rc protocol.ReplyControl
		if err := rc.Unmarshal(pkt); err != nil {
			t.Fatalf("the daemon wrote a malformed control reply: %v", err)
		}
		ids[rc.ReqID] = true
	}
}
