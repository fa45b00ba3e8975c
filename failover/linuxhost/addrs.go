package linuxhost

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is the state of one named interface.
type Link struct {
	Name   string
	Exists bool
	// Up means the interface can carry traffic now: administratively up
	// (IFF_UP), with carrier (IFF_LOWER_UP), and an operational state of
	// "up" or "unknown" (drivers such as loopback never report one). A veth
	// whose peer is down has no carrier and is not Up; neither is a bridge
	// without running ports, nor a dormant link.
	Up        bool
	Index     int
	OperState string
	// HardwareAddr is the interface's MAC address (empty for loopback-like
	// interfaces).
	HardwareAddr net.HardwareAddr
}

// Address is a global-scope address on an interface.
type Address struct {
	Prefix netip.Prefix
	// Permanent means no lease: the kernel's valid lifetime is "forever".
	Permanent bool
	// Valid and Preferred are the remaining lifetimes the kernel reports
	// (whole seconds); both are zero when Permanent.
	Valid, Preferred time.Duration
	// Tentative is set while an IPv6 address is not usable yet (duplicate
	// address detection, or no carrier); it then ignores neighbour
	// solicitations for itself.
	Tentative bool
}

// kernelForever is the lifetime value the kernel reads as "forever".
const kernelForever = math.MaxUint32

// maxLease is the longest finite lifetime the kernel accepts.
const maxLease = (kernelForever - 1) * time.Second

// dumpRetries bounds retries of netlink dumps the kernel interrupted because
// the list changed while it was being read.
const dumpRetries = 5

// Links reports, for each named interface, whether it exists and whether it
// is up (see Link.Up). A missing interface gives Exists false and no error.
func (h *Host) Links(names []string) (map[string]Link, error) {
	out := make(map[string]Link, len(names))
	for _, name := range names {
		l, err := h.linkByName(name)
		if err != nil {
			return nil, fmt.Errorf("links: read %s in %s: %w", name, h.where(), err)
		}
		if l == nil {
			out[name] = Link{Name: name}
			continue
		}
		out[name] = linkState(name, l.Attrs())
	}
	return out, nil
}

func linkState(name string, a *netlink.LinkAttrs) Link {
	oper := a.OperState
	up := a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0 &&
		(oper == netlink.OperUp || oper == netlink.OperUnknown)
	return Link{
		Name:         name,
		Exists:       true,
		Up:           up,
		Index:        a.Index,
		OperState:    oper.String(),
		HardwareAddr: a.HardwareAddr,
	}
}

// Addresses lists the global-scope addresses on the named interfaces. A
// missing interface has no entry in the result.
func (h *Host) Addresses(names []string) (map[string][]Address, error) {
	byIndex := make(map[int]string, len(names))
	for _, name := range names {
		l, err := h.linkByName(name)
		if err != nil {
			return nil, fmt.Errorf("addresses: read link %s in %s: %w", name, h.where(), err)
		}
		if l != nil {
			byIndex[l.Attrs().Index] = name
		}
	}
	out := make(map[string][]Address, len(byIndex))
	if len(byIndex) == 0 {
		return out, nil
	}
	for _, name := range byIndex {
		out[name] = nil
	}
	all, err := h.dumpAddrs()
	if err != nil {
		return nil, fmt.Errorf("addresses: %w", err)
	}
	for _, a := range all {
		name, ok := byIndex[a.LinkIndex]
		if !ok || a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		if ad, ok := toAddress(a); ok {
			out[name] = append(out[name], ad)
		}
	}
	return out, nil
}

