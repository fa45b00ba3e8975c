package netrig

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rctdb/rctdb/internal/netnsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host numbers inside the rig's subnets.
const (
	clientHost = 200 // the client's address in both IPv4 subnets (and ::c8)
	bridgeHost = 254 // the bridge's address in both IPv4 subnets
	// MaxPublic is how many public addresses PublicAddr hands out (.1 to
	// .199, below the client).
	MaxPublic = clientHost - 1
	// MaxNodes is the largest rig New builds.
	MaxNodes = 99
)

// namePrefix starts the name of every link and namespace a rig creates; the
// rig id (6 hex digits) follows. Interface names stay within 15 bytes.
const namePrefix = "rct-"

// Option changes how New builds a rig.
type Option func(*config)

type config struct {
	iface string
}

// WithIface names the node end of each node's veth (default "eth0").
func WithIface(name string) Option { return func(c *config) { c.iface = name } }

// Rig is a set of network namespaces on one bridge; see New.
type Rig struct {
	id    string
	n     int
	iface string

	private, public netip.Prefix
	public6         netip.Prefix

	// handles[k] is a netlink handle in node k's namespace; handles[n]
	// is the client's. Netlink handles are safe for concurrent use.
	handles []*netlink.Handle
	nsfds   []netns.NsHandle

	closeOnce sync.Once
	closeErr  error
}

// New creates a rig: one Linux bridge in this process's namespace, and for
// each of n nodes a network namespace with a veth whose node end is named
// "eth0" (WithIface) and whose other end is a port of the bridge; lo is up
// everywhere. Node k has PrivateAddr(k) (.k+1 of the Private subnet) on its
// veth. The client namespace has .200 in both IPv4 subnets and ::c8 in the
// IPv6 public subnet. The bridge has .254 in both IPv4 subnets: those routes
// are how concurrent rigs (in any process) see that a subnet is taken.
// Close removes everything; if New fails, it has removed what it created.
func New(n int, opts ...Option) (*Rig, error) {
	cfg := config{iface: "eth0"}
	for _, o := range opts {
		o(&cfg)
	}
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("netrig: %d nodes; want 1 to %d", n, MaxNodes)
	}
	if cfg.iface == "" || len(cfg.iface) > unix.IFNAMSIZ-1 || strings.ContainsAny(cfg.iface, "/ ") {
		return nil, fmt.Errorf("netrig: bad interface name %q", cfg.iface)
	}
	r := &Rig{n: n, iface: cfg.iface}
	var err error
	if r.id, err = reserveID(); err != nil {
		return nil, fmt.Errorf("netrig: %w", err)
	}
	if err := r.build(); err != nil {
		if cerr := r.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("netrig: build rig %s: %w", r.id, err)
	}
	return r, nil
}

// Close kills the processes still running in the rig's namespaces and
// removes its namespaces, links and state file. It is safe to call more
// than once; later calls return the first one's result.
func (r *Rig) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.destroy() })
	return r.closeErr
}

func newID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// Names of the rig's objects.
func (r *Rig) bridgeName() string   { return namePrefix + r.id + "-br" }
func (r *Rig) rootEnd(k int) string { return namePrefix + r.id + "-" + strconv.Itoa(k) }
func (r *Rig) clientEnd() string    { return namePrefix + r.id + "-c" }

// ID is the rig's random id, part of every name it creates.
func (r *Rig) ID() string { return r.id }

// N is the number of nodes.
func (r *Rig) N() int { return r.n }

// Iface is the name of each node's (and the client's) veth end.
func (r *Rig) Iface() string { return r.iface }

// NodeNS is the name of node k's network namespace (0 <= k < N; other k
// name a namespace the rig does not have).
func (r *Rig) NodeNS(k int) string {
	return namePrefix + r.id + "-n" + strconv.Itoa(k)
}

// NodeNSPath is the path of node k's namespace, /run/netns/NAME.
func (r *Rig) NodeNSPath(k int) string { return filepath.Join(netnsDir, r.NodeNS(k)) }

// ClientNS is the name of the client's namespace.
func (r *Rig) ClientNS() string { return namePrefix + r.id + "-client" }

// ClientNSPath is the path of the client's namespace.
func (r *Rig) ClientNSPath() string { return filepath.Join(netnsDir, r.ClientNS()) }

// Private is the subnet of the node addresses.
func (r *Rig) Private() netip.Prefix { return r.private }

// Public is the subnet of the movable IPv4 addresses.
func (r *Rig) Public() netip.Prefix { return r.public }

// Public6 is the /64 of the movable IPv6 addresses.
func (r *Rig) Public6() netip.Prefix { return r.public6 }

// PrivateAddr is node k's address on its veth.
func (r *Rig) PrivateAddr(k int) netip.Addr {
	return hostAddr(r.private, k+1)
}

// PublicAddr is the i-th public IPv4 address (0 <= i < MaxPublic) with the
// public subnet's length; no node has it until someone puts it there.
func (r *Rig) PublicAddr(i int) netip.Prefix {
	return netip.PrefixFrom(hostAddr(r.public, i+1), r.public.Bits())
}

// PublicAddr6 is the i-th public IPv6 address (0 <= i < MaxPublic), /64.
func (r *Rig) PublicAddr6(i int) netip.Prefix {
	return netip.PrefixFrom(hostAddr(r.public6, i+1), r.public6.Bits())
}

