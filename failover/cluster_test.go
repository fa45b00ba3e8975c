package failover_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

// public is the public_addresses of the in-process clusters here.
const public = "10.9.0.1/24 eth0\n10.9.0.2/24 eth0\n10.9.0.3/24 eth0\n"

var addrs = []netip.Addr{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.0.3")}

func start(t *testing.T, n int) *clustertest.InProcess {
	t.Helper()
	c := clustertest.Start(t, n, clustertest.WithPublicAddresses(public, "eth0"))
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	return c
}

// carriers returns, per address, the nodes whose host carries it.
func carriers(c *clustertest.InProcess) map[netip.Addr][]uint32 {
	out := map[netip.Addr][]uint32{}
	for p := 0; p < c.Size(); p++ {
		h := c.Host(uint32(p))
		if h == nil {
			continue
		}
		for _, a := range addrs {
			if len(h.Holds(a)) > 0 {
				out[a] = append(out[a], uint32(p))
			}
		}
	}
	return out
}

// waitCarried waits until every address is on exactly one node, none on
// a node in not, and every node holds at most most addresses; it returns
// the holders.
func waitCarried(t *testing.T, c *clustertest.InProcess, not []uint32, most int) map[netip.Addr]uint32 {
	t.Helper()
	var got map[netip.Addr]uint32
	clustertest.WaitFor(t, 20*time.Second, "every address on one node", func() error {
		got = map[netip.Addr]uint32{}
		per := map[uint32]int{}
		for _, a := range addrs {
			on := carriers(c)[a]
			if len(on) != 1 {
				return fmt.Errorf("%s is on %v", a, on)
			}
			if slices.Contains(not, on[0]) {
				return fmt.Errorf("%s is on node %d", a, on[0])
			}
			got[a] = on[0]
			per[on[0]]++
		}
		for p, k := range per {
			if k > most {
				return fmt.Errorf("node %d holds %d addresses", p, k)
			}
		}
		return nil
	})
	return got
}

// sampler records every moment an address was on two nodes.
type sampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	bad  []string
}

