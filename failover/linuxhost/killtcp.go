package linuxhost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The tickle-and-reset fallback works in rounds like ctdb_killtcp.
const (
	killRounds        = 50
	killRoundInterval = 100 * time.Millisecond
	killBatch         = 300
)

// KillConnections resets every connected TCP socket whose local address is
// addr (this node is releasing addr): ESTABLISHED, and the closing states in
// which the peer still holds the connection (FIN_WAIT, CLOSE_WAIT, LAST_ACK,
// CLOSING, SYN_RECV); IPv4 connections of dual-stack IPv6 listeners count.
// Listeners are left alone. It finds them with sock_diag and destroys them
// (SOCK_DESTROY: the local owner gets ECONNABORTED, the peer a RST). On a
// kernel without CONFIG_INET_DIAG_DESTROY it does what ctdb_killtcp does:
// it sends tickle ACKs, captures the ACKs they provoke on a packet socket
// and answers each with a RST carrying the captured sequence numbers, in
// both directions, for up to 50 rounds 100 ms apart. It returns how many of
// the connections found were killed.
//
// Call it before deleting addr: the resets leave from addr and need its
// subnet route. Connections that arrive meanwhile are the caller's to block
// (CTDB 4.17 drops them with iptables while it releases).
func (h *Host) KillConnections(addr netip.Addr) (killed, total int, err error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return 0, 0, fmt.Errorf("kill connections of %s: invalid address", addr)
	}
	d, err := h.openDiag()
	if err != nil {
		return 0, 0, fmt.Errorf("kill connections of %s: %w", addr, err)
	}
	defer d.close()
	conns, err := d.connectionsOf(addr)
	if err != nil {
		return 0, 0, fmt.Errorf("kill connections of %s: list in %s: %w", addr, h.where(), err)
	}
	if len(conns) == 0 {
		return 0, 0, nil
	}
	remaining := conns
	if !h.killByTickle {
		var n int
		n, remaining, err = h.destroyAll(d, conns)
		killed += n
		if err != nil {
			return killed, len(conns), fmt.Errorf("kill connections of %s: %w", addr, err)
		}
	}
	if len(remaining) > 0 {
		n, err := h.killWithTickles(remaining)
		killed += n
		if err != nil {
			return killed, len(conns), fmt.Errorf("kill connections of %s: %w", addr, err)
		}
	}
	h.log.Info("killed TCP connections to released address", "addr", addr, "killed", killed, "total", len(conns))
	return killed, len(conns), nil
}

// destroyAll destroys conns with SOCK_DESTROY. If the kernel cannot (no
// CONFIG_INET_DIAG_DESTROY), it returns the connections left to kill.
func (h *Host) destroyAll(d *diagSocket, conns []tcpConn) (killed int, rest []tcpConn, err error) {
	for i, c := range conns {
		err := d.destroy(c)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			// ENOENT: it closed on its own meanwhile.
			killed++
		case errors.Is(err, unix.EOPNOTSUPP):
			h.log.Info("kernel cannot destroy sockets; killing connections with tickles", "where", h.where())
			return killed, conns[i:], nil
		default:
			return killed, nil, fmt.Errorf("destroy %s -> %s: %w", c.local, c.remote, err)
		}
	}
	return killed, nil, nil
}

// halfKill is one side of a connection to reset: a tickle from peer to
// victim provokes an ACK from victim to peer, whose numbers make the RST
// (from peer to victim) acceptable.
type halfKill struct {
	victim, peer netip.AddrPort
	local        bool // victim is this node's socket
}

type flow struct{ from, to netip.AddrPort }

