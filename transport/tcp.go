package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/internal/pktconn"
	"github.com/rctdb/rctdb/protocol"
)

// TCP is the production transport: one listener on the node's address and
// port, one outgoing and one incoming connection per peer.
type TCP struct {
	cfg   Config
	log   *slog.Logger
	m     *transportMetrics
	self  netip.Addr
	peers atomic.Pointer[peerSet] // replaced whole by SetPeers
	start time.Time
	// handler receives packets and events; set by Start.
	handler Handler
	// formed tells a dialer whether this node already has cluster state;
	// set by SetFormed before Start.
	formed func() bool

	ln     net.Listener
	raftLn *streamListener
	events *eventQueue

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// handshaking holds accepted connections still in their handshake, so
	// that Close need not wait for their deadline.
	hsMu        sync.Mutex
	handshaking map[net.Conn]struct{}

	// connSeq numbers installed connections so that a stale reader cannot
	// tear down the connection that replaced its own.
	connSeq atomic.Uint64

	// peersMu serialises SetPeers; readers load peers without it.
	peersMu sync.Mutex

	surveyMu sync.Mutex
	survey   map[uint32]PeerStatus

	// mixedLog rate-limits the error about a node of another Samba
	// release; refusals the other refused connections.
	mixedLog refusalLog
	refusals refusalLog

	// tls is nil when node links are plaintext ([tls] mode = off).
	tls *tlsSource
}

var _ Transport = (*TCP)(nil)

// NewTCP checks cfg and prepares a transport; Start opens the listener.
func NewTCP(cfg Config, log *slog.Logger, set *metrics.Set) (*TCP, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &TCP{
		cfg:         cfg,
		log:         log,
		events:      newEventQueue(),
		handshaking: make(map[net.Conn]struct{}),
		survey:      make(map[uint32]PeerStatus),
		mixedLog:    refusalLog{every: mixedVersionLogEvery},
		refusals:    refusalLog{every: refusalLogEvery},
	}
	ps, err := t.newPeerSet(cfg.Peers, nil)
	if err != nil {
		return nil, err
	}
	t.peers.Store(ps)
	for _, p := range cfg.Peers {
		if p.PNN == cfg.Self {
			t.self = p.Addr
		}
	}
	if cfg.TLS.Enabled() {
		src, err := newTLSSource(cfg.TLS, t.self, log)
		if err != nil {
			return nil, err
		}
		t.tls = src
	}
	// The Raft listener exists before Start so that Raft can be opened first
	// and the transport started with a handler that already has Raft.
	t.raftLn = newStreamListener(raftAddrOf(t))
	t.m = newMetrics(set, func() float64 {
		n := 0
		for _, l := range t.peers.Load().links {
			if l.isConnected() {
				n++
			}
		}
		return float64(n)
	})
	return t, nil
}

func (t *TCP) selfAddr() netip.Addr { return t.self }

type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

func raftAddrOf(t *TCP) net.Addr { return tcpAddr(t.ListenAddr()) }

// ListenAddr is the address the transport listens on.
func (t *TCP) ListenAddr() string {
	return net.JoinHostPort(t.selfAddr().String(), strconv.Itoa(int(t.cfg.Port)))
}

// Start opens the listener and starts connecting to every peer.
func (t *TCP) Start(h Handler) error {
	ln, err := net.Listen("tcp", t.ListenAddr())
	if err != nil {
		return fmt.Errorf("transport listen %s: %w", t.ListenAddr(), err)
	}
	t.ln = ln
	t.start = time.Now()
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.peersMu.Lock()
	t.handler = h
	ps := t.peers.Load()
	for _, l := range ps.links {
		t.prepareLink(l)
	}
	t.goFunc(func() { t.events.run(h, t.ctx.Done()) })
	t.goFunc(t.acceptLoop)
	t.goFunc(t.livenessLoop)
	for _, l := range ps.links {
		t.goFunc(l.dialLoop)
	}
	t.peersMu.Unlock()
	t.log.Info("transport listening", "addr", t.ListenAddr(), "peers", len(ps.links), "tls", t.tls != nil)
	return nil
}

