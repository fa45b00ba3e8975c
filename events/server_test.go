package events

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve starts a Server for e's runner on a socket in the base directory.
func (e *testEnv) serve() (path string, s *Server) {
	e.t.Helper()
	path = filepath.Join(e.base, "eventd.socket")
	ln, err := Listen(path)
	if err != nil {
		e.t.Fatal(err)
	}
	s = NewServer(e.r, nil)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			e.t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			e.t.Errorf("Serve: %v", err)
		}
	})
	return path, s
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientServer(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.ok", `echo "ok $*"`, 0o755)
	e.script("02.fail", `[ "$1" = fail ] && { echo failing; exit 4; }; exit 0`, 0o644)
	path, _ := e.serve()
	c := dial(t, path)
	ctx := context.Background()

	if code, st, err := c.Status(ctx, "legacy", "monitor"); err != nil || code != 22 || st != nil {
		t.Errorf("never run: %d %v %v", code, st, err)
	}
	if code, err := c.Run(ctx, "legacy", "takeip", []string{"eth0", "10.0.0.1", "24"}, 10*time.Second, 0); err != nil || code != 0 {
		t.Errorf("run: %d %v", code, err)
	}
	code, st, err := c.Status(ctx, "legacy", "takeip")
	if err != nil || code != 0 || len(st.Scripts) != 2 || st.Scripts[0].Output != "ok takeip eth0 10.0.0.1 24\n" ||
		st.Scripts[1].Status != ScriptDisabled || st.Scripts[1].Output != "" {
		t.Fatalf("status: %d %+v %v", code, st, err)
	}
	// Times survive the wire with microsecond precision.
	local, _ := e.r.Status("legacy", "takeip")
	if !st.Scripts[0].Begin.Equal(local.Scripts[0].Begin.Truncate(time.Microsecond)) {
		t.Errorf("begin %v, runner has %v", st.Scripts[0].Begin, local.Scripts[0].Begin)
	}
	// SCRIPT: execute bits of a regular file only.
	if code, err := c.Script(ctx, "legacy", "02.fail", true); err != nil || code != 0 {
		t.Errorf("enable: %d %v", code, err)
	}
	if code, _ := c.Run(ctx, "legacy", "fail", nil, 10*time.Second, 0); code != ResultFailed {
		t.Errorf("run after enable: %d", code)
	}
	if code, _ := c.Script(ctx, "legacy", "02.fail.script", false); code != 0 {
		t.Errorf("disable with suffix: %d", code)
	}
	if st, _ := os.Stat(filepath.Join(e.dir, "02.fail.script")); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	os.Symlink(filepath.Join(e.dir, "01.ok.script"), filepath.Join(e.dir, "03.link.script"))
	os.WriteFile(filepath.Join(e.dir, "bad.script"), nil, 0o644)
	for _, c2 := range []struct {
		comp, script string
		want         int32
	}{
		{"legacy", "03.link", int32(syscall.EINVAL)},
		{"legacy", "99.none", int32(syscall.ENOENT)},
		{"legacy", "bad", int32(syscall.EINVAL)},
		{"nosuch", "01.ok", int32(syscall.ENOENT)},
	} {
		if code, err := c.Script(ctx, c2.comp, c2.script, true); err != nil || code != c2.want {
			t.Errorf("script %s/%s: %d %v, want %d", c2.comp, c2.script, code, err, c2.want)
		}
	}
	if code, _ := c.Run(ctx, "nosuch", "monitor", nil, time.Second, 0); code != ResultNoDir {
		t.Errorf("no dir: %d", code)
	}
}

// rawConn is a test client that writes arbitrary bytes.
func rawConn(t *testing.T, path string) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readReply reads one reply, failing after 20 s.
func readReply(t *testing.T, nc net.Conn) *wireReply {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	pkt, err := readPacket(nc, minReplySize, MaxReplySize)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	r, err := decodeReply(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// expectClosed checks that the server closed nc.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	if n, err := nc.Read(b[:]); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection not closed: %d bytes, %v", n, err)
	}
}

func statusReq(reqid uint32) []byte {
	return encodeRequest(&wireRequest{reqid: reqid, cmd: cmdStatus, component: str("legacy"), event: str("monitor")})
}

