package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/sambatest"
)

// Samba across a failover: one smbd per node inside the node's network
// namespace (internal/sambatest), listening on every address there, so
// that it serves the public addresses its daemon takes; clients in the
// rig's client namespace, as on another host.
//
// The holder of a public address dies as a host dies: its link is cut
// first, so that nothing it sends reaches anyone (not even the FINs its
// kernel sends for the sockets of the processes killed next), then its
// smbd (with every child) and its ctdbd get SIGKILL.
//
// The clients whose connections are watched speak just enough SMB2
// (NEGOTIATE, then ECHO) and keep a read pending all the time, as SMB
// clients do (Samba's libsmb while a request is out, cifs.ko and Windows
// always), so that a reset shows the moment it arrives; python3-samba's
// synchronous Conn reads only inside a call, and would learn of a reset
// up to its pause between calls late. "Known" connections stay in the
// tickle lists smbd's TCP_CLIENT filled; "unknown" ones are removed from
// every node's lists with Debian's `ctdb deltickle`, so that the new
// holder does not tickle them. An active client (an ECHO every second)
// then learns of the failover from its own retransmissions, which back
// off exponentially (0.2 s, 0.4 s, ... after the first unanswered ECHO),
// so its delay after the move varies between runs; an idle one does not
// learn of it at all until it sends something.

// echoEvery is how often an active watched client sends an SMB2 ECHO.
const echoEvery = time.Second

// tickleSlack bounds how long after its address shows up on the new
// holder a tickled client may take to see its connection reset: the
// tickle goes out with the first announcement, right after the address
// is added.
const tickleSlack = 3 * time.Second

// startSambaIPCluster is startIPCluster with one smbd per node in the
// node's namespace, all serving one directory.
func startSambaIPCluster(t *testing.T, nodes, addrs int) (*ipCluster, *sambaEnv) {
	t.Helper()
	ic := startIPCluster(t, nodes, addrs)
	tmp := sambaDir(t)
	e := &sambaEnv{}
	var sn []sambatest.Node
	for i, n := range ic.Nodes {
		e.sockets = append(e.sockets, n.Socket)
		sn = append(sn, sambatest.Node{
			Socket: n.Socket,
			Addr:   ic.rig.PrivateAddr(i).String(),
			Dir:    filepath.Join(tmp, fmt.Sprint("node", i)),
			Netns:  ic.rig.NodeNS(i),
		})
	}
	e.samba = startSamba(t, sambatest.Options{
		Nodes:    sn,
		ShareDir: filepath.Join(tmp, "share"),
		LogLevel: os.Getenv("RCTDB_SAMBA_LOGLEVEL"),
	}, true)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.samba.LogTails(30))
		}
	})
	return ic, e
}

