package failover_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// scaleAddrs is how many public addresses the scale benchmark's three
// nodes share: 256 each.
const scaleAddrs = 768

// scalePublic is the public_addresses of the scale benchmark, and its
// addresses.
func scalePublic() (string, []netip.Addr) {
	var b strings.Builder
	var addrs []netip.Addr
	for i := range scaleAddrs {
		a := netip.AddrFrom4([4]byte{10, 9, byte(i / 250), byte(i%250 + 1)})
		fmt.Fprintf(&b, "%s/16 eth0\n", a)
		addrs = append(addrs, a)
	}
	return b.String(), addrs
}

// placement reads every node's host once: address -> nodes carrying it.
func placement(c *clustertest.InProcess) map[netip.Addr][]uint32 {
	out := map[netip.Addr][]uint32{}
	for p := 0; p < c.Size(); p++ {
		h := c.Host(uint32(p))
		if h == nil {
			continue
		}
		on, _ := h.Addresses([]string{"eth0"})
		for _, pr := range on["eth0"] {
			out[pr.Addr()] = append(out[pr.Addr()], uint32(p))
		}
	}
	return out
}

// BenchmarkTakeoverRun256 measures a takeover run that moves 256
// addresses: a fresh in-process cluster of three nodes (in-memory network,
// Raft and hosts) shares 768 public addresses, 256 per node; one node is
// disabled (ctdb disable: it releases, the others take) or stopped (its
// daemon shuts down): a node that is not the leader, or the leader (a new
// one is elected first; the in-process Raft timeouts are 200 ms). Timed:
// from the event until every address it held is on exactly one other
// node's host and on none of its own. The cluster's start and balance are
// not timed.
func BenchmarkTakeoverRun256(b *testing.B) {
	public, addrs := scalePublic()
	for _, how := range []string{"disable", "stop", "stop-leader"} {
		b.Run(how, func(b *testing.B) {
			var moved int
			for range b.N {
				b.StopTimer()
				c := clustertest.Start(b, 3, clustertest.WithPublicAddresses(public, "eth0"))
				v := clustertest.WaitAgreed(b, c, clustertest.Want{Timeout: time.Minute})
				victim := (v.Leader + 1) % 3
				if how == "stop-leader" {
					victim = v.Leader
				}
				var held []netip.Addr
				clustertest.WaitFor(b, time.Minute, "768 addresses balanced", func() error {
					held = held[:0]
					pl := placement(c)
					per := map[uint32]int{}
					for _, a := range addrs {
						if len(pl[a]) != 1 {
							return fmt.Errorf("%s on %v", a, pl[a])
						}
						per[pl[a][0]]++
						if pl[a][0] == victim {
							held = append(held, a)
						}
					}
					if per[victim] != scaleAddrs/3 {
						return fmt.Errorf("holders %v", per)
					}
					return nil
				})
				admin := c.Client(victim)
				b.StartTimer()
				start := time.Now()
				if how == "disable" {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					err := admin.DisableNode(ctx, victim)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				} else {
					c.StopNode(victim)
				}
				for {
					pl := placement(c)
					done := true
					for _, a := range held {
						if on := pl[a]; len(on) != 1 || on[0] == victim {
							done = false
							break
						}
					}
					if done {
						break
					}
					if time.Since(start) > time.Minute {
						b.Fatalf("%d addresses not moved within a minute", len(held))
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				moved = len(held)
				for p := range 3 {
					c.StopNode(uint32(p))
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(moved), "addrs")
		})
	}
}
