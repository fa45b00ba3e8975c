package linuxhost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The inet_diag (sock_diag) messages, from linux/inet_diag.h. The library
// netlink package can destroy only IPv4 sockets and opens its diag socket in
// the caller's namespace, so KillConnections speaks the protocol itself.
const (
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagReqIDOff = 8  // offset of the inet_diag_sockid in a request
	inetDiagMsgIDOff = 4  // and in a dumped message
	diagRecvTimeout  = 5 * time.Second
)

// TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpClosing     = 11
)

// connectedStates are the states in which the peer still holds the
// connection; a listener, TIME_WAIT or a half-open request is not killed.
const connectedStates = 1<<tcpEstablished | 1<<tcpSynRecv | 1<<tcpFinWait1 | 1<<tcpFinWait2 |
	1<<tcpCloseWait | 1<<tcpLastAck | 1<<tcpClosing

// tcpConn is one TCP socket from a dump. family is the socket's (an
// IPv4-mapped IPv6 socket of a dual-stack listener is AF_INET6); the
// addresses are as on the wire (unmapped).
type tcpConn struct {
	family        uint8
	state         uint8
	local, remote netip.AddrPort
	id            [48]byte // inet_diag_sockid as dumped, cookie included
}

var diagSeq atomic.Uint32

// diagSocket is a sock_diag netlink socket in the managed namespace, used
// by one goroutine at a time.
type diagSocket struct {
	fd  int
	buf []byte
}

func (h *Host) openDiag() (*diagSocket, error) {
	var fd int
	err := h.inNS(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open sock_diag socket in %s: %w", h.where(), err)
	}
	tv := unix.NsecToTimeval(diagRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set sock_diag receive timeout: %w", err)
	}
	return &diagSocket{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (d *diagSocket) close() { unix.Close(d.fd) }

// request builds a netlink message carrying an inet_diag_req_v2.
func diagRequest(typ, flags uint16, seq uint32, family uint8, states uint32, id *[48]byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags|unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	r := b[unix.NLMSG_HDRLEN:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:8], states)
	if id != nil {
		copy(r[inetDiagReqIDOff:], id[:])
	}
	return b
}

// dumpTCP lists the TCP sockets of family in the given states.
func (d *diagSocket) dumpTCP(family uint8, states uint32) ([]tcpConn, error) {
	seq := diagSeq.Add(1)
	req := diagRequest(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP, seq, family, states, nil)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send dump request: %w", err)
	}
	var out []tcpConn
	for {
		msgs, err := d.receive()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("dump: %w", netlinkError(m.Data))
			case unix.SOCK_DIAG_BY_FAMILY:
				if c, ok := parseDiagMsg(m.Data); ok {
					out = append(out, c)
				}
			}
		}
	}
}

// destroy asks the kernel to abort the socket c (SOCK_DESTROY): it sends a
// RST to the peer and reports ECONNABORTED to the local owner. The dumped
// cookie makes sure only that socket is hit, never a newer one with the
// same addresses.
func (d *diagSocket) destroy(c tcpConn) error {
	seq := diagSeq.Add(1)
	req := diagRequest(unix.SOCK_DESTROY, unix.NLM_F_ACK, seq, c.family, connectedStates, &c.id)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send destroy request: %w", err)
	}
	for {
		msgs, err := d.receive()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq == seq && m.Header.Type == unix.NLMSG_ERROR {
				return netlinkError(m.Data)
			}
		}
	}
}

func (d *diagSocket) receive() ([]syscall.NetlinkMessage, error) {
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(d.buf[:n])
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		return msgs, nil
	}
}

// netlinkError decodes an NLMSG_ERROR payload: 0 is an acknowledgement.
func netlinkError(data []byte) error {
	if len(data) < 4 {
		return errors.New("short netlink error message")
	}
	if code := int32(binary.NativeEndian.Uint32(data[0:4])); code != 0 {
		return syscall.Errno(-code)
	}
	return nil
}

func parseDiagMsg(b []byte) (tcpConn, bool) {
	if len(b) < inetDiagMsgLen {
		return tcpConn{}, false
	}
	c := tcpConn{family: b[0], state: b[1]}
	copy(c.id[:], b[inetDiagMsgIDOff:inetDiagMsgIDOff+48])
	sport := binary.BigEndian.Uint16(c.id[0:2])
	dport := binary.BigEndian.Uint16(c.id[2:4])
	var src, dst netip.Addr
	switch c.family {
	case unix.AF_INET:
		src = netip.AddrFrom4([4]byte(c.id[4:8]))
		dst = netip.AddrFrom4([4]byte(c.id[20:24]))
	case unix.AF_INET6:
		src = netip.AddrFrom16([16]byte(c.id[4:20])).Unmap()
		dst = netip.AddrFrom16([16]byte(c.id[20:36])).Unmap()
	default:
		return tcpConn{}, false
	}
	c.local = netip.AddrPortFrom(src, sport)
	c.remote = netip.AddrPortFrom(dst, dport)
	return c, true
}

// connectionsOf lists the connected TCP sockets whose local address is
// addr, including IPv4 connections accepted by dual-stack IPv6 listeners.
func (d *diagSocket) connectionsOf(addr netip.Addr) ([]tcpConn, error) {
	families := []uint8{unix.AF_INET6}
	if addr.Is4() {
		families = []uint8{unix.AF_INET, unix.AF_INET6}
	}
	var out []tcpConn
	for _, f := range families {
		conns, err := d.dumpTCP(f, connectedStates)
		if err != nil {
			return nil, err
		}
		for _, c := range conns {
			if c.local.Addr() == addr {
				out = append(out, c)
			}
		}
	}
	return out, nil
}
