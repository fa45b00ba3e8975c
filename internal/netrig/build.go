package netrig

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const netnsDir = "/run/netns"

// build creates the bridge, the subnets and the namespaces. Whatever it
// created before an error is removed by destroy.
func (r *Rig) build() error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: r.bridgeName()}, MulticastSnooping: ptr(false)}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge %s: %w", br.Name, err)
	}
	// The root namespace only switches frames between the rig's
	// namespaces; no IPv6 of its own keeps it quiet on the bridge.
	if err := disableIPv6(br.Name); err != nil {
		return err
	}
	if err := r.claimSubnets(br); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("set bridge %s up: %w", br.Name, err)
	}
	r.public6 = randomULA()
	for k := 0; k <= r.n; k++ {
		var addrs []netip.Prefix
		ns, rootEnd := "", ""
		if k < r.n {
			ns, rootEnd = r.NodeNS(k), r.rootEnd(k)
			addrs = []netip.Prefix{netip.PrefixFrom(r.PrivateAddr(k), r.private.Bits())}
		} else {
			ns, rootEnd = r.ClientNS(), r.clientEnd()
			addrs = []netip.Prefix{
				netip.PrefixFrom(r.ClientPrivateAddr(), r.private.Bits()),
				netip.PrefixFrom(r.ClientAddr(), r.public.Bits()),
				netip.PrefixFrom(r.ClientAddr6(), r.public6.Bits()),
			}
		}
		if err := r.addNamespace(ns, rootEnd, br, addrs); err != nil {
			return err
		}
	}
	return r.waitOperUp()
}

// waitOperUp waits until every link of the rig is operationally up. A new
// veth gets carrier at once, but the kernel marks it up and attaches its
// transmit queue in its link-watch work, which runs up to a second later
// for a carrier-on event; frames sent before are dropped, which costs a
// first connection a retransmission (1 s).
func (r *Rig) waitOperUp() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		down, err := r.linksNotUp()
		if err != nil || len(down) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("links not up after 5 s: %v", down)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *Rig) linksNotUp() ([]string, error) {
	var down []string
	check := func(h *netlink.Handle, name, where string) error {
		get := netlink.LinkByName
		if h != nil {
			get = h.LinkByName
		}
		l, err := get(name)
		if err != nil {
			return fmt.Errorf("read %s in %s: %w", name, where, err)
		}
		if l.Attrs().OperState != netlink.OperUp {
			down = append(down, where+":"+name+"="+l.Attrs().OperState.String())
		}
		return nil
	}
	if err := check(nil, r.bridgeName(), "root"); err != nil {
		return nil, err
	}
	for k, h := range r.handles {
		rootEnd, ns := r.clientEnd(), r.ClientNS()
		if k < r.n {
			rootEnd, ns = r.rootEnd(k), r.NodeNS(k)
		}
		if err := check(nil, rootEnd, "root"); err != nil {
			return nil, err
		}
		if err := check(h, r.iface, ns); err != nil {
			return nil, err
		}
	}
	return down, nil
}

// addNamespace creates namespace ns, a veth with the node end named r.iface
// in it and rootEnd on the bridge, and puts addrs on the node end.
func (r *Rig) addNamespace(ns, rootEnd string, br *netlink.Bridge, addrs []netip.Prefix) error {
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	fd, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	r.nsfds = append(r.nsfds, fd)
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	r.handles = append(r.handles, h)

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: rootEnd, MasterIndex: br.Index},
		PeerName:      r.iface,
		PeerNamespace: netlink.NsFd(fd),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s to %s: %w", rootEnd, ns, err)
	}
	if err := disableIPv6(rootEnd); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", rootEnd, err)
	}
	for _, name := range []string{"lo", r.iface} {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s in %s: %w", name, ns, err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up in %s: %w", name, ns, err)
		}
		if name == "lo" {
			continue
		}
		for _, p := range addrs {
			a := &netlink.Addr{IPNet: ipNet(p)}
			if p.Addr().Is6() {
				a.Flags = unix.IFA_F_NODAD // usable at once
			}
			if err := h.AddrAdd(l, a); err != nil {
				return fmt.Errorf("add %s to %s in %s: %w", p, name, ns, err)
			}
		}
	}
	return nil
}

// claimSubnets picks the private and public /24s and puts the bridge's .254
// in both, holding the machine-wide lock so that two rigs never pick the
// same subnet: a subnet is free if no route of this process's namespace
// overlaps it, and the bridge's addresses add the routes that tell later
// rigs it is taken.
func (r *Rig) claimSubnets(br *netlink.Bridge) error {
	unlock, err := lockState()
	if err != nil {
		return err
	}
	defer unlock()
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	var taken []netip.Prefix
	for _, rt := range routes {
		if rt.Dst == nil {
			continue
		}
		if p, ok := prefixOf(rt.Dst); ok && p.Bits() > 0 {
			taken = append(taken, p)
		}
	}
	for _, dst := range []*netip.Prefix{&r.private, &r.public} {
		p, err := pickSubnet(taken)
		if err != nil {
			return err
		}
		*dst = p
		taken = append(taken, p)
		a := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(hostAddr(p, bridgeHost), p.Bits()))}
		if err := netlink.AddrAdd(br, a); err != nil {
			return fmt.Errorf("add %s to bridge: %w", a.IPNet, err)
		}
	}
	return nil
}

// pickSubnet returns a random 10.a.b.0/24 that overlaps no prefix in taken.
func pickSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(250*256))
		if err != nil {
			return netip.Prefix{}, err
		}
		v := int(n.Int64())
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(5 + v/256), byte(v % 256), 0}), 24)
		free := true
		for _, t := range taken {
			if t.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.0.0.0/8")
}

// randomULA returns a random unique-local /64 (RFC 4193).
func randomULA() netip.Prefix {
	var b [16]byte
	if _, err := rand.Read(b[1:8]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	b[0] = 0xfd
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// destroy removes everything the rig created.
func (r *Rig) destroy() error {
	for _, h := range r.handles {
		h.Close()
	}
	for _, fd := range r.nsfds {
		fd.Close()
	}
	if err := removeRig(r.id); err != nil {
		return fmt.Errorf("netrig: remove rig %s: %w", r.id, err)
	}
	return nil
}

// removeRig kills the processes in rig id's namespaces, deletes its links
// and namespaces, and then its state file.
func removeRig(id string) error {
	prefix := namePrefix + id + "-"
	var errs []error
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	// Deleting one end of a veth deletes both at once; deleting only the
	// namespace would leave the bridge end until the kernel's asynchronous
	// namespace cleanup ran.
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) && l.Type() == "veth" {
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
			}
		}
	}
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) && l.Type() != "veth" {
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
			}
		}
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if err := killProcessesIn(filepath.Join(netnsDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
		if out, err := exec.Command("ip", "netns", "delete", e.Name()).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %w: %s", e.Name(), err, strings.TrimSpace(string(out))))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return removeState(id)
}

// retryDump repeats a netlink dump the kernel interrupted because the list
// changed meanwhile (other rigs come and go at any time).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 10 {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// disableIPv6 turns IPv6 off on a link of this process's namespace.
func disableIPv6(name string) error {
	path := filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("disable IPv6 on %s: %w", name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), bits).Masked(), true
}

func ptr[T any](v T) *T { return &v }
