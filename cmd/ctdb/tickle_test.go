package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rctdb/rctdb/internal/netnstest"
)

// toolChildEnv makes the test binary run as our ctdb tool (see TestMain),
// so that tests can run it as a process inside a network namespace.
const toolChildEnv = "RCTDB_CTDB_TEST_AS_TOOL"

// toolProcess is a ctdb tool run as a process: ours (this test binary) or
// Debian's.
type toolProcess struct {
	name string
	path string
	env  []string
}

// tickleTools returns our tool and, when Debian's ctdb 4.17 is installed,
// the real one.
func tickleTools(t *testing.T) []toolProcess {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
	// Under -race the runtime waits a second at exit unless told not to.
	tools := []toolProcess{{"ours", self, []string{path, toolChildEnv + "=1", "GORACE=atexit_sleep_ms=0"}}}
	if out, err := exec.Command("/usr/bin/ctdb", "version").Output(); err == nil && strings.HasPrefix(string(out), "4.17.") {
		tools = append(tools, toolProcess{"real", "/usr/bin/ctdb", []string{path}})
	} else {
		t.Logf("Debian's ctdb 4.17 is not installed (%v): checking ours only", err)
	}
	return tools
}

// runIn runs the tool inside network namespace ns, behind the wrapper
// command wrap (if any).
func (p toolProcess) runIn(ns string, wrap []string, stdin string, args ...string) runResult {
	argv := append([]string{"netns", "exec", ns}, wrap...)
	argv = append(append(argv, p.path), args...)
	cmd := exec.Command("ip", argv...)
	cmd.Env = p.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		rc = ee.ExitCode()
	case err != nil:
		return runResult{stderr: fmt.Sprintf("run %s: %v", p.path, err), rc: -1}
	}
	return runResult{out.String(), errb.String(), rc}
}

const tickleUsage = "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]\n" +
	"        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]\n" +
	"        [-X] [-v|--verbose] [-T|--maxruntime=INT]\n\n" +
	"Commands:\n" +
	"  tickle          <srcip:port> <dstip:port>    send a tcp tickle ack\n"

