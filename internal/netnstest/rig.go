package netnstest

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/netrig"
)

// Limits of a rig (see internal/netrig).
const (
	MaxPublic = netrig.MaxPublic
	MaxNodes  = netrig.MaxNodes
)

// Option changes how New builds a rig.
type Option = netrig.Option

// WithIface names the node end of each node's veth (default "eth0").
func WithIface(name string) Option { return netrig.WithIface(name) }

// Overlap is a stretch of time in which one address was on interfaces of
// several nodes at once.
type Overlap = netrig.Overlap

// OverlapWatch samples which nodes hold a set of addresses; see
// Rig.WatchOverlaps.
type OverlapWatch = netrig.OverlapWatch

// CleanupStale removes the rigs whose creating process has died.
func CleanupStale() ([]string, error) { return netrig.CleanupStale() }

// Rig is a netrig.Rig that belongs to a test.
type Rig struct {
	*netrig.Rig
	t testing.TB
}

// New builds a rig of n nodes (see netrig.New) and removes it in
// t.Cleanup; it fails the test if the rig cannot be built or removed.
func New(t testing.TB, n int, opts ...Option) *Rig {
	t.Helper()
	if removed, err := netrig.CleanupStale(); err != nil {
		t.Logf("netnstest: cleaning stale rigs: %v", err)
	} else if len(removed) > 0 {
		t.Logf("netnstest: removed stale rigs %v", removed)
	}
	r, err := netrig.New(n, opts...)
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("netnstest: %v", err)
		}
	})
	return &Rig{Rig: r, t: t}
}

func (r *Rig) checkNode(k int) {
	if k < 0 || k >= r.N() {
		r.t.Fatalf("netnstest: node %d out of range 0..%d", k, r.N()-1)
	}
}

func (r *Rig) checkPublic(i int) {
	if i < 0 || i >= MaxPublic {
		r.t.Fatalf("netnstest: public address %d out of range 0..%d", i, MaxPublic-1)
	}
}

// NodeNS is the name of node k's network namespace.
func (r *Rig) NodeNS(k int) string {
	r.checkNode(k)
	return r.Rig.NodeNS(k)
}

// NodeNSPath is the path of node k's namespace, /run/netns/NAME.
func (r *Rig) NodeNSPath(k int) string {
	r.checkNode(k)
	return r.Rig.NodeNSPath(k)
}

// PrivateAddr is node k's address on its veth.
func (r *Rig) PrivateAddr(k int) netip.Addr {
	r.checkNode(k)
	return r.Rig.PrivateAddr(k)
}

// PublicAddr is the i-th public IPv4 address (0 <= i < MaxPublic).
func (r *Rig) PublicAddr(i int) netip.Prefix {
	r.checkPublic(i)
	return r.Rig.PublicAddr(i)
}

// PublicAddr6 is the i-th public IPv6 address (0 <= i < MaxPublic), /64.
func (r *Rig) PublicAddr6(i int) netip.Prefix {
	r.checkPublic(i)
	return r.Rig.PublicAddr6(i)
}

// ListenTCP listens on addr inside node k's namespace; the listener is
// closed in t.Cleanup if the test has not closed it.
func (r *Rig) ListenTCP(k int, addr netip.AddrPort) (*net.TCPListener, error) {
	ln, err := r.Rig.ListenTCP(k, addr)
	if err != nil {
		return nil, err
	}
	r.t.Cleanup(func() { ln.Close() })
	return ln, nil
}

// CutLink partitions node k as a pulled cable does (see netrig); call it
// from the test goroutine: it fails the test on error.
func (r *Rig) CutLink(k int) {
	if err := r.Rig.CutLink(k); err != nil {
		r.t.Fatalf("netnstest: %v", err)
	}
}

// RestoreLink undoes CutLink; it fails the test on error.
func (r *Rig) RestoreLink(k int) {
	if err := r.Rig.RestoreLink(k); err != nil {
		r.t.Fatalf("netnstest: %v", err)
	}
}

// WatchOverlaps starts sampling which nodes hold addrs (see netrig); the
// watch is stopped in t.Cleanup if the test has not stopped it.
func (r *Rig) WatchOverlaps(every time.Duration, addrs ...netip.Addr) *OverlapWatch {
	w := r.Rig.WatchOverlaps(every, addrs...)
	r.t.Cleanup(func() { w.Stop() })
	return w
}