// ClientAddr is the client's address in the public subnet.
func (r *Rig) ClientAddr() netip.Addr { return hostAddr(r.public, clientHost) }

// ClientPrivateAddr is the client's address in the private subnet.
func (r *Rig) ClientPrivateAddr() netip.Addr { return hostAddr(r.private, clientHost) }

// ClientAddr6 is the client's address in the public IPv6 subnet.
func (r *Rig) ClientAddr6() netip.Addr { return hostAddr(r.public6, clientHost) }

func (r *Rig) checkNode(k int) error {
	if k < 0 || k >= r.n {
		return fmt.Errorf("netrig: node %d out of range 0..%d", k, r.n-1)
	}
	return nil
}

// hostAddr is host number h in subnet p (h fits the host part).
func hostAddr(p netip.Prefix, h int) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := len(b) - 1; h > 0; i-- {
		b[i] |= byte(h)
		h >>= 8
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Command runs name in node k's namespace (ip netns exec).
func (r *Rig) Command(k int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", r.NodeNS(k), name}, args...)...)
}

// ClientCommand runs name in the client's namespace.
func (r *Rig) ClientCommand(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", r.ClientNS(), name}, args...)...)
}

// InNode runs fn on an OS thread inside node k's namespace; sockets fn
// opens belong to that namespace for their whole life.
func (r *Rig) InNode(k int, fn func() error) error {
	if err := r.checkNode(k); err != nil {
		return err
	}
	return netnsrun.Run(r.nsfds[k], fn)
}

// InClient runs fn on an OS thread inside the client's namespace.
func (r *Rig) InClient(fn func() error) error { return netnsrun.Run(r.nsfds[r.n], fn) }

// DialTCP connects from the client's namespace to addr.
func (r *Rig) DialTCP(addr netip.AddrPort, timeout time.Duration) (*net.TCPConn, error) {
	var c net.Conn
	err := r.InClient(func() error {
		var err error
		c, err = (&net.Dialer{Timeout: timeout}).Dial("tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s from client namespace: %w", addr, err)
	}
	return c.(*net.TCPConn), nil
}

// Dial checks that a TCP connection from the client's namespace to addr
// succeeds within timeout, and closes it.
func (r *Rig) Dial(addr netip.AddrPort, timeout time.Duration) error {
	c, err := r.DialTCP(addr, timeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// ListenTCP listens on addr inside node k's namespace; the caller closes
// the listener.
func (r *Rig) ListenTCP(k int, addr netip.AddrPort) (*net.TCPListener, error) {
	var ln *net.TCPListener
	err := r.InNode(k, func() error {
		var err error
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in node %d: %w", addr, k, err)
	}
	return ln, nil
}

// CutLink partitions node k as a pulled cable does: the bridge end of its
// veth goes down, so the node's interface loses carrier (NO-CARRIER, not
// Up) and no frame passes either way. The node's own interface stays
// administratively up, so its addresses (IPv6 included, which an
// administrative down would delete) are left as they are.
func (r *Rig) CutLink(k int) error {
	if err := r.checkNode(k); err != nil {
		return err
	}
	if err := setLink(r.rootEnd(k), false); err != nil {
		return fmt.Errorf("netrig: cut link of node %d: %w", k, err)
	}
	return nil
}

// RestoreLink undoes CutLink: the bridge end comes back up and the node's
// interface regains carrier.
func (r *Rig) RestoreLink(k int) error {
	if err := r.checkNode(k); err != nil {
		return err
	}
	if err := setLink(r.rootEnd(k), true); err != nil {
		return fmt.Errorf("netrig: restore link of node %d: %w", k, err)
	}
	return nil
}

// setLink sets a link of this process's namespace up or down.
func setLink(name string, up bool) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if up {
		return netlink.LinkSetUp(l)
	}
	return netlink.LinkSetDown(l)
}

// Holders lists the nodes (ascending) that have addr on any interface.
func (r *Rig) Holders(addr netip.Addr) ([]int, error) {
	addr = addr.Unmap()
	var out []int
	for k := range r.n {
		has, err := r.nodeHas(k, addr)
		if err != nil {
			return nil, err
		}
		if has {
			out = append(out, k)
		}
	}
	return out, nil
}

// Placement lists, for each of addrs, the nodes (ascending) that have it on
// any interface; it reads each node's addresses once.
func (r *Rig) Placement(addrs ...netip.Addr) (map[netip.Addr][]int, error) {
	out := make(map[netip.Addr][]int, len(addrs))
	for k := range r.n {
		set, err := r.nodeAddrs(k)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if set[a.Unmap()] {
				out[a] = append(out[a], k)
			}
		}
	}
	return out, nil
}

// nodeAddrs returns the set of addresses on any interface of node k.
func (r *Rig) nodeAddrs(k int) (map[netip.Addr]bool, error) {
	all, err := retryDump(func() ([]netlink.Addr, error) { return r.handles[k].AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses of node %d: %w", k, err)
	}
	set := make(map[netip.Addr]bool, len(all))
	for _, a := range all {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			set[ip.Unmap()] = true
		}
	}
	return set, nil
}

func (r *Rig) nodeHas(k int, addr netip.Addr) (bool, error) {
	set, err := r.nodeAddrs(k)
	if err != nil {
		return false, err
	}
	return set[addr], nil
}