// TestTickleMessages runs every outcome of `ctdb tickle` but a delivered
// tickle, with both tools, inside a node namespace of a rig (which has no
// default route: nothing leaves it), and expects what Debian's ctdb 4.17
// prints and returns.
func TestTickleMessages(t *testing.T) {
	tools := tickleTools(t)
	r := netnstest.New(t, 1)
	ns := r.NodeNS(0)
	self := r.PrivateAddr(0).String()
	noRaw := []string{"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"}
	unreachable := "Failed sendto (Network is unreachable)\n"
	cases := []struct {
		name     string
		wrap     []string
		stdin    string
		args     []string
		want     runResult
		oursOnly bool
	}{
		{name: "empty list", args: []string{"tickle"}},
		{name: "comments only", stdin: "# nothing\n\n", args: []string{"tickle"}},
		{name: "sent", args: []string{"tickle", self + ":1", self + ":2"}},
		{name: "sent IPv6 in brackets", args: []string{"tickle", "[::1]:1", "[::1]:2"}},
		{name: "one argument", args: []string{"tickle", self + ":1"}, want: runResult{stdout: tickleUsage, rc: 1}},
		{name: "three arguments", args: []string{"tickle", "a", "b", "c"}, want: runResult{stdout: tickleUsage, rc: 1}},
		{name: "bad first", args: []string{"tickle", "bad", "x"}, want: runResult{stderr: "Invalid IP address bad\n", rc: 1}},
		{name: "no port", args: []string{"tickle", self, self + ":2"},
			want: runResult{stderr: "Invalid IP address " + self + "\n", rc: 1}},
		{name: "bad second port", args: []string{"tickle", self + ":1", self + ":-1"},
			want: runResult{stderr: "Invalid IP address " + self + ":-1\n", rc: 1}},
		{name: "node given", args: []string{"-n", "0", "tickle", self + ":1", self + ":2"},
			want: runResult{stderr: "Cannot specify node for command tickle\n", rc: 1}},
		{name: "unreachable", args: []string{"tickle", "192.0.2.1:1", self + ":2"},
			want: runResult{stderr: unreachable + "Failed to send tickle ack\n", rc: 1}},
		{name: "unreachable IPv6", args: []string{"tickle", "2001:db8::1:1", "::1:2"},
			want: runResult{stderr: unreachable + "Failed to send tickle ack\n", rc: 1}},
		{name: "IPv4 to IPv6", args: []string{"tickle", self + ":1", "::1:2"},
			want: runResult{stderr: "Failed sendto (Address family not supported by protocol)\nFailed to send tickle ack\n", rc: 1}},
		{name: "IPv6 to IPv4", args: []string{"tickle", "::1:1", self + ":2"},
			want: runResult{stderr: "Failed sendto (Address family not supported by protocol)\nFailed to send tickle ack\n", rc: 1}},
		{name: "no CAP_NET_RAW", wrap: noRaw, args: []string{"tickle", self + ":1", self + ":2"},
			want: runResult{stderr: "ctdb_sys_send_tcp: Failed to open raw socket (Operation not permitted)\nFailed to send tickle ack\n", rc: 1}},
		{name: "no CAP_NET_RAW IPv6", wrap: noRaw, args: []string{"tickle", "::1:1", "::1:2"},
			want: runResult{stderr: "ctdb_sys_send_tcp: Failed to open sending socket\nFailed to send tickle ack\n", rc: 1}},
		{name: "list", args: []string{"tickle"},
			stdin: "# comment\n\n" + self + ":1 " + self + ":2\n192.0.2.1:1 " + self + ":3\n::1:1\t::1:2\n2001:db8::1:1 ::1:3\n",
			want:  runResult{stderr: unreachable + unreachable + "Failed to send 2 tickles\n", rc: 1}},
		{name: "list without the last newline", args: []string{"tickle"}, stdin: "192.0.2.1:1 " + self + ":3"},
		{name: "list with a bad line", args: []string{"tickle"}, stdin: "192.0.2.1:1 " + self + ":3\nbad\n",
			want: runResult{rc: int(syscall.EINVAL)}},
		{name: "list mixing families", args: []string{"tickle"}, stdin: self + ":1 ::1:2\n",
			want: runResult{rc: int(syscall.EINVAL)}},
		{name: "json", args: []string{"--json", "tickle", self + ":1", self + ":2"}, oursOnly: true,
			want: runResult{stdout: "{\n  \"command\": \"tickle\",\n  \"sent\": 1\n}\n"}},
		{name: "json list", args: []string{"--json", "tickle"}, oursOnly: true,
			stdin: self + ":1 " + self + ":2\n[::1]:1 [::1]:2\n",
			want:  runResult{stdout: "{\n  \"command\": \"tickle\",\n  \"sent\": 2\n}\n"}},
	}
	for _, c := range cases {
		for _, tool := range tools {
			if c.oursOnly && tool.name != "ours" {
				continue
			}
			if got := tool.runIn(ns, c.wrap, c.stdin, c.args...); got != c.want {
				t.Errorf("%s: %s tool %q:\ngot  %q %q rc %d\nwant %q %q rc %d", c.name, tool.name, c.args,
					got.stdout, got.stderr, got.rc, c.want.stdout, c.want.stderr, c.want.rc)
			}
		}
	}
}

