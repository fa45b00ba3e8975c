package main

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/rctdb/rctdb/protocol"
)

func TestParseSockAddr(t *testing.T) {
	v4 := func(s string, port uint16) protocol.SockAddr {
		return protocol.SockAddr{Family: protocol.AFInet, Addr: netip.MustParseAddr(s), Port: port}
	}
	v6 := func(s string, port uint16) protocol.SockAddr {
		return protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr(s), Port: port}
	}
	for _, c := range []struct {
		in       string
		withPort bool
		want     protocol.SockAddr
		ok       bool
	}{
		{"10.1.2.3", false, v4("10.1.2.3", 0), true},
		{"fd00::1", false, v6("fd00::1", 0), true},
		{"[fd00::1]", false, v6("fd00::1", 0), true},
		{"::ffff:10.1.2.3", false, v4("10.1.2.3", 0), true},
		{"[::ffff:10.1.2.3]", false, v4("10.1.2.3", 0), true},
		// inet_pton accepts the hex form, but the tool reparses the text
		// after the last ':' as IPv4.
		{"::ffff:a01:203", false, protocol.SockAddr{}, false},
		{"010.1.2.3", false, protocol.SockAddr{}, false},
		{"10.1.2", false, protocol.SockAddr{}, false},
		{"fe80::1%eth0", false, protocol.SockAddr{}, false},
		{"[10.1.2.3]", false, protocol.SockAddr{}, false},
		{"", false, protocol.SockAddr{}, false},
		{"10.1.2.3:445", true, v4("10.1.2.3", 445), true},
		{"10.1.2.3:70000", true, v4("10.1.2.3", 70000-65536), true},
		{"10.1.2.3: 7", true, v4("10.1.2.3", 7), true},
		{"10.1.2.3:+7", true, v4("10.1.2.3", 7), true},
		{"[fd00::1]:5", true, v6("fd00::1", 5), true},
		{"fd00::1:5", true, v6("fd00::1", 5), true},
		{"10.1.2.3", true, protocol.SockAddr{}, false},
		{"10.1.2.3:", true, protocol.SockAddr{}, false},
		{"10.1.2.3:0x10", true, protocol.SockAddr{}, false},
		{"10.1.2.3:-5", true, protocol.SockAddr{}, false},
		{"10.1.2.3:99999999999999999999", true, protocol.SockAddr{}, false},
		{"[fd00::1]:" + strings.Repeat("0", 60), true, protocol.SockAddr{}, false},
	} {
		got, ok := parseSockAddr(c.in, c.withPort)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseSockAddr(%q, %v) = %+v, %v; want %+v, %v", c.in, c.withPort, got, ok, c.want, c.ok)
		}
	}
}

func TestParseAddrMask(t *testing.T) {
	for _, c := range []struct {
		in   string
		addr string
		mask uint32
		ok   bool
	}{
		{"10.1.2.3/24", "10.1.2.3", 24, true},
		{"fd00::4/64", "fd00::4", 64, true},
		{"10.1.2.3/99", "10.1.2.3", 99, true}, // not checked by the tool
		{"10.1.2.3/4294967297", "10.1.2.3", 1, true},
		{"10.1.2.3", "", 0, false},
		{"10.1.2.3/", "", 0, false},
		{"10.1.2.3/x", "", 0, false},
		{"10.1.2.3/-1", "", 0, false},
		{"10.1.2.3/24x", "", 0, false},
		{"bad/24", "", 0, false},
	} {
		a, mask, ok := parseAddrMask(c.in)
		if ok != c.ok || (ok && (a.Addr != netip.MustParseAddr(c.addr) || mask != c.mask)) {
			t.Errorf("parseAddrMask(%q) = %v %d %v", c.in, a, mask, ok)
		}
	}
}