func (t *TCP) goFunc(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// Close stops listening, closes every connection and waits for the
// transport's goroutines.
func (t *TCP) Close() error {
	if t.cancel == nil {
		return nil
	}
	t.cancel()
	err := t.ln.Close()
	t.raftLn.Close()
	t.hsMu.Lock()
	for c := range t.handshaking {
		c.Close()
	}
	t.hsMu.Unlock()
	t.peersMu.Lock()
	for _, l := range t.peers.Load().links {
		l.reset(0, "transport closed", false)
	}
	t.peersMu.Unlock()
	t.wg.Wait()
	return err
}

// Send queues pkt on the outgoing connection to pnn.
func (t *TCP) Send(pnn uint32, pkt []byte) error {
	l := t.peers.Load().links[pnn]
	if l == nil {
		return fmt.Errorf("send to node %d: %w", pnn, ErrNotConnected)
	}
	w := l.writer()
	if w == nil {
		return ErrNotConnected
	}
	if err := w.Write(pkt); err != nil {
		return fmt.Errorf("send to node %d: %w", pnn, err)
	}
	t.m.packetsSent.Inc()
	return nil
}

// Connected reports whether both directions to pnn are up.
func (t *TCP) Connected(pnn uint32) bool {
	l := t.peers.Load().links[pnn]
	return l != nil && l.isConnected()
}

// Stats returns the transport's packet counters.
func (t *TCP) Stats() Stats { return t.m.stats() }

// RaftAddr returns "addr:port" of pnn.
func (t *TCP) RaftAddr(pnn uint32) string {
	a, ok := t.peers.Load().addrs[pnn]
	if !ok {
		return ""
	}
	return net.JoinHostPort(a.String(), strconv.Itoa(int(t.cfg.Port)))
}

// RaftListener yields handshaked incoming Raft streams.
func (t *TCP) RaftListener() net.Listener { return t.raftLn }

// DialRaft opens a Raft stream to the node listening at addr.
func (t *TCP) DialRaft(addr string, timeout time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial raft %q: %w", addr, err)
	}
	pnn, ok := t.peers.Load().byAddr[ap.Addr().Unmap()]
	if !ok {
		return nil, fmt.Errorf("dial raft %q: not a node of this cluster", addr)
	}
	conn, err := t.dial(context.Background(), pnn, ap.Addr(), tagRaft, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial raft node %d: %w", pnn, err)
	}
	return conn, nil
}