// killWithTickles resets conns with forged segments, and returns how many
// of them had their local side reset.
func (h *Host) killWithTickles(conns []tcpConn) (int, error) {
	var capture *os.File
	var raw4, raw6 int = -1, -1
	err := h.inNS(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("open capture socket: %w", err)
		}
		capture = os.NewFile(uintptr(fd), "tcp-capture")
		if raw4, err = openRawIP(true); err != nil {
			return err
		}
		raw6, err = openRawIP(false)
		return err
	})
	defer func() {
		if capture != nil {
			capture.Close()
		}
		for _, fd := range []int{raw4, raw6} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	if err != nil {
		return 0, fmt.Errorf("tickle kill in %s: %w", h.where(), err)
	}
	send := func(s segment) error {
		fd := raw6
		if s.src.Addr().Is4() {
			fd = raw4
		}
		return sendSegment(fd, s)
	}

	// pending is keyed by the flow of the ACK we wait for: victim -> peer.
	pending := make(map[flow]halfKill, 2*len(conns))
	for _, c := range conns {
		pending[flow{c.local, c.remote}] = halfKill{victim: c.local, peer: c.remote, local: true}
		pending[flow{c.remote, c.local}] = halfKill{victim: c.remote, peer: c.local}
	}
	killedLocal := 0
	buf := make([]byte, 256)
	for round := 0; round < killRounds && len(pending) > 0; round++ {
		sent := 0
		for _, k := range pending {
			if sent == killBatch {
				break
			}
			if err := send(segment{src: k.peer, dst: k.victim}); err != nil {
				return killedLocal, fmt.Errorf("send tickle %s -> %s: %w", k.peer, k.victim, err)
			}
			sent++
		}
		deadline := time.Now().Add(killRoundInterval)
		for len(pending) > 0 {
			if err := capture.SetReadDeadline(deadline); err != nil {
				return killedLocal, fmt.Errorf("capture deadline: %w", err)
			}
			n, err := capture.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return killedLocal, fmt.Errorf("capture: %w", err)
			}
			ack, ok := parseCapturedTCP(buf[:n])
			if !ok || ack.window == tickleWindow && (ack.rst || ack.seq == 0) {
				continue // not TCP, or one of ours
			}
			k, ok := pending[flow{ack.src, ack.dst}]
			if !ok {
				continue
			}
			rst := segment{src: k.peer, dst: k.victim, seq: ack.ack, ack: ack.seq, rst: true}
			if err := send(rst); err != nil {
				return killedLocal, fmt.Errorf("send RST %s -> %s: %w", k.peer, k.victim, err)
			}
			delete(pending, flow{ack.src, ack.dst})
			if k.local {
				killedLocal++
			}
		}
	}
	return killedLocal, nil
}

// capturedTCP is what the killer needs of a captured TCP segment.
type capturedTCP struct {
	src, dst netip.AddrPort
	seq, ack uint32
	window   uint16
	rst      bool
}

// parseCapturedTCP reads an IPv4 or IPv6 packet (a SOCK_DGRAM packet socket
// strips the link-layer header) carrying TCP without extension headers.
func parseCapturedTCP(p []byte) (capturedTCP, bool) {
	if len(p) < 1 {
		return capturedTCP{}, false
	}
	var src, dst netip.Addr
	var tcp []byte
	switch p[0] >> 4 {
	case 4:
		ihl := int(p[0]&0x0f) * 4
		if len(p) < 20 || ihl < 20 || len(p) < ihl+20 || p[9] != unix.IPPROTO_TCP {
			return capturedTCP{}, false
		}
		if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 {
			return capturedTCP{}, false // a later fragment
		}
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		tcp = p[ihl:]
	case 6:
		if len(p) < 60 || p[6] != unix.IPPROTO_TCP {
			return capturedTCP{}, false
		}
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		tcp = p[40:]
	default:
		return capturedTCP{}, false
	}
	return capturedTCP{
		src:    netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2])),
		dst:    netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4])),
		seq:    binary.BigEndian.Uint32(tcp[4:8]),
		ack:    binary.BigEndian.Uint32(tcp[8:12]),
		window: binary.BigEndian.Uint16(tcp[14:16]),
		rst:    tcp[13]&tcpFlagRST != 0,
	}, true
}
