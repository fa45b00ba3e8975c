package protocol

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Address families as stored in ctdb_sock_addr.
const (
	AFInet  uint16 = 2
	AFInet6 uint16 = 10
)

// SockAddrSize is sizeof(ctdb_sock_addr): the sockaddr_in6 member of the union.
const SockAddrSize = 28

// SockAddr is ctdb_sock_addr: an IPv4 or IPv6 socket address. A zero value
// (Family 0) encodes as 28 zero bytes.
type SockAddr struct {
	Family   uint16
	Addr     netip.Addr
	Port     uint16
	FlowInfo uint32 // IPv6 only
	ScopeID  uint32 // IPv6 only
}

// SockAddrFrom converts an address and port to a SockAddr; IPv4-mapped IPv6
// addresses become IPv4, as ctdbd canonicalises them.
func SockAddrFrom(ap netip.AddrPort) SockAddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return SockAddr{Family: AFInet, Addr: a, Port: ap.Port()}
	}
	if a.Is6() {
		return SockAddr{Family: AFInet6, Addr: a, Port: ap.Port()}
	}
	return SockAddr{}
}

// AddrPort returns the address and port.
func (s SockAddr) AddrPort() netip.AddrPort { return netip.AddrPortFrom(s.Addr, s.Port) }

// String renders the address as ctdb's tool does (no port).
func (s SockAddr) String() string {
	if !s.Addr.IsValid() {
		return fmt.Sprintf("<family %d>", s.Family)
	}
	return s.Addr.String()
}

// AppendTo appends the 28-byte encoding of s to b.
func (s SockAddr) AppendTo(b []byte) []byte {
	var raw [SockAddrSize]byte
	le.PutUint16(raw[0:], s.Family)
	binary.BigEndian.PutUint16(raw[2:], s.Port)
	switch s.Family {
	case AFInet:
		a4 := s.Addr.Unmap().As4()
		copy(raw[4:8], a4[:])
	case AFInet6:
		le.PutUint32(raw[4:], s.FlowInfo)
		a16 := s.Addr.As16()
		copy(raw[8:24], a16[:])
		le.PutUint32(raw[24:], s.ScopeID)
	}
	return append(b, raw[:]...)
}

// DecodeSockAddr decodes 28 bytes strictly by family: bytes the family does
// not use are ignored (Samba leaves them uninitialised). Unknown families
// decode to a SockAddr with only Family set.
func DecodeSockAddr(b []byte) (SockAddr, error) {
	if len(b) < SockAddrSize {
		return SockAddr{}, fmt.Errorf("sock addr: %d bytes: %w", len(b), ErrShort)
	}
	s := SockAddr{Family: le.Uint16(b[0:])}
	switch s.Family {
	case AFInet:
		s.Port = binary.BigEndian.Uint16(b[2:])
		s.Addr = netip.AddrFrom4([4]byte(b[4:8]))
	case AFInet6:
		s.Port = binary.BigEndian.Uint16(b[2:])
		s.FlowInfo = le.Uint32(b[4:])
		s.Addr = netip.AddrFrom16([16]byte(b[8:24]))
		s.ScopeID = le.Uint32(b[24:])
	}
	return s, nil
}

func (d *decoder) sockAddr() SockAddr {
	if !d.need(SockAddrSize) {
		return SockAddr{}
	}
	s, _ := DecodeSockAddr(d.b[d.off:])
	d.off += SockAddrSize
	return s
}

func (e *encoder) sockAddr(s SockAddr) { e.b = s.AppendTo(e.b) }