// TestTickleResetsClientOfMovedAddress is the tickle's purpose: a client
// sits idle on connections to a public address, the address moves to
// another node, and each tool, run in the new holder's namespace, tickles
// one connection (`tickle CLIENT:PORT PUBLIC:PORT`, and the same from
// standard input). The client answers the tickle with an ACK, the new
// holder (no socket) answers that with a RST, and the client's read fails
// at once. Both tools' tickle segments are the same bytes, and a connection
// nobody tickled stays open.
func TestTickleResetsClientOfMovedAddress(t *testing.T) {
	tools := tickleTools(t)
	r := netnstest.New(t, 2)
	for i, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		t.Run(map[bool]string{true: "IPv4", false: "IPv6"}[p.Addr().Is4()], func(t *testing.T) {
			public := netip.AddrPortFrom(p.Addr(), uint16(7300+i))
			ipAddr(t, r, 0, "add", p)
			listenIdle(t, r, 0, public)

			type tickled struct {
				tool  toolProcess
				list  bool // the standard-input form
				conn  *net.TCPConn
				ended <-chan error
			}
			var conns []tickled
			for _, tool := range tools {
				for _, list := range []bool{false, true} {
					c := dialIdle(t, r, public)
					conns = append(conns, tickled{tool, list, c, readUntilFails(t, c)})
				}
			}
			untouched := dialIdle(t, r, public)
			untouchedEnded := readUntilFails(t, untouched)

			ipAddr(t, r, 0, "del", p)
			ipAddr(t, r, 1, "add", p)
			if out, err := r.ClientCommand("ip", "neigh", "flush", "to", p.Addr().String()).CombinedOutput(); err != nil {
				t.Fatalf("flush the client's neighbour entry: %v: %s", err, out)
			}

			// From here on the client's own traffic is the exchange of
			// each tickle.
			capture := openClientCapture(t, r)
			var first []byte
			for _, c := range conns {
				client := netip.MustParseAddrPort(c.conn.LocalAddr().String())
				client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
				args, stdin := []string{"tickle", client.String(), public.String()}, ""
				what := c.tool.name + " tool"
				if c.list {
					args, stdin = []string{"tickle"}, client.String()+" "+public.String()+"\n"
					what += ", list on standard input"
				}
				select {
				case err := <-c.ended:
					t.Fatalf("%s: connection ended before its tickle: %v", what, err)
				default:
				}
				start := time.Now()
				if got := c.tool.runIn(r.NodeNS(1), nil, stdin, args...); got != (runResult{}) {
					t.Fatalf("%s: %q: %+v", what, args, got)
				}
				select {
				case err := <-c.ended:
					if !errors.Is(err, syscall.ECONNRESET) {
						t.Fatalf("%s: tickled connection ended with %v, want a reset", what, err)
					}
					t.Logf("%s: client reset %v after the tool started", what, time.Since(start).Round(time.Millisecond))
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: tickled client not reset", what)
				}

				// The exchange as the client saw it.
				tickle := capture.next(t, what+": tickle", func(s tcpSegment) bool {
					return s.src == public && s.dst == client && s.flags&tcpFlagRST == 0
				})
				wantTTL := map[bool]uint8{true: 255, false: 64}[p.Addr().Is4()]
				if tickle.seq != 0 || tickle.ack != 0 || tickle.flags != tcpFlagACK || tickle.window != 1234 || tickle.ttl != wantTTL {
					t.Errorf("%s: tickle seq %d ack %d flags %#x window %d ttl %d", what,
						tickle.seq, tickle.ack, tickle.flags, tickle.window, tickle.ttl)
				}
				answer := capture.next(t, what+": client's ACK", func(s tcpSegment) bool { return s.src == client && s.dst == public })
				if answer.flags&tcpFlagACK == 0 || answer.flags&tcpFlagRST != 0 {
					t.Errorf("%s: client answered with flags %#x", what, answer.flags)
				}
				rst := capture.next(t, what+": RST of the new holder", func(s tcpSegment) bool { return s.src == public && s.dst == client })
				if rst.flags&tcpFlagRST == 0 || rst.seq != answer.ack {
					t.Errorf("%s: new holder's answer flags %#x seq %d (client acked %d)", what, rst.flags, rst.seq, answer.ack)
				}
				if first == nil {
					first = tickle.normalised()
				} else if n := tickle.normalised(); !bytes.Equal(n, first) {
					t.Errorf("%s: tickle frame (ports, checksums, IPv4 id zeroed)\n%x\nthe first tool's\n%x", what, n, first)
				}
			}
			select {
			case err := <-untouchedEnded:
				t.Errorf("a connection nobody tickled ended: %v", err)
			default:
			}
		})
	}
}

// ipAddr adds or deletes p on node k's interface.
func ipAddr(t *testing.T, r *netnstest.Rig, k int, op string, p netip.Prefix) {
	t.Helper()
	args := []string{"addr", op, p.String(), "dev", r.Iface()}
	if op == "add" && p.Addr().Is6() {
		args = append(args, "nodad")
	}
	if out, err := r.Command(k, "ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v in node %d: %v: %s", args, k, err, out)
	}
}

// listenIdle accepts connections on addr in node k and keeps them open,
// silent, until the test ends.
func listenIdle(t *testing.T, r *netnstest.Rig, k int, addr netip.AddrPort) {
	t.Helper()
	ln, err := r.ListenTCP(k, addr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			c.SetKeepAlive(false)
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})
}