// TestSambaFailover: a file put through public address A is read again
// through A after A's holder died as a host dies, and clients with an open
// connection to A learn that it is dead: those smbd registered (tickled by
// the new holder) as soon as A moved, those the survivors do not know of
// only when they next send something.
func TestSambaFailover(t *testing.T) {
	ic, e := startSambaIPCluster(t, 3, 3)
	pw := e.loginAsRoot(t, 0)
	leader := clustertest.WaitAgreed(t, ic, clustertest.Want{}).Leader
	placed, _ := ic.waitPlaced(t, nil, 10*time.Second)
	// A non-leader's address: the survivors keep their leader, so what is
	// measured is the failover, not an election.
	var a netip.Addr
	victim := -1
	for _, addr := range ic.addrs {
		if p := placed[addr]; uint32(p) != leader {
			a, victim = addr, p
			break
		}
	}
	if victim < 0 {
		t.Fatalf("every address is on the leader %d: %v", leader, placed)
	}
	survivors := others(len(ic.Nodes), uint32(victim))
	// Client tools use a survivor's smb.conf: the victim's names a
	// daemon that will be dead.
	via := e.server(int(survivors[0]))
	client := sambatest.Via{Netns: ic.rig.ClientNS(), Addr: a.String()}
	t.Logf("public address %s on node %d (leader %d)", a, victim, leader)

	// a. A file put through A reads back the same.
	data := make([]byte, 64<<10+int(randomByte())<<10)
	rand.Read(data)
	local := t.TempDir()
	src, name := filepath.Join(local, "src"), "failover-"+randomHex(6)+".bin"
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := via.SMBClientVia(sambaCtx(t), client, "", "root", pw, fmt.Sprintf("put %s %s", src, name))
	e.must(t, err)
	getFile := func(ctx context.Context, dst string) error {
		if _, err := via.SMBClientVia(ctx, client, "", "root", pw, fmt.Sprintf("get %s %s", name, dst)); err != nil {
			return err
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read through %s: %d bytes (%v), not the %d put", a, len(got), err, len(data))
		}
		return nil
	}
	began := time.Now()
	e.must(t, getFile(sambaCtx(t), filepath.Join(local, "before")))
	t.Logf("smbclient put %d bytes through %s and read them back (the read took %v)", len(data), a, time.Since(began).Round(time.Millisecond))

	// c. Four clients with an open connection to A: active ones send
	// ECHOs, idle ones only wait for the server; smbd registered all four
	// with its daemon, and the survivors are made to forget two.
	watches := []*smbWatch{
		{name: "active, known", active: true, known: true},
		{name: "idle, known", known: true},
		{name: "active, unknown", active: true},
		{name: "idle, unknown"},
	}
	var connects []string
	for _, w := range watches {
		began := time.Now()
		w.start(t, ic, a)
		connects = append(connects, time.Since(began).Round(time.Millisecond).String())
	}
	t.Logf("4 connections to %s:445 answered NEGOTIATE after %s", a, strings.Join(connects, ", "))
	// The lists may also hold connections that ended (smbclient's): the
	// holder's next list sent to the others drops them, as in 4.17.
	target := netip.AddrPortFrom(a, 445)
	var all, known, unknown []netip.AddrPort
	for _, w := range watches {
		all = append(all, w.local)
		if w.known {
			known = append(known, w.local)
		} else {
			unknown = append(unknown, w.local)
		}
	}
	for _, p := range append([]uint32{uint32(victim)}, survivors...) {
		waitUntil(t, 10*time.Second, fmt.Sprintf("node %d to list the four connections", p), func() error {
			return listed(gettickles(t, ic, p, a, 445), all, nil)
		})
	}
	for _, w := range watches {
		if w.known {
			continue
		}
		// The holder first, so that its next list sent to the others
		// lacks the connection too.
		for _, p := range append([]uint32{uint32(victim)}, survivors...) {
			mustTool(t, ic.Cluster, p, "deltickle", w.local.String(), target.String())
		}
	}
	for _, p := range survivors {
		waitUntil(t, 10*time.Second, fmt.Sprintf("node %d to list only the known connections", p), func() error {
			return listed(gettickles(t, ic, p, a, 445), known, unknown)
		})
	}

	// b. The holder dies as a host dies.
	start := time.Now()
	ic.rig.CutLink(victim)
	e.must(t, e.server(victim).Kill())
	if err := ic.Kill(uint32(victim)); err != nil {
		t.Fatal(err)
	}
	moved := waitSince(t, start, 45*time.Second, a.String()+" on a survivor", func() error {
		on, err := ic.rig.Holders(a)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(on, func(k int) bool { return k != victim }) {
			return fmt.Errorf("%s only on %v", a, on)
		}
		return nil
	})
	attempt := 0
	read := waitSince(t, start, moved+30*time.Second, "smbclient to read the file through "+a.String(), func() error {
		attempt++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return getFile(ctx, filepath.Join(local, fmt.Sprint("after", attempt)))
	})
	t.Logf("kill of node %d (link cut, smbd and ctdbd SIGKILL): %s on a survivor after %v; smbclient read the file through it after %v (attempt %d)",
		victim, a, moved.Round(time.Millisecond), read.Round(time.Millisecond), attempt)

	// c. How long until each client learns that its connection is dead,
	// and reconnects.
	for _, w := range watches[:3] {
		select {
		case <-w.dead:
		case <-time.After(time.Until(start.Add(90 * time.Second))):
			t.Fatalf("%s: connection not found dead 90 s after the kill", w.name)
		}
		if err := w.endedWith(); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: connection ended with %v, want a reset", w.name, err)
		}
		since := w.deadAt.Sub(start)
		if w.known && since > moved+tickleSlack {
			t.Errorf("%s: reset %v after the kill, %v after %s moved: not tickled", w.name, since, since-moved, a)
		}
		select {
		case <-w.reconnected:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no reconnect within 30 s of the reset", w.name)
		}
		if w.reconnectErr != nil {
			t.Fatalf("%s: reconnect: %v", w.name, w.reconnectErr)
		}
		t.Logf("%-16s reset %v after the kill (%+v after the move), reconnected %v after the kill",
			w.name+":", since.Round(time.Millisecond), (since - moved).Round(time.Millisecond), w.reconnectedAt.Sub(start).Round(time.Millisecond))
	}
	// Nothing tells the idle client the survivors never knew of: it finds
	// out only when it next sends something, and then at once.
	idle := watches[3]
	select {
	case <-idle.dead:
		t.Fatalf("%s: connection ended (%v) %v after the kill without a request or a tickle",
			idle.name, idle.err, idle.deadAt.Sub(start))
	default:
	}
	quiet := time.Since(start)
	asked := time.Now()
	if err := idle.smb.SendEcho(); err != nil {
		t.Fatalf("%s: send echo: %v", idle.name, err)
	}
	select {
	case <-idle.dead:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no reset within 10 s of its first request after the move", idle.name)
	}
	if !errors.Is(idle.err, syscall.ECONNRESET) {
		t.Errorf("%s: connection ended with %v, want a reset", idle.name, idle.err)
	}
	t.Logf("%-16s still open %v after the kill; its next ECHO was reset after %v",
		idle.name+":", quiet.Round(time.Millisecond), idle.deadAt.Sub(asked).Round(10*time.Microsecond))
	t.Logf("tickles: an active client learnt %v sooner (%v after the kill instead of %v), an idle one %v after the kill instead of at its next request",
		watches[2].deadAt.Sub(watches[0].deadAt).Round(time.Millisecond), watches[0].deadAt.Sub(start).Round(time.Millisecond),
		watches[2].deadAt.Sub(start).Round(time.Millisecond), watches[1].deadAt.Sub(start).Round(time.Millisecond))
}

