package sambatest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/netnstest"
)

// fakeSMBServer accepts one connection on loopback and answers every SMB2
// request with a response of the same command and message id, a NetBIOS
// keepalive before each; it reports the (command, message id) pairs it got
// and, when told, resets the connection.
type fakeSMBServer struct {
	ln    net.Listener
	got   chan [2]uint64
	reset chan struct{}
	done  chan struct{}
}

func newFakeSMBServer(t *testing.T) *fakeSMBServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMBServer{ln: ln, got: make(chan [2]uint64, 16), reset: make(chan struct{}), done: make(chan struct{})}
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		<-f.done
	})
	return f
}

func (f *fakeSMBServer) serve() {
	defer close(f.done)
	c, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	go func() {
		<-f.reset
		c.(*net.TCPConn).SetLinger(0) // close sends RST
		c.Close()
	}()
	for {
		var nb [4]byte
		if _, err := io.ReadFull(c, nb[:]); err != nil {
			return
		}
		msg := make([]byte, int(nb[1])<<16|int(nb[2])<<8|int(nb[3]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		le := binary.LittleEndian
		cmd, mid := le.Uint16(msg[12:]), le.Uint64(msg[24:])
		f.got <- [2]uint64{uint64(cmd), mid}
		resp := make([]byte, 4+64+8)
		resp[3] = 64 + 8
		copy(resp[4:], "\xfeSMB")
		le.PutUint16(resp[4+12:], cmd)
		le.PutUint64(resp[4+24:], mid)
		if _, err := c.Write(append([]byte{nbtKeepalive, 0, 0, 0}, resp...)); err != nil {
			return
		}
	}
}

// TestSMB2ConnNegotiateEchoReset: NEGOTIATE and ECHOs go out with message
// ids 0, 1, 2, keepalives are skipped, and a reset shows as ECONNRESET.
func TestSMB2ConnNegotiateEchoReset(t *testing.T) {
	f := newFakeSMBServer(t)
	conn, err := net.Dial("tcp", f.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Negotiate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-f.got; got != [2]uint64{smb2Negotiate, 0} {
		t.Fatalf("first request: command, mid = %v", got)
	}
	for mid := uint64(1); mid <= 2; mid++ {
		if err := c.SendEcho(); err != nil {
			t.Fatal(err)
		}
		cmd, status, err := c.ReadResponse()
		if err != nil || cmd != smb2Echo || status != 0 {
			t.Fatalf("echo %d: command 0x%x status 0x%x err %v", mid, cmd, status, err)
		}
		if got := <-f.got; got != [2]uint64{smb2Echo, mid} {
			t.Fatalf("echo %d went out as command, mid = %v", mid, got)
		}
	}
	close(f.reset)
	if _, _, err := c.ReadResponse(); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the server's reset: %v, want ECONNRESET", err)
	}
}

// TestNegotiateGivesUpWithItsContext: a server that never answers does not
// hold Negotiate past its context.
func TestNegotiateGivesUpWithItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Negotiate(ctx, conn); err == nil {
		t.Fatal("negotiate with a silent server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("negotiate returned after %v", d)
	}
}

// TestDialFromNamespace: dialFrom opens its socket inside the namespace: it
// reaches a listener on 127.0.0.1 that exists only there.
func TestDialFromNamespace(t *testing.T) {
	r := netnstest.New(t, 1)
	ln, err := r.ListenTCP(0, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dialFrom(ctx, r.NodeNS(0), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	peer, err := ln.Accept()
	if err != nil {
		t.Fatalf("the namespace's listener got no connection: %v", err)
	}
	defer peer.Close()
	if peer.RemoteAddr().String() != conn.LocalAddr().String() {
		t.Fatalf("listener accepted %s, the dial came from %s", peer.RemoteAddr(), conn.LocalAddr())
	}
	if _, err := dialFrom(ctx, "rct-no-such-namespace", "127.0.0.1:1"); err == nil {
		t.Error("a dial from a missing namespace succeeded")
	}
}

// TestConfigureNetnsListensEverywhere: a node in a namespace gets smbd
// listening on every address and runs through ip netns exec.
func TestConfigureNetnsListensEverywhere(t *testing.T) {
	if _, err := exec.LookPath("smbd"); err != nil {
		t.Skip("smbd is not installed")
	}
	dir := t.TempDir()
	c, err := New(Options{
		Nodes:    []Node{{Socket: "/s0.socket", Addr: "10.1.2.3", Dir: filepath.Join(dir, "n0"), Netns: "rct-x-n0"}},
		ShareDir: filepath.Join(dir, "share"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.Servers[0].Conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	if !strings.Contains(conf, "\tbind interfaces only = no\n") || strings.Contains(conf, "\tinterfaces = ") {
		t.Errorf("smb.conf of a namespaced node:\n%s", conf)
	}
	cmd := c.Servers[0].command("smbd", "-V")
	if want := []string{"ip", "netns", "exec", "rct-x-n0", "smbd", "-V"}; strings.Join(cmd.Args, " ") != strings.Join(want, " ") {
		t.Errorf("smbd runs as %q, want %q", cmd.Args, want)
	}
}
