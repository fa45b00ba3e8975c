package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// recorder is a Handler that remembers everything.
type recorder struct {
	mu      sync.Mutex
	pkts    []recvd
	up      map[uint32]bool
	events  []linkEvent
	changed chan struct{}
}

type recvd struct {
	from uint32
	pkt  []byte
}

func newRecorder() *recorder {
	return &recorder{up: make(map[uint32]bool), changed: make(chan struct{}, 1)}
}

func (r *recorder) HandlePacket(from uint32, pkt []byte) {
	r.mu.Lock()
	r.pkts = append(r.pkts, recvd{from, pkt})
	r.mu.Unlock()
}

func (r *recorder) PeerConnected(pnn uint32) {
	r.mu.Lock()
	r.up[pnn] = true
	r.events = append(r.events, linkEvent{pnn, true})
	r.mu.Unlock()
}

func (r *recorder) PeerDisconnected(pnn uint32) {
	r.mu.Lock()
	r.up[pnn] = false
	r.events = append(r.events, linkEvent{pnn, false})
	r.mu.Unlock()
}

func (r *recorder) isUp(pnn uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up[pnn]
}

func (r *recorder) packets() []recvd {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recvd(nil), r.pkts...)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

const testPort = 14379

func tcpConfig(addrs []netip.Addr, self uint32, clusterID string) Config {
	cfg := Config{
		ClusterID: clusterID,
		Self:      self,
		Links:     config.Links{Port: testPort, KeepaliveInterval: 100 * time.Millisecond, DeadPeerTimeout: 500 * time.Millisecond},
	}
	for i, a := range addrs {
		cfg.Peers = append(cfg.Peers, Peer{PNN: uint32(i), Addr: a})
	}
	return cfg
}

func startTCP(t *testing.T, cfg Config) (*TCP, *recorder) {
	t.Helper()
	return startTCPLogging(t, cfg, testLogger(t).With("pnn", cfg.Self))
}

// startTCPLogging is startTCP logging to log.
func startTCPLogging(t testing.TB, cfg Config, log *slog.Logger) (*TCP, *recorder) {
	t.Helper()
	tr, err := NewTCP(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if err := tr.Start(rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, rec
}

func waitConnected(t *testing.T, recs []*recorder, trs []*TCP) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, "all links up", func() error {
		for i, r := range recs {
			for j := range recs {
				if i != j && (!r.isUp(uint32(j)) || !trs[i].Connected(uint32(j))) {
					return fmt.Errorf("node %d does not see %d", i, j)
				}
			}
		}
		return nil
	})
}

func message(from, to uint32, srvid uint64, data string) []byte {
	m := protocol.ReqMessage{Header: protocol.Header{SrcNode: from, DestNode: to}, SrvID: srvid, Data: []byte(data)}
	return m.Marshal()
}

