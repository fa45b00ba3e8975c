package linuxhost_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/netnstest"
	"golang.org/x/sys/unix"
)

// testLog writes a Host's log into the test's output.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newHost(t *testing.T, r *netnstest.Rig, k int) *linuxhost.Host {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := linuxhost.New(linuxhost.Options{Netns: r.NodeNSPath(k), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	return h
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// addrsOf returns the addresses Host reports on iface, by prefix.
func addrsOf(t *testing.T, h *linuxhost.Host, iface string) map[netip.Prefix]linuxhost.Address {
	t.Helper()
	all, err := h.Addresses([]string{iface})
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Prefix]linuxhost.Address{}
	for _, a := range all[iface] {
		out[a.Prefix] = a
	}
	return out
}

// ipOut runs ip in node k's namespace and returns its output.
func ipOut(t *testing.T, r *netnstest.Rig, k int, args ...string) string {
	t.Helper()
	out, err := r.Command(k, "ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v in node %d: %v: %s", args, k, err, out)
	}
	return string(out)
}

// clientNeighMAC is the client's neighbour-table MAC for ip ("" if none).
func clientNeighMAC(t *testing.T, r *netnstest.Rig, ip netip.Addr) string {
	t.Helper()
	out, err := r.ClientCommand("ip", "neigh", "show", "to", ip.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ip neigh in client: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// server accepts connections and echoes what it reads; it hands every
// accepted connection to the test, with how its reading ended.
type server struct {
	ln    *net.TCPListener
	conns chan serverConn
}

type serverConn struct {
	*net.TCPConn
	// ended receives the error that ended the echo loop's reading.
	ended <-chan readResult
}

func serve(t *testing.T, r *netnstest.Rig, k int, addr netip.AddrPort) *server {
	t.Helper()
	ln, err := r.ListenTCP(k, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: make(chan serverConn, 16)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			ended := make(chan readResult, 1)
			s.conns <- serverConn{TCPConn: c, ended: ended}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						ended <- readResult{err: err, at: time.Now()}
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						ended <- readResult{err: err, at: time.Now()}
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for drained := false; !drained; {
			select {
			case c := <-s.conns:
				c.Close()
			default:
				drained = true
			}
		}
		wg.Wait()
	})
	return s
}

// accepted returns the next connection the server accepted.
func (s *server) accepted(t *testing.T) serverConn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("server accepted nothing")
		return serverConn{}
	}
}

// dial connects from the client and checks the connection echoes.
func dial(t *testing.T, r *netnstest.Rig, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := r.DialTCP(addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	echo(t, c, "hello")
	return c
}

func echo(t *testing.T, c *net.TCPConn, msg string) {
	t.Helper()
	if err := tryEcho(c, msg); err != nil {
		t.Fatal(err)
	}
}

func tryEcho(c *net.TCPConn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("echo write: %w", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("echo read: %w", err)
	}
	if string(buf) != msg {
		return fmt.Errorf("echo %q, want %q", buf, msg)
	}
	return nil
}

// readResult is how a blocked Read ended.
type readResult struct {
	err error
	at  time.Time
}

// readUntilError reads c in the background until it fails.
func readUntilError(c net.Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				ch <- readResult{err: err, at: time.Now()}
				return
			}
		}
	}()
	return ch
}

// capture is a packet socket on the client's interface that sees every
// frame the client sends and receives.
type capture struct{ f *os.File }

func openCapture(t *testing.T, r *netnstest.Rig) *capture {
	t.Helper()
	var c capture
	err := r.InClient(func() error {
		ifi, err := net.InterfaceByName(r.Iface())
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.f = os.NewFile(uintptr(fd), "capture")
		return nil
	})
	if err != nil {
		t.Fatalf("open capture in client: %v", err)
	}
	t.Cleanup(func() { c.f.Close() })
	return &c
}

// next returns the next frame for which match is true.
func (c *capture) next(t *testing.T, what string, match func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 2048)
	for {
		if err := c.f.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := c.f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no %s captured", what)
		}
		if err != nil {
			t.Fatal(err)
		}
		if match(buf[:n]) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// addrMonitor runs `ip monitor address` in a node namespace.
type addrMonitor struct {
	lines chan string
}

func monitorAddrs(t *testing.T, r *netnstest.Rig, k int) *addrMonitor {
	t.Helper()
	cmd := exec.Command("ip", "-n", r.NodeNS(k), "-o", "monitor", "address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &addrMonitor{lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.lines <- sc.Text()
		}
		close(m.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return m
}

// ready adds marker addresses to iface in node k until the monitor shows
// one: `ip monitor` prints nothing when it has subscribed, and events before
// that are lost. It returns the markers added (the caller deletes them).
func (m *addrMonitor) ready(t *testing.T, r *netnstest.Rig, k int, markers []netip.Prefix) []netip.Prefix {
	t.Helper()
	for i, mk := range markers {
		ipOut(t, r, k, "addr", "add", mk.String(), "dev", r.Iface())
		timeout := time.After(200 * time.Millisecond)
		for {
			select {
			case l, ok := <-m.lines:
				if !ok {
					t.Fatal("ip monitor ended")
				}
				if strings.Contains(l, mk.Addr().String()+"/") {
					return markers[:i+1]
				}
				continue
			case <-timeout:
			}
			break
		}
	}
	t.Fatalf("ip monitor showed none of %v", markers)
	return nil
}

// until returns the lines seen before the first one containing all of
// markers.
func (m *addrMonitor) until(t *testing.T, markers ...string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-m.lines:
			if !ok {
				t.Fatalf("ip monitor ended before %q", markers)
			}
			all := true
			for _, mk := range markers {
				all = all && strings.Contains(l, mk)
			}
			if all {
				return seen
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("ip monitor never showed %q; saw %q", markers, seen)
		}
	}
}