// dialIdle connects from the client's namespace to addr. Keepalives are
// off: a probe would reach the new holder and reset the connection without
// any tickle.
func dialIdle(t *testing.T, r *netnstest.Rig, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := r.DialTCP(addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetKeepAlive(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntilFails reads c in the background and reports the error that
// ended the reading; the reader stops when the test closes c.
func readUntilFails(t *testing.T, c net.Conn) <-chan error {
	ch := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				ch <- err
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return ch
}

const (
	tcpFlagRST = 0x04
	tcpFlagACK = 0x10
)

// tcpSegment is a TCP segment in a captured Ethernet frame.
type tcpSegment struct {
	src, dst   netip.AddrPort
	seq, ack   uint32
	flags      uint8
	window     uint16
	ttl        uint8 // TTL or hop limit
	frame      []byte
	ipOff, tcp int // offsets of the IP and TCP headers in frame
}

func parseTCPSegment(f []byte) (tcpSegment, bool) {
	s := tcpSegment{frame: f, ipOff: 14}
	if len(f) < 14 {
		return s, false
	}
	ip := f[14:]
	switch binary.BigEndian.Uint16(f[12:14]) {
	case unix.ETH_P_IP:
		if len(ip) < 20 || ip[9] != unix.IPPROTO_TCP {
			return s, false
		}
		s.tcp = 14 + int(ip[0]&0xf)*4
		s.ttl = ip[8]
		s.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), 0)
	case unix.ETH_P_IPV6:
		if len(ip) < 40 || ip[6] != unix.IPPROTO_TCP {
			return s, false
		}
		s.tcp = 14 + 40
		s.ttl = ip[7]
		s.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[8:24])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[24:40])), 0)
	default:
		return s, false
	}
	if len(f) < s.tcp+20 {
		return s, false
	}
	tcp := f[s.tcp:]
	s.src = netip.AddrPortFrom(s.src.Addr(), binary.BigEndian.Uint16(tcp[0:2]))
	s.dst = netip.AddrPortFrom(s.dst.Addr(), binary.BigEndian.Uint16(tcp[2:4]))
	s.seq, s.ack = binary.BigEndian.Uint32(tcp[4:8]), binary.BigEndian.Uint32(tcp[8:12])
	s.flags, s.window = tcp[13], binary.BigEndian.Uint16(tcp[14:16])
	return s, true
}

// normalised is the frame with what differs between two tickles of the
// same connection pair zeroed: the client's port, the checksums and the
// IPv4 identification (which the kernel picks).
func (s tcpSegment) normalised() []byte {
	f := append([]byte(nil), s.frame...)
	if f[12] == 0x08 && f[13] == 0x00 {
		clear(f[s.ipOff+4 : s.ipOff+6])   // identification
		clear(f[s.ipOff+10 : s.ipOff+12]) // header checksum
	}
	clear(f[s.tcp+2 : s.tcp+4])   // destination port: the client's
	clear(f[s.tcp+16 : s.tcp+18]) // checksum
	return f
}

// clientCapture is a packet socket on the client's interface.
type clientCapture struct{ f *os.File }

func openClientCapture(t *testing.T, r *netnstest.Rig) *clientCapture {
	t.Helper()
	var c clientCapture
	proto := uint16(unix.ETH_P_ALL)<<8 | uint16(unix.ETH_P_ALL)>>8 // network order
	err := r.InClient(func() error {
		ifi, err := net.InterfaceByName(r.Iface())
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.f = os.NewFile(uintptr(fd), "capture")
		return nil
	})
	if err != nil {
		t.Fatalf("open a capture in the client's namespace: %v", err)
	}
	t.Cleanup(func() { c.f.Close() })
	return &c
}

// next returns the next captured TCP segment match accepts.
func (c *clientCapture) next(t *testing.T, what string, match func(tcpSegment) bool) tcpSegment {
	t.Helper()
	if err := c.f.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, err := c.f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no %s captured", what)
		}
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := parseTCPSegment(append([]byte(nil), buf[:n]...)); ok && match(s) {
			return s
		}
	}
}

// TestTickleFailureLines checks the messages of failed sends that the
// namespace tests cannot provoke.
func TestTickleFailureLines(t *testing.T) {
	v4, v6 := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fd00::1]:1")
	cases := []struct {
		from netip.AddrPort
		err  error
		want string
	}{
		{v4, fmt.Errorf("send tickle ACK: sendto 10.0.0.2: %w", syscall.EACCES), "Failed sendto (Permission denied)\n"},
		{v6, fmt.Errorf("send tickle ACK: sendto fd00::2: %w", syscall.EHOSTUNREACH), "Failed sendto (No route to host)\n"},
		{v4, fmt.Errorf("send tickle ACK: open raw socket: %w", syscall.EMFILE), "ctdb_sys_send_tcp: Failed to open raw socket (Too many open files)\n"},
		{v6, fmt.Errorf("send tickle ACK: open raw socket: %w", syscall.EAFNOSUPPORT), "ctdb_sys_send_tcp: Failed to open sending socket\n"},
		{v4, errors.New("send tickle ACK: unspecified or multicast address"), "send tickle ACK: unspecified or multicast address\n"},
	}
	for _, c := range cases {
		if got := tickleFailure(c.from, c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
	if got := strerror(syscall.Errno(4000)); got != "Unknown error 4000" {
		t.Errorf("unknown errno: %q", got)
	}
}