func TestTCPDeliversInOrder(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 3, testPort)
	var trs []*TCP
	var recs []*recorder
	for i := range addrs {
		tr, rec := startTCP(t, tcpConfig(addrs, uint32(i), "test-cluster"))
		trs, recs = append(trs, tr), append(recs, rec)
	}
	waitConnected(t, recs, trs)

	const n = 2000
	for i := 0; i < n; i++ {
		if err := trs[0].Send(2, message(0, 2, uint64(i), fmt.Sprint(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "all packets", func() error {
		if got := len(recs[2].packets()); got < n {
			return fmt.Errorf("%d of %d", got, n)
		}
		return nil
	})
	for i, p := range recs[2].packets() {
		var m protocol.ReqMessage
		if err := m.Unmarshal(p.pkt); err != nil {
			t.Fatal(err)
		}
		if p.from != 0 || m.SrvID != uint64(i) || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("packet %d: from %d srvid %d data %q", i, p.from, m.SrvID, m.Data)
		}
	}
	if len(recs[1].packets()) != 0 {
		t.Fatalf("node 1 got packets meant for node 2")
	}
	if trs[0].Send(0, message(0, 0, 1, "")) == nil {
		t.Fatal("send to self succeeded")
	}
}

func TestTCPDeadPeerNoticedAtOnceAndReconnects(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 3, testPort)
	var trs []*TCP
	var recs []*recorder
	for i := range addrs {
		tr, rec := startTCP(t, tcpConfig(addrs, uint32(i), "c1"))
		trs, recs = append(trs, tr), append(recs, rec)
	}
	waitConnected(t, recs, trs)

	closed := time.Now()
	trs[1].Close()
	testutil.WaitFor(t, 2*time.Second, "node 1 seen down", func() error {
		if recs[0].isUp(1) || recs[2].isUp(1) {
			return fmt.Errorf("still up")
		}
		return nil
	})
	// Closing sockets is noticed from the FIN, well before the dead peer timeout.
	if d := time.Since(closed); d > 400*time.Millisecond {
		t.Errorf("closed peer noticed after %v", d)
	}
	if err := trs[0].Send(1, message(0, 1, 1, "x")); err == nil {
		t.Error("send to a dead peer succeeded")
	}
	// Its port refuses connections: the peer is gone, not silent.
	testutil.WaitFor(t, 2*time.Second, "node 1 found gone", func() error {
		if d, _ := trs[0].Departed(1); d != Gone {
			return fmt.Errorf("departure %s", d)
		}
		return nil
	})

	tr1, rec1 := startTCP(t, tcpConfig(addrs, 1, "c1"))
	trs[1], recs[1] = tr1, rec1
	waitConnected(t, recs, trs)
}

func TestTCPRefusesOtherCluster(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	a, ra := startTCP(t, tcpConfig(addrs, 0, "cluster-a"))
	b, rb := startTCP(t, tcpConfig(addrs, 1, "cluster-b"))
	testutil.WaitFor(t, 3*time.Second, "refusals on both sides", func() error {
		if a.m.refused.Get() == 0 || b.m.refused.Get() == 0 {
			return fmt.Errorf("refused a=%d b=%d", a.m.refused.Get(), b.m.refused.Get())
		}
		return nil
	})
	if ra.isUp(1) || rb.isUp(0) || a.Connected(1) || b.Connected(0) {
		t.Fatal("nodes of different clusters connected")
	}
}

// fakePeer plays node pnn by hand: it accepts our outgoing connection and
// dials in, handshaking both, then does whatever the test wants.
type fakePeer struct {
	ln  net.Listener
	in  net.Conn      // the node's outgoing connection, accepted here
	inr *bufio.Reader // reads in after the handshake
	out net.Conn      // our connection into the node
}

func newFakePeer(t *testing.T, cfg Config, pnn uint32, target uint32) *fakePeer {
	t.Helper()
	return newFakePeerVersion(t, cfg, pnn, target, protocol.KeepaliveVersion)
}

// newFakePeerVersion is newFakePeer saying it runs Samba release samba.
func newFakePeerVersion(t *testing.T, cfg Config, pnn uint32, target uint32, samba uint32) *fakePeer {
	t.Helper()
	self := cfg.Peers[pnn].Addr
	ln, err := net.Listen("tcp", netip.AddrPortFrom(self, cfg.Port).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fp := &fakePeer{ln: ln}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: self.AsSlice()}}
	out, err := d.Dial("tcp", netip.AddrPortFrom(cfg.Peers[target].Addr, cfg.Port).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	if err := writeHello(out, tagNode, hello{Version: linkVersion, SambaVersion: samba, PNN: pnn, ClusterID: cfg.ClusterID}); err != nil {
		t.Fatal(err)
	}
	if w, err := readWelcome(out); err != nil || !w.OK {
		t.Fatalf("fake peer not welcomed: %+v %v", w, err)
	}
	fp.out = out
	in, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	fp.inr = bufio.NewReader(in)
	if _, _, err := readHello(fp.inr); err != nil {
		t.Fatal(err)
	}
	if err := writeWelcome(in, welcome{OK: true, PNN: pnn, ClusterID: cfg.ClusterID}); err != nil {
		t.Fatal(err)
	}
	fp.in = in
	return fp
}