func sample(c *clustertest.InProcess) *sampler {
	s := &sampler{stop: make(chan struct{})}
	s.wg.Go(func() {
		for {
			for a, on := range carriers(c) {
				if len(on) > 1 {
					s.mu.Lock()
					s.bad = append(s.bad, fmt.Sprintf("%s on nodes %v", a, on))
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return s
}

// check stops the sampler and fails the test if an address was ever on
// two nodes.
func (s *sampler) check(t *testing.T) {
	t.Helper()
	close(s.stop)
	s.wg.Wait()
	if len(s.bad) > 0 {
		t.Fatalf("an address was on two nodes %d times, first: %s", len(s.bad), s.bad[0])
	}
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBalancedAndAgreed: three nodes share three addresses one each, and
// every node reports the same holders (GET_PUBLIC_IPS).
func TestBalancedAndAgreed(t *testing.T) {
	c := start(t, 3)
	got := waitCarried(t, c, nil, 1)
	clustertest.WaitFor(t, 5*time.Second, "every node reports the holders", func() error {
		for p := uint32(0); p < 3; p++ {
			l, err := c.Client(p).GetPublicIPs(tctx(t), protocol.CurrentNode, false)
			if err != nil {
				return err
			}
			if len(l) != 3 {
				return fmt.Errorf("node %d lists %d addresses", p, len(l))
			}
			for _, ip := range l {
				if want := got[ip.Addr.Addr]; ip.PNN != want {
					return fmt.Errorf("node %d says %s is on %d, it is on %d", p, ip.Addr.Addr, ip.PNN, want)
				}
			}
		}
		return nil
	})
}

// TestStoppedNodeHandsOver: a node that shuts down releases its address,
// and another node takes it; never are two nodes carrying one address.
func TestStoppedNodeHandsOver(t *testing.T) {
	c := start(t, 3)
	before := waitCarried(t, c, nil, 1)
	s := sample(c)
	victim := before[addrs[0]]
	start := time.Now()
	c.StopNode(victim)
	waitCarried(t, c, []uint32{victim}, 2)
	t.Logf("address of stopped node %d moved after %v", victim, time.Since(start).Round(time.Millisecond))
	s.check(t)
}

// TestSilentNodeKeepsItsAddressUntilItsLeaseRanOut: a node cut off from
// the others drops its address when it loses the quorum; the others take
// it only once its lease must have run out, so that no moment sees it on
// two nodes; when the node is back, LCP2 gives it an address again.
func TestSilentNodeKeepsItsAddressUntilItsLeaseRanOut(t *testing.T) {
	c := start(t, 3)
	before := waitCarried(t, c, nil, 1)
	victim := before[addrs[1]]
	others := clustertest.Except(3, victim)
	s := sample(c)
	cut := time.Now()
	c.Partition([]uint32{victim}, others)
	waitCarried(t, c, []uint32{victim}, 2)
	moved := time.Since(cut)
	t.Logf("address of silent node %d moved after %v (lease 3s + 2s slack)", victim, moved.Round(time.Millisecond))
	if moved < 3*time.Second {
		t.Errorf("a silent node's address moved after %v, before its lease could have run out", moved)
	}
	c.Heal()
	waitCarried(t, c, nil, 1)
	t.Logf("balanced again %v after the heal", time.Since(cut.Add(moved)).Round(time.Millisecond))
	s.check(t)
}

// TestDisableEnableMoveAddresses: a disabled node hosts nothing; enabled
// again it gets an address back.
func TestDisableEnableMoveAddresses(t *testing.T) {
	c := start(t, 3)
	before := waitCarried(t, c, nil, 1)
	victim := before[addrs[2]]
	s := sample(c)
	if err := c.Client(victim).DisableNode(tctx(t), victim); err != nil {
		t.Fatal(err)
	}
	waitCarried(t, c, []uint32{victim}, 2)
	if err := c.Client(victim).EnableNode(tctx(t), victim); err != nil {
		t.Fatal(err)
	}
	waitCarried(t, c, nil, 1)
	s.check(t)
}

// TestMoveIP: TAKEOVER_IP on a node (ctdb moveip) moves the address there,
// and no run moves it back unless something calls for one (as in 4.17,
// where the node left empty gets an address at the next run).
func TestMoveIP(t *testing.T) {
	c := start(t, 3)
	before := waitCarried(t, c, nil, 1)
	a := addrs[0]
	to := (before[a] + 1) % 3
	s := sample(c)
	ip := protocol.PublicIP{PNN: to, Addr: protocol.SockAddrFrom(netip.AddrPortFrom(a, 0))}
	if r, err := c.Client(to).Control(tctx(t), protocol.CurrentNode, protocol.ControlTakeoverIP, 0, 0, ip.Marshal()); err != nil || r.Status != 0 {
		t.Fatalf("TAKEOVER_IP: %+v %v", r, err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the address on its new node", func() error {
		if on := carriers(c)[a]; !slices.Equal(on, []uint32{to}) {
			return fmt.Errorf("%s on %v", a, on)
		}
		return nil
	})
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if on := carriers(c)[a]; !slices.Equal(on, []uint32{to}) {
			t.Fatalf("%s moved on to %v without a takeover run asked for", a, on)
		}
	}
	// ctdb ipreallocate rebalances: the node moveip emptied gets one back.
	if _, err := c.Client(0).Ipreallocate(tctx(t), time.Second); err != nil {
		t.Fatal(err)
	}
	waitCarried(t, c, nil, 1)
	s.check(t)
}

// TestAddressRemovedBehindOurBackComesBack and stale addresses go: the
// node puts back an address taken off its interface, and removes one of
// its public addresses the cluster did not give it.
func TestAddressRemovedBehindOurBackComesBack(t *testing.T) {
	c := start(t, 3)
	before := waitCarried(t, c, nil, 1)
	a := addrs[0]
	p := before[a]
	c.Host(p).Remove("eth0", netip.PrefixFrom(a, 24))
	clustertest.WaitFor(t, 10*time.Second, "the address back", func() error {
		if on := carriers(c)[a]; !slices.Equal(on, []uint32{p}) {
			return fmt.Errorf("%s on %v", a, on)
		}
		return nil
	})
	other := (p + 1) % 3
	c.Host(other).Add("eth0", netip.PrefixFrom(a, 24))
	waitCarried(t, c, nil, 1)
}
