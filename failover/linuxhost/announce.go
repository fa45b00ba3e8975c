package linuxhost

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Frame sizes of CTDB 4.17's announcements: an ARP frame is 42 bytes padded
// with zeros to the 64-byte Ethernet minimum; a neighbour advertisement is
// Ethernet (14) + IPv6 (40) + NA (24) + target link-layer option (8).
const (
	arpFrameLen = 64
	naFrameLen  = 86
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC  = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
	allNodesAddr = netip.MustParseAddr("ff02::1")
)

// Announce sends one round of announcements for addr on iface, as CTDB 4.17
// does after a takeover: for IPv4 a gratuitous ARP request and then a
// gratuitous ARP reply, for IPv6 one unsolicited neighbour advertisement
// with the Override flag, all to the link's broadcast (all-nodes) address
// from iface's MAC. Neighbours that already have an entry for addr move it
// to this interface. A loopback interface is skipped; other non-Ethernet
// links are an error. The caller repeats rounds (4.17: at 0, 1.1 and 2.2 s).
func (h *Host) Announce(iface string, addr netip.Addr) error {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" {
		return fmt.Errorf("announce %s on %s: invalid address", addr, iface)
	}
	link, err := h.linkByName(iface)
	if err != nil {
		return fmt.Errorf("announce %s on %s: read link in %s: %w", addr, iface, h.where(), err)
	}
	if link == nil {
		return fmt.Errorf("announce %s on %s: no such interface in %s", addr, iface, h.where())
	}
	a := link.Attrs()
	switch {
	case a.EncapType == "loopback":
		return nil
	case a.EncapType != "ether" || len(a.HardwareAddr) != 6:
		return fmt.Errorf("announce %s on %s: not an Ethernet interface (%s)", addr, iface, a.EncapType)
	}
	var frames [][]byte
	if addr.Is4() {
		frames = [][]byte{arpFrame(addr, a.HardwareAddr, false), arpFrame(addr, a.HardwareAddr, true)}
	} else {
		frames = [][]byte{naFrame(addr, a.HardwareAddr)}
	}
	if err := h.sendFrames(a.Index, frames); err != nil {
		return fmt.Errorf("announce %s on %s in %s: %w", addr, iface, h.where(), err)
	}
	h.log.Debug("announced address", "iface", iface, "addr", addr)
	return nil
}

// sendFrames sends complete Ethernet frames out of interface ifindex.
func (h *Host) sendFrames(ifindex int, frames [][]byte) error {
	var fd int
	err := h.inNS(func() error {
		var err error
		// Protocol 0: a send-only socket that receives nothing.
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("open packet socket: %w", err)
	}
	defer unix.Close(fd)
	for _, f := range frames {
		to := &unix.SockaddrLinklayer{
			Ifindex:  ifindex,
			Protocol: htons(binary.BigEndian.Uint16(f[12:14])),
			Halen:    6,
		}
		copy(to.Addr[:], f[0:6])
		if err := unix.Sendto(fd, f, 0, to); err != nil {
			return fmt.Errorf("send frame: %w", err)
		}
	}
	return nil
}

// arpFrame builds a gratuitous ARP request (reply false: sender and target
// protocol address = ip, target hardware address zero) or reply (target
// hardware address = mac too), broadcast from mac.
func arpFrame(ip netip.Addr, mac net.HardwareAddr, reply bool) []byte {
	f := make([]byte, arpFrameLen)
	copy(f[0:6], broadcastMAC)
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], etherTypeARP)
	arp := f[14:]
	binary.BigEndian.PutUint16(arp[0:2], 1) // hardware type Ethernet
	binary.BigEndian.PutUint16(arp[2:4], etherTypeIPv4)
	arp[4], arp[5] = 6, 4 // address lengths
	op := uint16(1)
	if reply {
		op = 2
	}
	binary.BigEndian.PutUint16(arp[6:8], op)
	ip4 := ip.As4()
	copy(arp[8:14], mac)
	copy(arp[14:18], ip4[:])
	if reply {
		copy(arp[18:24], mac)
	}
	copy(arp[24:28], ip4[:])
	return f
}

// naFrame builds an unsolicited neighbour advertisement for ip from ip to
// ff02::1: hop limit 255, flags Override only, target ip, and a target
// link-layer address option carrying mac.
func naFrame(ip netip.Addr, mac net.HardwareAddr) []byte {
	f := make([]byte, naFrameLen)
	copy(f[0:6], allNodesMAC)
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], etherTypeIPv6)
	ip6 := f[14:54]
	const icmpLen = 32
	ip6[0] = 6 << 4
	binary.BigEndian.PutUint16(ip6[4:6], icmpLen)
	ip6[6] = unix.IPPROTO_ICMPV6
	ip6[7] = 255
	src, dst := ip.As16(), allNodesAddr.As16()
	copy(ip6[8:24], src[:])
	copy(ip6[24:40], dst[:])
	icmp := f[54:86]
	icmp[0] = 136            // neighbour advertisement
	icmp[4] = 0x20           // flags: Override
	copy(icmp[8:24], src[:]) // target
	icmp[24] = 2             // option: target link-layer address
	icmp[25] = 1             // option length in units of 8 bytes
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:4], transportChecksum(ip, allNodesAddr, unix.IPPROTO_ICMPV6, icmp))
	return f
}

// transportChecksum is the Internet checksum of a TCP segment or ICMPv6
// message (whose checksum field is zero) with its IPv4 or IPv6 pseudo-header.
func transportChecksum(src, dst netip.Addr, proto uint8, payload []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += uint32(proto) + uint32(len(payload))
	add(payload)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
