package main

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strings"
	"syscall"

	"github.com/rctdb/rctdb/protocol"
)

// Addresses on the command line and in the output of the IP commands go
// through the real tool's own parser and printer (ctdb_sock_addr_from_string,
// ctdb_sock_addr_to_string), whose rules differ from Go's: brackets around
// IPv6, IPv4-mapped IPv6 turned into IPv4 only when written with a dotted
// quad, ports taken modulo 65536, glibc's inet_ntop. These helpers
// reproduce them.

// sockAddrBuf is the size of the real parser's buffers: longer input is
// refused.
const sockAddrBuf = 64

// parseIP is ip_from_string: an IPv4 dotted quad, or IPv6 (in brackets or
// not, no zone); an IPv4-mapped IPv6 address becomes IPv4 when the text
// after its last ':' is a dotted quad, and is refused otherwise.
func parseIP(s string) (protocol.SockAddr, bool) {
	last := strings.LastIndexByte(s, ':')
	if last < 0 {
		a, ok := parseIPv4(s)
		return protocol.SockAddr{Family: protocol.AFInet, Addr: a}, ok
	}
	if len(s) >= sockAddrBuf {
		return protocol.SockAddr{}, false
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
		last = strings.LastIndexByte(s, ':')
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return protocol.SockAddr{}, false
	}
	if a.Is4In6() {
		v4, ok := parseIPv4(s[last+1:])
		return protocol.SockAddr{Family: protocol.AFInet, Addr: v4}, ok
	}
	return protocol.SockAddr{Family: protocol.AFInet6, Addr: a}, true
}

// parseIPv4 is inet_pton for AF_INET: four decimal octets, no leading
// zeros.
func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// parseSockAddr is ctdb_sock_addr_from_string: an address, and with
// withPort a port after the last ':' (decimal, the whole rest, taken
// modulo 65536).
func parseSockAddr(s string, withPort bool) (protocol.SockAddr, bool) {
	if !withPort {
		return parseIP(s)
	}
	if len(s) >= sockAddrBuf {
		return protocol.SockAddr{}, false
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return protocol.SockAddr{}, false
	}
	port, errno := smbStrtoulBase(s[i+1:], 10, true)
	if errno != 0 {
		return protocol.SockAddr{}, false
	}
	a, ok := parseIP(s[:i])
	a.Port = uint16(port)
	return a, ok
}

// parseAddrMask is ctdb_sock_addr_mask_from_string: ADDRESS/BITS, the bits
// a decimal number (not checked against the family).
func parseAddrMask(s string) (protocol.SockAddr, uint32, bool) {
	if len(s) >= sockAddrBuf {
		return protocol.SockAddr{}, 0, false
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return protocol.SockAddr{}, 0, false
	}
	mask, errno := smbStrtoulBase(s[i+1:], 10, true)
	if errno != 0 {
		return protocol.SockAddr{}, 0, false
	}
	a, ok := parseIP(s[:i])
	return a, uint32(mask), ok
}

// smbStrtoulBase is Samba's smb_strtoul with the given base:
// SMB_STR_STANDARD, or with full SMB_STR_FULL_STR_CONV (nothing may follow
// the number).
func smbStrtoulBase(s string, base int, full bool) (uint64, syscall.Errno) {
	mag, neg, end, overflow := strtoull(s, base)
	switch {
	case overflow:
		return mag, syscall.ERANGE
	case end == 0:
		return 0, syscall.EINVAL
	case strings.IndexByte(s[:end], '-') >= 0:
		return 0, syscall.EINVAL
	case full && end != len(s):
		return 0, syscall.EINVAL
	}
	if neg {
		mag = -mag
	}
	return mag, 0
}

// sockAddrString is ctdb_sock_addr_to_string: the address as glibc's
// inet_ntop writes it, and with withPort ":PORT" after it (the IPv6
// address then in brackets). An unknown family prints as C's NULL does.
func sockAddrString(a protocol.SockAddr, withPort bool) string {
	var s string
	switch a.Family {
	case protocol.AFInet:
		s = a.Addr.Unmap().String()
	case protocol.AFInet6:
		s = inetNtop6(a.Addr)
		if withPort {
			s = "[" + s + "]"
		}
	default:
		return "(null)"
	}
	if withPort {
		s = fmt.Sprintf("%s:%d", s, a.Port)
	}
	return s
}