func TestServerStream(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.gate", `case "$1" in slow) `+gate+`;; esac`, 0o755)
	path, _ := e.serve()

	t.Run("partial packet", func(t *testing.T) {
		nc := rawConn(t, path)
		pkt := statusReq(5)
		nc.Write(pkt[:3])
		nc.Write(pkt[3:17])
		nc.Write(pkt[17:])
		if r := readReply(t, nc); r.reqid != 5 || r.result != 22 {
			t.Errorf("%+v", r)
		}
	})
	t.Run("huge length", func(t *testing.T) {
		nc := rawConn(t, path)
		nc.Write([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
		expectClosed(t, nc)
	})
	t.Run("length below a header", func(t *testing.T) {
		nc := rawConn(t, path)
		nc.Write([]byte{4, 0, 0, 0})
		expectClosed(t, nc)
	})
	t.Run("garbage after a good packet", func(t *testing.T) {
		nc := rawConn(t, path)
		garbage := make([]byte, 20)
		binary.LittleEndian.PutUint32(garbage, 20)
		binary.LittleEndian.PutUint32(garbage[12:], 77) // no such command
		nc.Write(append(statusReq(6), garbage...))
		if r := readReply(t, nc); r.reqid != 6 {
			t.Errorf("%+v", r)
		}
		expectClosed(t, nc)
	})
	t.Run("close mid-packet", func(t *testing.T) {
		nc := rawConn(t, path)
		nc.Write(statusReq(7)[:20])
		nc.Close()
	})
	t.Run("replies out of order", func(t *testing.T) {
		nc := rawConn(t, path)
		run := encodeRequest(&wireRequest{reqid: 8, cmd: cmdRun, component: str("legacy"), event: str("slow"), timeout: 60})
		nc.Write(append(run, statusReq(9)...))
		if r := readReply(t, nc); r.reqid != 9 {
			t.Errorf("first reply %+v", r)
		}
		e.waitFile("pids-slow")
		os.WriteFile(filepath.Join(e.base, "open-slow"), nil, 0o644)
		if r := readReply(t, nc); r.reqid != 8 || r.cmd != cmdRun || r.result != 0 {
			t.Errorf("second reply %+v", r)
		}
	})
	// After all that the server still answers.
	c := dial(t, path)
	if code, _, err := c.Status(context.Background(), "legacy", "slow"); err != nil || code != 0 {
		t.Errorf("server after the bad clients: %d %v", code, err)
	}
	if !e.log.has(8, "Invalid packet received, buflen=20: unknown command 77; closing the connection") {
		t.Errorf("bad packet not logged:\n%s", e.log.dump())
	}
}

func TestClientGoneEventStillStored(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.gate", gate, 0o755)
	path, _ := e.serve()
	nc := rawConn(t, path)
	nc.Write(encodeRequest(&wireRequest{reqid: 1, cmd: cmdRun, component: str("legacy"), event: str("setup"), timeout: 60}))
	e.waitFile("pids-setup")
	nc.Close()
	os.WriteFile(filepath.Join(e.base, "open-setup"), nil, 0o644)
	c := dial(t, path)
	var st *Status
	waitForStatus := func() error {
		code, s, err := c.Status(context.Background(), "legacy", "setup")
		if err != nil || code != 0 {
			return errors.New("not stored yet")
		}
		st = s
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for waitForStatus() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the event of a client that went away was not stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(st.Scripts[0].Output, "setup done") {
		t.Errorf("%+v", st)
	}
}

func TestShutdownWithRunInFlight(t *testing.T) {
	e := newTestEnv(t, nil)
	killAtCleanup(t, e, "pids-monitor")
	e.script("01.gate", gate, 0o755)
	path := filepath.Join(e.base, "eventd.socket")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(e.r, nil)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := dial(t, path)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "legacy", "monitor", nil, time.Minute, 0)
		errc <- err
	}()
	e.waitFile("pids-monitor")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrClientClosed) {
		t.Errorf("client Run: %v", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("still accepting after Shutdown")
	}
	// A second Listen on the stale socket file works.
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen on a stale socket: %v", err)
	}
	ln2.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	e := newTestEnv(t, nil)
	path, _ := e.serve()
	if _, err := Listen(path); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Listen on a live socket: %v", err)
	}
}