// smbWatch is one client connection to a public address, from the client
// namespace, with a reader always blocked on it (as every SMB client keeps
// one) and, if active, an ECHO request every echoEvery. After the
// connection's end it reconnects (a NEGOTIATE answered on a new
// connection).
type smbWatch struct {
	name   string
	known  bool // the survivors keep it in their tickle lists
	active bool

	local netip.AddrPort
	smb   *sambatest.SMB2Conn

	// dead is closed when the reader fails; deadAt and err are set before.
	dead   chan struct{}
	deadAt time.Time
	err    error
	// echoErr is the first failed ECHO's error; echoDone is closed when
	// the echoes stop (active watches only).
	echoErr  error
	echoDone chan struct{}
	// reconnected is closed when a reconnect succeeded (reconnectedAt) or
	// gave up (reconnectErr).
	reconnected   chan struct{}
	reconnectedAt time.Time
	reconnectErr  error

	stop chan struct{}
	wg   sync.WaitGroup
}

// endedWith is why the connection ended, once dead is closed. A reset
// is reported to the first call on the socket after it: when that is an
// ECHO's write, the reader then finds the connection shut and sees EOF.
func (w *smbWatch) endedWith() error {
	if w.echoDone == nil || !errors.Is(w.err, io.EOF) {
		return w.err
	}
	<-w.echoDone
	if errors.Is(w.echoErr, syscall.ECONNRESET) {
		return w.echoErr
	}
	return w.err
}