// inetNtop6 is glibc's inet_ntop for IPv6. It differs from Go in one
// case: an address whose first 96 bits are zero (and is not "::" or "::1"
// and the like) is written with a dotted quad, "::1.2.3.4".
func inetNtop6(a netip.Addr) string {
	b := a.As16()
	if bytes.Equal(b[:12], make([]byte, 12)) && (b[12] != 0 || b[13] != 0) {
		return "::" + netip.AddrFrom4([4]byte(b[12:16])).String()
	}
	return netip.AddrFrom16(b).String()
}

// sameIP is ctdb_same_ip: same family and address, ports ignored.
func sameIP(a, b protocol.SockAddr) bool {
	if a.Family != b.Family {
		return false
	}
	switch a.Family {
	case protocol.AFInet:
		return a.Addr.Unmap() == b.Addr.Unmap()
	case protocol.AFInet6:
		return a.Addr.As16() == b.Addr.As16()
	}
	return false
}

// compareSockAddr is ctdb_sock_addr_cmp, the order "ctdb ip" sorts in:
// family (IPv4 first), address bytes, then the port as the real tool
// compares it, its network-order bytes read as a host (little-endian)
// number.
func compareSockAddr(a, b protocol.SockAddr) int {
	switch {
	case a.Family < b.Family:
		return -1
	case a.Family > b.Family:
		return 1
	}
	var c int
	switch a.Family {
	case protocol.AFInet:
		x, y := a.Addr.Unmap().As4(), b.Addr.Unmap().As4()
		c = bytes.Compare(x[:], y[:])
	case protocol.AFInet6:
		x, y := a.Addr.As16(), b.Addr.As16()
		c = bytes.Compare(x[:], y[:])
	default:
		return 0
	}
	if c != 0 {
		return c
	}
	pa, pb := bits.ReverseBytes16(a.Port), bits.ReverseBytes16(b.Port)
	switch {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return 0
}

// connectionLine is the real tool's limit on one line of a connection
// list.
const connectionLine = 128

// parseConnection is ctdb_connection_from_string with the client first as
// the tool reads it: two words "SRC:PORT DST:PORT" (more are ignored), of
// the same family. The errno is the reason it is refused.
func parseConnection(line string) (protocol.Connection, syscall.Errno) {
	if len(line) >= connectionLine {
		return protocol.Connection{}, syscall.EINVAL
	}
	words := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
	if len(words) < 2 {
		return protocol.Connection{}, syscall.EINVAL
	}
	src, ok := parseSockAddr(words[0], true)
	if !ok {
		return protocol.Connection{}, syscall.EINVAL
	}
	dst, ok := parseSockAddr(words[1], true)
	if !ok || src.Family != dst.Family {
		return protocol.Connection{}, syscall.EINVAL
	}
	return protocol.Connection{Src: src, Dst: dst}, 0
}

// readConnections is ctdb_connection_list_read on standard input: lines
// end with '\n' or NUL; empty lines and lines starting with '#' are
// skipped; a last line without its end is ignored, as the real tool's
// line reader drops it. Reading stops at the first bad line, whose errno
// is returned.
func readConnections(r io.Reader) ([]protocol.Connection, syscall.Errno) {
	var conns []protocol.Connection
	var pending []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexAny(pending, "\n\x00")
			if i < 0 {
				break
			}
			line := string(pending[:i])
			pending = pending[i+1:]
			if line == "" || line[0] == '#' {
				continue
			}
			c, errno := parseConnection(line)
			if errno != 0 {
				return nil, errno
			}
			conns = append(conns, c)
		}
		if err == io.EOF {
			return conns, 0
		}
		if err != nil {
			if errno, ok := err.(syscall.Errno); ok {
				return nil, errno
			}
			return nil, syscall.EIO
		}
	}
}
