package linuxhost_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/netnstest"
)

func benchHost(b *testing.B, r *netnstest.Rig) *linuxhost.Host {
	h, err := linuxhost.New(linuxhost.Options{Netns: r.NodeNSPath(0)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// BenchmarkSetAddressRefresh is the reconciler's steady state: refreshing
// the lease of an address that is present.
func BenchmarkSetAddressRefresh(b *testing.B) {
	r := netnstest.New(b, 1)
	h := benchHost(b, r)
	for _, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		b.Run(family(p), func(b *testing.B) {
			if err := h.SetAddress(r.Iface(), p, time.Minute); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := h.SetAddress(r.Iface(), p, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTakeover adds a new address (for IPv6 including the wait until
// it answers neighbour solicitations) and deletes it again.
func BenchmarkTakeover(b *testing.B) {
	r := netnstest.New(b, 1)
	h := benchHost(b, r)
	for _, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		b.Run(family(p), func(b *testing.B) {
			for b.Loop() {
				if err := h.SetAddress(r.Iface(), p, time.Minute); err != nil {
					b.Fatal(err)
				}
				if err := h.DeleteAddress(r.Iface(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