func TestTCPSilentPeerDeclaredDead(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	cfg := tcpConfig(addrs, 0, "silent")
	tr, rec := startTCP(t, cfg)
	// Keep the node from dialing the fake peer's address before it listens:
	// the fake peer accepts the first outgoing connection below.
	beforeUp := time.Now()
	fp := newFakePeer(t, cfg, 1, 0)
	testutil.WaitFor(t, 3*time.Second, "fake peer connected", func() error {
		if !rec.isUp(1) {
			return fmt.Errorf("not up")
		}
		return nil
	})
	upAt := time.Now()
	// The fake peer never sends anything: like a SIGSTOPped process.
	testutil.WaitFor(t, 3*time.Second, "silent peer declared dead", func() error {
		if rec.isUp(1) {
			return fmt.Errorf("still up")
		}
		return nil
	})
	// The link came up after beforeUp and was seen up at upAt, maybe late
	// on a loaded machine: the silence lasted at least the first span and
	// the wait for its end at most the second.
	least, most := time.Since(beforeUp), time.Since(upAt)
	if least < cfg.DeadPeerTimeout-50*time.Millisecond || most > cfg.DeadPeerTimeout+400*time.Millisecond {
		t.Errorf("silent peer declared dead %v after it connected, %v after it was seen up; timeout is %v", least, most, cfg.DeadPeerTimeout)
	}
	if tr.m.deadPeers.Get() == 0 {
		t.Error("peer timeout not counted")
	}
	if dep, _ := tr.Departed(1); dep != Silent {
		t.Errorf("a silent peer's departure is %s", dep)
	}
	// The node closed both connections.
	fp.out.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := fp.out.Read(make([]byte, 1)); err == nil {
		t.Error("node kept the silent peer's connection open")
	}
}

func TestTCPBadInputClosesOnlyThatConnection(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 3, testPort)
	var trs []*TCP
	var recs []*recorder
	for i := 0; i < 2; i++ {
		tr, rec := startTCP(t, tcpConfig(addrs, uint32(i), "garbage"))
		trs, recs = append(trs, tr), append(recs, rec)
	}
	waitConnected(t, recs, trs)

	target := netip.AddrPortFrom(addrs[0], testPort).String()
	cases := map[string][]byte{
		"random bytes": bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64),
		"http":         []byte("GET / HTTP/1.0\r\n\r\n"),
		"truncated":    {tagNode, 'R', 'C'},
	}
	for name, payload := range cases {
		c, err := net.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(payload)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("%s: connection not closed by node: %v", name, err)
		}
		c.Close()
	}

	// A connection claiming to be node 1 from the wrong address is refused.
	c, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	writeHello(c, tagNode, hello{Version: linkVersion, SambaVersion: protocol.KeepaliveVersion, PNN: 1, ClusterID: "garbage"})
	if w, err := readWelcome(c); err != nil || w.OK {
		t.Errorf("impostor welcomed: %+v %v", w, err)
	}
	c.Close()

	// The real peer link survived all of it.
	if !trs[0].Connected(1) {
		t.Fatal("real link dropped by garbage on other connections")
	}
	// Absurd length on an established node link closes that link only.
	fp := newFakePeer(t, tcpConfig(addrs, 0, "garbage"), 2, 0)
	hdr := make([]byte, 32)
	binary.LittleEndian.PutUint32(hdr, 0x7ffffff8)
	binary.LittleEndian.PutUint32(hdr[4:], protocol.Magic)
	binary.LittleEndian.PutUint32(hdr[8:], protocol.Version)
	fp.out.Write(hdr)
	fp.out.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(fp.out); err != nil {
		t.Errorf("absurd length: link not closed: %v", err)
	}
	if !trs[0].Connected(1) {
		t.Fatal("real link dropped by a bad packet on another link")
	}
	if err := trs[1].Send(0, message(1, 0, 7, "still here")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Second, "packet after garbage", func() error {
		for _, p := range recs[0].packets() {
			if p.from == 1 {
				return nil
			}
		}
		return fmt.Errorf("nothing from node 1")
	})
}