func TestSockAddrString(t *testing.T) {
	for _, c := range []struct {
		a        protocol.SockAddr
		withPort bool
		want     string
	}{
		{mustSockAddr("10.1.2.3"), false, "10.1.2.3"},
		{protocol.SockAddr{Family: protocol.AFInet, Addr: netip.MustParseAddr("10.1.2.3"), Port: 445}, true, "10.1.2.3:445"},
		{mustSockAddr("fd00:0:0::1"), false, "fd00::1"},
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("fd00::1"), Port: 5}, true, "[fd00::1]:5"},
		// glibc writes IPv4-compatible and IPv4-mapped addresses with a
		// dotted quad.
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("::102:304")}, false, "::1.2.3.4"},
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("::ffff:102:304")}, false, "::ffff:1.2.3.4"},
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("::1")}, false, "::1"},
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("1:0:1:0:1:0:1:0")}, false, "1:0:1:0:1:0:1:0"},
		{protocol.SockAddr{Family: protocol.AFInet6, Addr: netip.MustParseAddr("1:0:0:1:0:0:1:1")}, false, "1::1:0:0:1:1"},
		{protocol.SockAddr{Family: 7}, false, "(null)"},
	} {
		if got := sockAddrString(c.a, c.withPort); got != c.want {
			t.Errorf("sockAddrString(%v, %v) = %q, want %q", c.a, c.withPort, got, c.want)
		}
	}
}

func TestCompareSockAddr(t *testing.T) {
	port := func(s string, p uint16) protocol.SockAddr {
		a := mustSockAddr(s)
		a.Port = p
		return a
	}
	// IPv4 first, by address bytes; the port as the tool compares it:
	// its network-order bytes read as a little-endian number, so 256
	// (bytes 01 00) sorts before 1 (00 01).
	l := []protocol.SockAddr{
		mustSockAddr("fd00::1"), port("10.0.0.2", 1), mustSockAddr("10.0.0.10"),
		port("10.0.0.2", 256), mustSockAddr("::1"), mustSockAddr("9.255.255.255"),
	}
	slices.SortFunc(l, compareSockAddr)
	var got []string
	for _, a := range l {
		got = append(got, sockAddrString(a, true))
	}
	want := []string{"9.255.255.255:0", "10.0.0.2:256", "10.0.0.2:1", "10.0.0.10:0", "[::1]:0", "[fd00::1]:0"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
}

func TestReadConnections(t *testing.T) {
	conn := func(src, dst string) protocol.Connection {
		s, _ := parseSockAddr(src, true)
		d, _ := parseSockAddr(dst, true)
		return protocol.Connection{Src: s, Dst: d}
	}
	for _, c := range []struct {
		name  string
		in    string
		want  []protocol.Connection
		errno syscall.Errno
	}{
		{"two lines", "1.1.1.1:1 2.2.2.2:445\n3.3.3.3:3\t2.2.2.2:139 extra words\n",
			[]protocol.Connection{conn("1.1.1.1:1", "2.2.2.2:445"), conn("3.3.3.3:3", "2.2.2.2:139")}, 0},
		{"comments and empty lines", "# x\n\n1.1.1.1:1 2.2.2.2:445\n", []protocol.Connection{conn("1.1.1.1:1", "2.2.2.2:445")}, 0},
		{"NUL ends a line", "1.1.1.1:1 2.2.2.2:445\x003.3.3.3:3 2.2.2.2:445\n",
			[]protocol.Connection{conn("1.1.1.1:1", "2.2.2.2:445"), conn("3.3.3.3:3", "2.2.2.2:445")}, 0},
		{"last line without end is dropped", "1.1.1.1:1 2.2.2.2:445\n3.3.3.3:3 2.2.2.2:445",
			[]protocol.Connection{conn("1.1.1.1:1", "2.2.2.2:445")}, 0},
		{"bad line", "1.1.1.1:1 2.2.2.2:445\nbad\n", nil, syscall.EINVAL},
		{"blank line", " \n", nil, syscall.EINVAL},
		{"one word", "1.1.1.1:1\n", nil, syscall.EINVAL},
		{"mixed families", "1.1.1.1:1 [fd00::1]:445\n", nil, syscall.EINVAL},
		{"long line", "1.1.1.1:1 2.2.2.2:445 " + strings.Repeat("x", 110) + "\n", nil, syscall.EINVAL},
		{"empty", "", nil, 0},
	} {
		for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
			got, errno := readConnections(r)
			if errno != c.errno || !slices.Equal(got, c.want) {
				t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, errno, c.want, c.errno)
			}
		}
	}
	// Reading stops at the first bad line: the rest is not read.
	r := io.MultiReader(strings.NewReader("bad\n"), iotest.ErrReader(errors.New("read too far")))
	if _, errno := readConnections(r); errno != syscall.EINVAL {
		t.Errorf("bad first line: %v", errno)
	}
}