// dial connects from our own node address (so the peer can identify us by
// source address, as ctdbd does) and performs the handshake.
func (t *TCP) dial(ctx context.Context, pnn uint32, addr netip.Addr, tag byte, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = t.cfg.DialTimeout
	}
	d := net.Dialer{
		Timeout:   timeout,
		LocalAddr: &net.TCPAddr{IP: t.selfAddr().AsSlice()},
		KeepAlive: -1, // our own keepalives detect dead peers faster
	}
	target := net.JoinHostPort(addr.String(), strconv.Itoa(int(t.cfg.Port)))
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if t.tls != nil {
		tc, err := t.tls.client(ctx, conn, addr)
		if err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	err = writeHello(conn, tag, hello{Version: linkVersion, SambaVersion: t.cfg.SambaVersion, PNN: t.cfg.Self,
		ClusterID: t.cfg.ClusterID, Software: t.cfg.Software})
	if err == nil {
		var w welcome
		w, err = readWelcome(conn)
		if err == nil {
			err = checkWelcome(w, pnn, t.cfg.ClusterID)
			t.noteWelcome(pnn, w, err)
		}
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, errRefused) {
			t.m.refused.Inc()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (t *TCP) acceptLoop() {
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.log.Warn("transport accept failed", "err", err)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		t.hsMu.Lock()
		t.handshaking[conn] = struct{}{}
		t.hsMu.Unlock()
		t.goFunc(func() { t.serveConn(conn) })
	}
}

// serveConn handshakes an incoming connection and hands it to its user.
func (t *TCP) serveConn(conn net.Conn) {
	remote := conn.RemoteAddr().String()
	raw := conn
	_ = conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	if t.tls != nil {
		tc, err := t.tls.server(conn)
		if err != nil {
			t.forgetHandshaking(raw)
			t.refuse(remote, tlsRefusal(err))
			conn.Close()
			return
		}
		conn = tc
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	tag, h, err := readHello(br)
	t.forgetHandshaking(raw)
	if err != nil {
		if t.tls == nil && errors.Is(err, errTLSDialer) {
			t.refuse(remote, err.Error())
		} else {
			t.m.refused.Inc()
			t.log.Warn("refused connection", "remote", remote, "err", err)
		}
		conn.Close()
		return
	}
	if reason := t.checkHello(conn, h); reason != "" {
		t.refuse(remote, reason, "claimed_pnn", h.PNN, "cluster_id", h.ClusterID, "peer_version", h.Software)
		_ = writeWelcome(conn, welcome{PNN: t.cfg.Self, ClusterID: t.cfg.ClusterID, Reason: reason, Formed: t.isFormed()})
		conn.Close()
		return
	}
	if err := writeWelcome(conn, welcome{OK: true, PNN: t.cfg.Self, ClusterID: t.cfg.ClusterID, Formed: t.isFormed()}); err != nil {
		t.log.Warn("handshake failed", "remote", remote, "pnn", h.PNN, "err", err)
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if tag == tagRaft {
		if !t.raftLn.push(&bufferedConn{Conn: conn, r: br}) {
			conn.Close()
		}
		return
	}
	l := t.peers.Load().links[h.PNN]
	if l == nil { // removed by SetPeers during the handshake
		conn.Close()
		return
	}
	l.runIncoming(conn, br)
}

// checkHello returns why a hello is refused, or "".
func (t *TCP) checkHello(conn net.Conn, h hello) string {
	if reason := t.checkSambaVersion(h, conn.RemoteAddr().String()); reason != "" {
		return reason
	}
	if h.Version != linkVersion {
		return fmt.Sprintf("link protocol version %d, want %d", h.Version, linkVersion)
	}
	if h.ClusterID != t.cfg.ClusterID {
		return fmt.Sprintf("cluster id %q is not ours (%q)", h.ClusterID, t.cfg.ClusterID)
	}
	l := t.peers.Load().links[h.PNN]
	if l == nil {
		return fmt.Sprintf("pnn %d is not a peer of node %d", h.PNN, t.cfg.Self)
	}
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil || ap.Addr().Unmap() != l.peer.Addr {
		return fmt.Sprintf("source address %s is not node %d's address %s", conn.RemoteAddr(), h.PNN, l.peer.Addr)
	}
	if t.tls != nil {
		return checkPeerCert(peerCertificate(conn), h.PNN, l.peer.Addr)
	}
	return ""
}

// refusalLogEvery bounds how often the refusal of one remote host is
// logged again for the same reason.
const refusalLogEvery = time.Minute

// refuse counts a refused connection and logs it, rate-limited per remote
// host.
func (t *TCP) refuse(remote, reason string, attrs ...any) {
	t.m.refused.Inc()
	ok, skipped := t.refusals.note(hostOf(remote), reason, time.Now())
	if !ok {
		return
	}
	attrs = append([]any{"remote", remote, "reason", reason}, attrs...)
	if skipped > 0 {
		attrs = append(attrs, "refusals_not_logged", skipped)
	}
	t.log.Warn("refused connection", attrs...)
}

func (t *TCP) forgetHandshaking(conn net.Conn) {
	t.hsMu.Lock()
	delete(t.handshaking, conn)
	t.hsMu.Unlock()
}

// livenessLoop sends keepalives and declares silent peers dead.
func (t *TCP) livenessLoop() {
	tick := time.NewTicker(t.cfg.KeepaliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		uptime := uint32(time.Since(t.start) / time.Second)
		for _, l := range t.peers.Load().links {
			l.tick(uptime)
		}
	}
}

// link is the pair of connections to one peer.
type link struct {
	t    *TCP
	peer Peer
	h    Handler
	// ctx ends when the transport closes or SetPeers removes the peer.
	ctx    context.Context
	cancel context.CancelFunc

	lastRecv atomic.Int64 // unix nanos of the last packet on in

	mu        sync.Mutex
	out       *pktconn.Writer
	outID     uint64
	in        net.Conn
	inID      uint64
	connected bool
	// dep and depAt say how and when the link last went down.
	dep   Departure
	depAt time.Time
}

func (l *link) writer() *pktconn.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out
}

func (l *link) isConnected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

// updateLocked raises an event when both directions came up.
func (l *link) updateLocked() {
	if !l.connected && l.out != nil && l.in != nil {
		l.connected = true
		l.dep = Present
		l.t.m.connects.Inc()
		l.t.log.Info("node connected", "pnn", l.peer.PNN, "addr", l.peer.Addr)
		l.t.events.push(linkEvent{pnn: l.peer.PNN, up: true})
	}
}

// reset closes both connections if id names one of them (id 0: always) and
// reports the peer disconnected. Both directions restart together, as in
// ctdbd, so that a half-open pair never lingers.
func (l *link) reset(id uint64, reason string, count bool) {
	l.resetFor(id, reason, count, false)
}

// resetFor is reset; silent says the peer stopped answering (rather than
// closing its connections), which tells how it left.
func (l *link) resetFor(id uint64, reason string, count, silent bool) {
	l.mu.Lock()
	if id != 0 && id != l.inID && id != l.outID {
		l.mu.Unlock()
		return
	}
	out, in := l.out, l.in
	l.out, l.in, l.outID, l.inID = nil, nil, 0, 0
	wasConnected := l.connected
	l.connected = false
	l.mu.Unlock()
	if out != nil {
		out.Close()
	}
	if in != nil {
		in.Close()
	}
	if out == nil && in == nil {
		return
	}
	if count {
		l.t.m.resets.Inc()
	}
	if wasConnected {
		l.t.log.Warn("node disconnected", "pnn", l.peer.PNN, "addr", l.peer.Addr, "reason", reason)
		if l.ctx.Err() == nil {
			l.classify(silent)
		}
		l.t.events.push(linkEvent{pnn: l.peer.PNN, up: false})
	} else {
		l.t.log.Debug("link reset", "pnn", l.peer.PNN, "reason", reason)
	}
}

// dialLoop keeps an outgoing connection to the peer, redialling with
// jittered exponential backoff.
func (l *link) dialLoop() {
	const minBackoff, maxBackoff = 50 * time.Millisecond, time.Second
	backoff := minBackoff
	var lastErr string
	var lastLogged time.Time
	ctx := l.ctx
	for ctx.Err() == nil {
		conn, err := l.t.dial(ctx, l.peer.PNN, l.peer.Addr, tagNode, 0)
		if err != nil {
			if msg := err.Error(); msg != lastErr || time.Since(lastLogged) > 30*time.Second {
				level := slog.LevelDebug
				if errors.Is(err, errRefused) {
					level = slog.LevelWarn
				}
				l.t.log.Log(ctx, level, "connect to node failed", "pnn", l.peer.PNN, "addr", l.peer.Addr, "err", err)
				lastErr, lastLogged = msg, time.Now()
			}
			if !sleepCtx(ctx, jitter(backoff)) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		lastErr = ""
		since := time.Now()
		id := l.t.connSeq.Add(1)
		w := pktconn.NewWriter(conn, pktconn.Options{
			Limit:   64 << 20,
			Timeout: l.t.cfg.DeadPeerTimeout,
			OnError: func(err error) { l.reset(id, "write: "+err.Error(), true) },
		})
		l.mu.Lock()
		if ctx.Err() != nil {
			l.mu.Unlock()
			w.Close()
			return
		}
		old := l.out
		l.out, l.outID = w, id
		l.updateLocked()
		l.mu.Unlock()
		if old != nil {
			old.Close()
		}
		// Nothing ever arrives on an outgoing connection: a read returns only
		// when the peer closed it, or the peer broke the protocol.
		var b [1]byte
		_, err = conn.Read(b[:])
		reason := "outgoing connection closed"
		if err == nil {
			reason = "unexpected data on outgoing connection"
		}
		l.reset(id, reason, true)
		if time.Since(since) < time.Second {
			if !sleepCtx(ctx, jitter(backoff)) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
		} else {
			backoff = minBackoff
		}
	}
}

// runIncoming reads the peer's packets until the connection fails.
func (l *link) runIncoming(conn net.Conn, br *bufio.Reader) {
	id := l.t.connSeq.Add(1)
	l.lastRecv.Store(time.Now().UnixNano())
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		conn.Close()
		return
	}
	old := l.in
	l.in, l.inID = conn, id
	l.updateLocked()
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	pr := protocol.NewPacketReader(br, 64<<10)
	pr.Aligned = true
	for {
		pkt, err := pr.Next()
		if err != nil {
			reason := "incoming connection closed"
			if l.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				reason = "incoming: " + err.Error()
				if !isEOF(err) {
					l.t.log.Warn("bad packet from node, dropping link", "pnn", l.peer.PNN, "err", err)
				}
			}
			l.reset(id, reason, true)
			return
		}
		l.lastRecv.Store(time.Now().UnixNano())
		l.t.m.packetsRecv.Inc()
		if protocol.PacketOp(pkt) == protocol.OpReqKeepalive {
			l.t.m.keepalivesRecv.Inc()
			continue
		}
		l.h.HandlePacket(l.peer.PNN, pkt)
	}
}

// tick sends a keepalive and checks that the peer has spoken recently.
func (l *link) tick(uptime uint32) {
	l.mu.Lock()
	out, inID := l.out, l.inID
	l.mu.Unlock()
	if out != nil {
		ka := protocol.ReqKeepalive{
			Header:           protocol.Header{DestNode: l.peer.PNN, SrcNode: l.t.cfg.Self},
			KeepaliveVersion: l.t.cfg.SambaVersion,
			Uptime:           uptime,
		}
		if out.Write(ka.Marshal()) == nil {
			l.t.m.keepalivesSent.Inc()
		}
	}
	if inID != 0 {
		silent := time.Since(time.Unix(0, l.lastRecv.Load()))
		if silent > l.t.cfg.DeadPeerTimeout {
			l.t.m.deadPeers.Inc()
			l.resetFor(inID, fmt.Sprintf("no traffic for %v", silent.Round(time.Millisecond)), true, true)
		}
	}
}

// isEOF reports errors that only mean the other side went away.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