// dumpAddrs lists every address in the namespace, retrying dumps the kernel
// interrupted.
func (h *Host) dumpAddrs() ([]netlink.Addr, error) {
	var err error
	for range dumpRetries {
		var all []netlink.Addr
		all, err = h.handle.AddrList(nil, netlink.FAMILY_ALL)
		if err == nil {
			return all, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("dump addresses in %s: %w", h.where(), err)
}

func toAddress(a netlink.Addr) (Address, bool) {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return Address{}, false
	}
	bits, _ := a.Mask.Size()
	ad := Address{Prefix: netip.PrefixFrom(ip.Unmap(), bits), Tentative: a.Flags&unix.IFA_F_TENTATIVE != 0}
	if uint32(a.ValidLft) == kernelForever {
		ad.Permanent = true
	} else {
		ad.Valid = time.Duration(a.ValidLft) * time.Second
		if uint32(a.PreferedLft) != kernelForever {
			ad.Preferred = time.Duration(a.PreferedLft) * time.Second
		}
	}
	return ad, true
}

// SetAddress puts addr on iface, or refreshes it if it is there, with
// valid_lft = preferred_lft = lease (0 = forever; otherwise rounded up to
// whole seconds, as the kernel counts them). A present address is updated in
// place (RTM_NEWADDR with NLM_F_REPLACE): it is never removed, so its TCP
// connections survive. IPv4 gets the broadcast address `ip addr add A/B brd
// +` computes; IPv6 is added with IFA_F_NODAD (see the package comment). An
// address present with another prefix length is replaced by addr, the one
// case that deletes it first.
func (h *Host) SetAddress(iface string, addr netip.Prefix, lease time.Duration) error {
	p, err := hostPrefix(addr)
	if err != nil {
		return fmt.Errorf("set address %s on %s: %w", addr, iface, err)
	}
	lft, err := leaseSeconds(lease)
	if err != nil {
		return fmt.Errorf("set address %s on %s: %w", p, iface, err)
	}
	link, err := h.linkByName(iface)
	if err != nil {
		return fmt.Errorf("set address %s on %s: read link in %s: %w", p, iface, h.where(), err)
	}
	if link == nil {
		return fmt.Errorf("set address %s on %s: no such interface in %s", p, iface, h.where())
	}
	if p.Addr().Is4() {
		if err := h.promoteSecondaries(iface, link.Attrs().Index); err != nil {
			return fmt.Errorf("set address %s on %s: %w", p, iface, err)
		}
	}
	present, err := h.findAddr(link, p.Addr())
	if err != nil {
		return fmt.Errorf("set address %s on %s: %w", p, iface, err)
	}
	if present != nil && present.Prefix.Bits() != p.Bits() {
		h.log.Info("replacing address with another prefix length", "iface", iface, "old", present.Prefix, "new", p)
		if err := h.handle.AddrDel(link, &netlink.Addr{IPNet: ipNet(present.Prefix)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("set address %s on %s: delete %s: %w", p, iface, present.Prefix, err)
		}
		present = nil
	}
	na := &netlink.Addr{IPNet: ipNet(p), ValidLft: int(lft), PreferedLft: int(lft)}
	if p.Addr().Is4() {
		if brd, ok := broadcast(p); ok {
			na.Broadcast = brd.AsSlice()
		}
	} else {
		na.Flags = unix.IFA_F_NODAD
	}
	if err := h.handle.AddrReplace(link, na); err != nil {
		return fmt.Errorf("set address %s on %s in %s: %w", p, iface, h.where(), err)
	}
	if p.Addr().Is6() && present != nil && present.Permanent && lft != kernelForever {
		// Linux 6.18 gives the prefix route of an IPv6 address that goes
		// from a permanent to a finite lifetime an expiry in the past,
		// which cuts the subnet off; a second update, with the route
		// already expiring, sets it right.
		if err := h.handle.AddrReplace(link, na); err != nil {
			return fmt.Errorf("set address %s on %s in %s: %w", p, iface, h.where(), err)
		}
	}
	if present == nil {
		if p.Addr().Is6() {
			h.waitUsable(iface, link, p.Addr())
		}
		h.log.Info("added address", "iface", iface, "addr", p, "lease", lease)
	} else {
		h.log.Debug("refreshed address", "iface", iface, "addr", p, "lease", lease)
	}
	return nil
}

// DeleteAddress removes addr (whatever prefix length it has there) from
// iface. An absent address or interface is not an error. IPv4 secondaries
// of the same subnet stay (promote_secondaries).
func (h *Host) DeleteAddress(iface string, addr netip.Prefix) error {
	p, err := hostPrefix(addr)
	if err != nil {
		return fmt.Errorf("delete address %s from %s: %w", addr, iface, err)
	}
	link, err := h.linkByName(iface)
	if err != nil {
		return fmt.Errorf("delete address %s from %s: read link in %s: %w", p, iface, h.where(), err)
	}
	if link == nil {
		h.log.Debug("delete address: no such interface", "iface", iface, "addr", p)
		return nil
	}
	if p.Addr().Is4() {
		if err := h.promoteSecondaries(iface, link.Attrs().Index); err != nil {
			return fmt.Errorf("delete address %s from %s: %w", p, iface, err)
		}
	}
	present, err := h.findAddr(link, p.Addr())
	if err != nil {
		return fmt.Errorf("delete address %s from %s: %w", p, iface, err)
	}
	if present == nil {
		return nil
	}
	err = h.handle.AddrDel(link, &netlink.Addr{IPNet: ipNet(present.Prefix)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("delete address %s from %s in %s: %w", present.Prefix, iface, h.where(), err)
	}
	h.log.Info("deleted address", "iface", iface, "addr", present.Prefix)
	return nil
}

// usableWait bounds how long SetAddress waits for a new IPv6 address to
// become usable.
const usableWait = time.Second

// waitUsable waits until the new IPv6 address ip answers neighbour
// solicitations: no longer tentative, and its solicited-node multicast group
// joined. The kernel lists the address at once (NODAD or not) but joins the
// group from a work queue, often only after RTM_NEWADDR was acknowledged; a
// solicitation arriving before is dropped and costs the client a
// retransmission (1 s). Without carrier the address stays tentative: that is
// logged, not an error, since the address is in place.
func (h *Host) waitUsable(iface string, link netlink.Link, ip netip.Addr) {
	group := solicitedNodeGroup(ip)
	index := link.Attrs().Index
	deadline := time.Now().Add(usableWait)
	err := h.inNS(func() error {
		for {
			a, err := h.findAddr(link, ip)
			if err != nil || a == nil {
				return err // a == nil: deleted meanwhile, nothing to wait for
			}
			joined, err := joinedGroup(index, group)
			if err != nil {
				return err
			}
			if !a.Tentative && joined {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("still tentative (%v) or not in its solicited-node group (%v) after %v; link without carrier?", a.Tentative, !joined, usableWait)
			}
			time.Sleep(200 * time.Microsecond)
		}
	})
	if err != nil {
		h.log.Warn("new IPv6 address not usable yet", "iface", iface, "addr", ip, "err", err)
	}
}

// solicitedNodeGroup is ip's solicited-node multicast group ff02::1:ffXX:XXXX
// as /proc/net/igmp6 prints it.
func solicitedNodeGroup(ip netip.Addr) string {
	a := ip.As16()
	g := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
	return hex.EncodeToString(g[:])
}

// joinedGroup tells whether interface index has joined group (hex) in the
// calling thread's network namespace.
func joinedGroup(index int, group string) (bool, error) {
	b, err := os.ReadFile("/proc/thread-self/net/igmp6")
	if err != nil {
		return false, fmt.Errorf("read multicast groups: %w", err)
	}
	idx := strconv.Itoa(index)
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == idx && f[2] == group {
			return true, nil
		}
	}
	return false, nil
}

// findAddr returns ip's entry on link (any scope, any prefix length), or nil.
func (h *Host) findAddr(link netlink.Link, ip netip.Addr) (*Address, error) {
	all, err := h.dumpAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.LinkIndex != link.Attrs().Index {
			continue
		}
		if ad, ok := toAddress(a); ok && ad.Prefix.Addr() == ip {
			return &ad, nil
		}
	}
	return nil, nil
}

// promoteSecondaries sets net.ipv4.conf.IFACE.promote_secondaries=1 once
// per interface, so that deleting the primary address of a subnet promotes
// a secondary instead of deleting them all.
func (h *Host) promoteSecondaries(iface string, index int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.promoted[index] {
		return nil
	}
	path := filepath.Join("/proc/sys/net/ipv4/conf", iface, "promote_secondaries")
	err := h.inNS(func() error { return os.WriteFile(path, []byte("1\n"), 0o644) })
	if err != nil {
		return fmt.Errorf("set promote_secondaries on %s in %s: %w", iface, h.where(), err)
	}
	h.promoted[index] = true
	return nil
}

// hostPrefix checks addr and folds IPv4-mapped IPv6 to IPv4, keeping the
// host bits (addr is an address with its subnet's length, not a network).
func hostPrefix(addr netip.Prefix) (netip.Prefix, error) {
	if !addr.IsValid() {
		return netip.Prefix{}, errors.New("invalid address")
	}
	ip := addr.Addr()
	bits := addr.Bits()
	if ip.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, errors.New("IPv4-mapped address with a prefix shorter than 96 bits")
		}
		ip, bits = ip.Unmap(), bits-96
	}
	if ip.Zone() != "" {
		return netip.Prefix{}, errors.New("address has a zone")
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return netip.Prefix{}, errors.New("not a unicast address")
	}
	return netip.PrefixFrom(ip, bits), nil
}

// leaseSeconds converts a lease to the kernel's lifetime in seconds.
func leaseSeconds(lease time.Duration) (uint32, error) {
	switch {
	case lease < 0:
		return 0, fmt.Errorf("negative lease %v", lease)
	case lease == 0:
		return kernelForever, nil
	case lease > maxLease:
		return 0, fmt.Errorf("lease %v longer than the kernel's maximum %v", lease, maxLease)
	}
	return uint32((lease + time.Second - 1) / time.Second), nil
}

// broadcast is what `ip addr add A/B brd +` sets: the subnet's all-ones
// address, and none for /31 and /32 (RFC 3021).
func broadcast(p netip.Prefix) (netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}, false
	}
	b := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