// start connects to addr:445 and negotiates, then starts the reader, the
// echoes and the reconnect; all stop at the test's end.
func (w *smbWatch) start(t *testing.T, ic *ipCluster, addr netip.Addr) {
	t.Helper()
	target := netip.AddrPortFrom(addr, 445)
	w.dead, w.reconnected, w.stop = make(chan struct{}), make(chan struct{}), make(chan struct{})
	smb, err := negotiateFromClient(ic, target)
	if err != nil {
		t.Fatalf("%s: %v", w.name, err)
	}
	w.smb = smb
	la := smb.Conn().LocalAddr().(*net.TCPAddr).AddrPort()
	w.local = netip.AddrPortFrom(la.Addr().Unmap(), la.Port())
	t.Cleanup(func() {
		close(w.stop)
		w.smb.Close()
		w.wg.Wait()
	})
	w.wg.Go(func() {
		for {
			if _, _, err := w.smb.ReadResponse(); err != nil {
				w.deadAt, w.err = time.Now(), err
				close(w.dead)
				return
			}
		}
	})
	if w.active {
		w.echoDone = make(chan struct{})
		w.wg.Go(func() {
			defer close(w.echoDone)
			tick := time.NewTicker(echoEvery)
			defer tick.Stop()
			for {
				select {
				case <-w.stop:
					return
				case <-w.dead:
					return
				case <-tick.C:
					if err := w.smb.SendEcho(); err != nil && w.echoErr == nil {
						w.echoErr = err
					}
				}
			}
		})
	}
	w.wg.Go(func() {
		select {
		case <-w.stop:
			return
		case <-w.dead:
		}
		giveUp := time.Now().Add(30 * time.Second)
		for {
			c, err := negotiateFromClient(ic, target)
			if err == nil {
				w.reconnectedAt = time.Now()
				c.Close()
				close(w.reconnected)
				return
			}
			if time.Now().After(giveUp) {
				w.reconnectErr = err
				close(w.reconnected)
				return
			}
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// negotiateFromClient opens a connection from the client namespace to
// target and negotiates SMB2 on it.
func negotiateFromClient(ic *ipCluster, target netip.AddrPort) (*sambatest.SMB2Conn, error) {
	conn, err := ic.rig.DialTCP(target, time.Second)
	if err != nil {
		return nil, err
	}
	// Go's dialer turns on TCP keepalives (15 s); SMB clients rely on
	// their own requests, and a probe would tell an idle client what
	// only a tickle should.
	if err := conn.SetKeepAlive(false); err != nil {
		conn.Close()
		return nil, fmt.Errorf("turn keepalives off: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	smb, err := sambatest.Negotiate(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("negotiate with %s: %w", target, err)
	}
	return smb, nil
}

// gettickles returns the client ends of the connections to addr:port that
// Debian's `ctdb -X gettickles` lists on node pnn.
func gettickles(t *testing.T, ic *ipCluster, pnn uint32, addr netip.Addr, port uint16) map[netip.AddrPort]bool {
	t.Helper()
	out := mustTool(t, ic.Cluster, pnn, "-X", "gettickles", addr.String(), strconv.Itoa(int(port)))
	got := map[netip.AddrPort]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Split(strings.Trim(l, "|"), "|")
		if len(f) != 4 {
			t.Fatalf("gettickles on node %d: line %q", pnn, l)
		}
		src, err1 := netip.ParseAddr(f[0])
		sport, err2 := strconv.ParseUint(f[1], 10, 16)
		dst, err3 := netip.ParseAddr(f[2])
		if err := errors.Join(err1, err2, err3); err != nil || dst != addr || f[3] != strconv.Itoa(int(port)) {
			t.Fatalf("gettickles %s %d on node %d: line %q (%v)", addr, port, pnn, l, err)
		}
		got[netip.AddrPortFrom(src, uint16(sport))] = true
	}
	return got
}

// listed checks that the connections in list include every one of in and
// none of out.
func listed(list map[netip.AddrPort]bool, in, out []netip.AddrPort) error {
	var missing, extra []netip.AddrPort
	for _, c := range in {
		if !list[c] {
			missing = append(missing, c)
		}
	}
	for _, c := range out {
		if list[c] {
			extra = append(extra, c)
		}
	}
	if len(missing)+len(extra) > 0 {
		return fmt.Errorf("missing %v, still listed %v", missing, extra)
	}
	return nil
}

// randomByte is a random byte.
func randomByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}