func TestTCPRaftStreams(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	a, _ := startTCP(t, tcpConfig(addrs, 0, "raft"))
	b, _ := startTCP(t, tcpConfig(addrs, 1, "raft"))
	done := make(chan string, 1)
	go func() {
		c, err := b.RaftListener().Accept()
		if err != nil {
			done <- err.Error()
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("pong\n"))
		done <- line
	}()
	c, err := a.DialRaft(b.RaftAddr(1), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping\n"))
	if got := <-done; got != "ping\n" {
		t.Fatalf("raft stream carried %q", got)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	if line != "pong\n" {
		t.Fatalf("reply %q", line)
	}
	if _, err := a.DialRaft("127.0.0.9:1", time.Second); err == nil {
		t.Fatal("dial to a non-member succeeded")
	}
}

// TestTCPPeerThatClosesButListensIsSilent: a peer that closes its
// connections while something still answers on its port (it gave up on
// this node but runs) is Silent, not Gone.
func TestTCPPeerThatClosesButListensIsSilent(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	cfg := tcpConfig(addrs, 0, "closer")
	tr, rec := startTCP(t, cfg)
	fp := newFakePeer(t, cfg, 1, 0)
	testutil.WaitFor(t, 3*time.Second, "fake peer connected", func() error {
		if !rec.isUp(1) {
			return fmt.Errorf("not up")
		}
		return nil
	})
	go func() { // keep accepting the node's redials and the probe
		for {
			c, err := fp.ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	fp.out.Close()
	fp.in.Close()
	testutil.WaitFor(t, 3*time.Second, "the peer found silent", func() error {
		if d, _ := tr.Departed(1); d != Silent {
			return fmt.Errorf("departure %s", d)
		}
		return nil
	})
}

// TestProbeSeesADyingPeerGone: a peer killed with SIGKILL may still
// complete the probe's handshake on its listening socket, which the kernel
// closes after its connections; a connect refused a moment later means it
// is gone, not silent.
func TestProbeSeesADyingPeerGone(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 1, testPort)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], testPort).String())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // the dying process: one handshake, then its socket closes
		defer close(done)
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
		ln.Close()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	if d, _ := probe(context.Background(), addrs[0], testPort); d != Gone {
		t.Fatalf("departure %s, want gone", d)
	}
}

// TestProbeRetriesAReset: a connect the peer resets (a dying process whose
// listening socket answered the handshake and then closed) is tried again,
// and the refusal that follows means gone; a peer that keeps answering is
// silent, and a connect that times out means silent at once.
func TestProbeRetriesAReset(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}
	for _, c := range []struct {
		name    string
		results []error
		want    Departure
		tries   int
	}{
		{"reset, then refused", []error{syscall.ECONNRESET, syscall.ECONNREFUSED}, Gone, 2},
		{"accepted, then reset, then refused", []error{nil, syscall.ECONNRESET, syscall.ECONNREFUSED}, Gone, 3},
		{"always accepted", nil, Silent, probeTries},
		{"timeout", []error{timeout}, Silent, 1},
	} {
		tries := 0
		got, _ := probeWith(context.Background(), func(context.Context) error {
			tries++
			if tries <= len(c.results) {
				return c.results[tries-1]
			}
			return nil
		})
		if got != c.want || tries != c.tries {
			t.Errorf("%s: %s after %d connects, want %s after %d", c.name, got, tries, c.want, c.tries)
		}
	}
}
