package linuxhost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// tickleWindow is the window of every segment CTDB forges; it also lets the
// connection killer recognise its own segments in a capture.
const tickleWindow = 1234

const (
	tcpFlagRST = 0x04
	tcpFlagACK = 0x10
)

// segment is a forged TCP segment without payload or options.
type segment struct {
	src, dst netip.AddrPort
	seq, ack uint32
	rst      bool
}

// SendTickleACK sends one TCP ACK from src to dst (seq 0, ack 0, window
// 1234, no options; IPv4 TTL 255, IPv6 hop limit 64) on a raw socket in the
// caller's network namespace, as `ctdb tickle` and CTDB's takeover do. The
// receiver of an out-of-window ACK answers with an ACK of its own; sent by
// the node that took over src's address, that answer reaches a node without
// a socket for the connection, which resets it, so the client reconnects at
// once instead of after its retransmission timeout. Needs CAP_NET_RAW.
// `ctdb tickle A B` sends from B to A: SendTickleACK(B, A).
func SendTickleACK(src, dst netip.AddrPort) error {
	s, err := checkPair(src, dst)
	if err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s: %w", src, dst, err)
	}
	fd, err := openRawIP(s.src.Addr().Is4())
	if err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s: %w", src, dst, err)
	}
	defer unix.Close(fd)
	if err := sendSegment(fd, s); err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s: %w", src, dst, err)
	}
	return nil
}

// SendTickleACK is the package's SendTickleACK sent from the Host's
// namespace.
func (h *Host) SendTickleACK(src, dst netip.AddrPort) error {
	s, err := checkPair(src, dst)
	if err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s: %w", src, dst, err)
	}
	var fd int
	err = h.inNS(func() error {
		var err error
		fd, err = openRawIP(s.src.Addr().Is4())
		return err
	})
	if err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s in %s: %w", src, dst, h.where(), err)
	}
	defer unix.Close(fd)
	if err := sendSegment(fd, s); err != nil {
		return fmt.Errorf("send tickle ACK %s -> %s in %s: %w", src, dst, h.where(), err)
	}
	return nil
}

// checkPair validates a tickle's endpoints (IPv4-mapped addresses are
// folded to IPv4) and returns the tickle segment.
func checkPair(src, dst netip.AddrPort) (segment, error) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	switch {
	case !src.Addr().IsValid() || !dst.Addr().IsValid():
		return segment{}, errors.New("invalid address")
	case src.Addr().Is4() != dst.Addr().Is4():
		return segment{}, errors.New("addresses of different families")
	case src.Addr().IsUnspecified() || dst.Addr().IsUnspecified() || dst.Addr().IsMulticast():
		return segment{}, errors.New("unspecified or multicast address")
	}
	return segment{src: src, dst: dst}, nil
}

// openRawIP opens a raw socket that sends complete IP packets (IPPROTO_RAW
// implies IP_HDRINCL, and its IPv6 counterpart, on Linux).
func openRawIP(ipv4 bool) (int, error) {
	family := unix.AF_INET6
	if ipv4 {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("open raw socket: %w", err)
	}
	return fd, nil
}

// sendSegment sends s on a raw socket from openRawIP of s's family.
func sendSegment(fd int, s segment) error {
	pkt := s.packet()
	var to unix.Sockaddr
	if s.dst.Addr().Is4() {
		to = &unix.SockaddrInet4{Addr: s.dst.Addr().As4()}
	} else {
		// The port of an IPv6 raw socket's destination must be 0 or the
		// protocol.
		to = &unix.SockaddrInet6{Addr: s.dst.Addr().As16()}
	}
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		return fmt.Errorf("sendto %s: %w", s.dst.Addr(), err)
	}
	return nil
}

// packet builds the IP packet of s. For IPv4 the kernel fills in the
// identification and header checksum (IP_HDRINCL) and the total length.
func (s segment) packet() []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:2], s.src.Port())
	binary.BigEndian.PutUint16(tcp[2:4], s.dst.Port())
	binary.BigEndian.PutUint32(tcp[4:8], s.seq)
	binary.BigEndian.PutUint32(tcp[8:12], s.ack)
	tcp[12] = 5 << 4 // data offset: 5 words, no options
	tcp[13] = tcpFlagACK
	if s.rst {
		tcp[13] |= tcpFlagRST
	}
	binary.BigEndian.PutUint16(tcp[14:16], tickleWindow)
	binary.BigEndian.PutUint16(tcp[16:18], transportChecksum(s.src.Addr(), s.dst.Addr(), unix.IPPROTO_TCP, tcp))

	if s.src.Addr().Is4() {
		pkt := make([]byte, 20+len(tcp))
		pkt[0] = 4<<4 | 5
		binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
		pkt[8] = 255 // TTL
		pkt[9] = unix.IPPROTO_TCP
		src, dst := s.src.Addr().As4(), s.dst.Addr().As4()
		copy(pkt[12:16], src[:])
		copy(pkt[16:20], dst[:])
		copy(pkt[20:], tcp)
		return pkt
	}
	pkt := make([]byte, 40+len(tcp))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:6], uint16(len(tcp)))
	pkt[6] = unix.IPPROTO_TCP
	pkt[7] = 64 // hop limit
	src, dst := s.src.Addr().As16(), s.dst.Addr().As16()
	copy(pkt[8:24], src[:])
	copy(pkt[24:40], dst[:])
	copy(pkt[40:], tcp)
	return pkt
}
