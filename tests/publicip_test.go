package tests

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/netnstest"
)

// ipCluster is a cluster of real daemons, each in a network namespace of a
// rig, sharing public addresses on eth0.
type ipCluster struct {
	*localcluster.Cluster
	rig   *netnstest.Rig
	addrs []netip.Addr
}

// startIPCluster starts n nodes in their own namespaces with k public
// addresses and waits until every address is on exactly one node.
func startIPCluster(t *testing.T, n, k int) *ipCluster {
	t.Helper()
	return startIPClusterWith(t, n, k, nil)
}

// startIPClusterWith is startIPCluster with the options adjusted by
// adjust (scripts, environment) before the cluster starts.
func startIPClusterWith(t *testing.T, n, k int, adjust func(*localcluster.Options)) *ipCluster {
	t.Helper()
	rig := netnstest.New(t, n)
	var public strings.Builder
	ic := &ipCluster{rig: rig}
	for i := 0; i < k; i++ {
		p := rig.PublicAddr(i)
		ic.addrs = append(ic.addrs, p.Addr())
		fmt.Fprintf(&public, "%s %s\n", p, rig.Iface())
	}
	opts := localcluster.Options{N: n, PublicAddresses: public.String()}
	for i := 0; i < n; i++ {
		opts.Addrs = append(opts.Addrs, rig.PrivateAddr(i))
		opts.Netns = append(opts.Netns, rig.NodeNS(i))
	}
	if adjust != nil {
		adjust(&opts)
	}
	ic.Cluster = clusterWith(t, opts)
	ic.waitPlaced(t, nil, 15*time.Second)
	return ic
}

// placed returns the nodes carrying each address, by the rig's kernels.
func (ic *ipCluster) placed() (map[netip.Addr][]int, error) {
	out := map[netip.Addr][]int{}
	for _, a := range ic.addrs {
		h, err := ic.rig.Holders(a)
		if err != nil {
			return nil, err
		}
		out[a] = h
	}
	return out, nil
}

// waitPlaced waits until every address is on exactly one node, none on a
// node in not, and the addresses are spread evenly over the other nodes;
// it returns the holders and how long it took.
func (ic *ipCluster) waitPlaced(t *testing.T, not []int, timeout time.Duration) (map[netip.Addr]int, time.Duration) {
	t.Helper()
	var got map[netip.Addr]int
	d := waitUntil(t, timeout, "every public address on one node, evenly", func() error {
		pl, err := ic.placed()
		if err != nil {
			return err
		}
		got = map[netip.Addr]int{}
		per := map[int]int{}
		for a, on := range pl {
			if len(on) != 1 {
				return fmt.Errorf("%s is on nodes %v", a, on)
			}
			if slices.Contains(not, on[0]) {
				return fmt.Errorf("%s is on node %d", a, on[0])
			}
			got[a] = on[0]
			per[on[0]]++
		}
		hosts := len(ic.Nodes) - len(not)
		most := (len(ic.addrs) + hosts - 1) / hosts
		for p, k := range per {
			if k > most {
				return fmt.Errorf("node %d has %d of %d addresses", p, k, len(ic.addrs))
			}
		}
		return nil
	})
	return got, d
}

// toolIP runs Debian's `ctdb ip` on node pnn and returns address -> pnn.
func (ic *ipCluster) toolIP(t *testing.T, pnn uint32) map[netip.Addr]int {
	t.Helper()
	out := mustTool(t, ic.Cluster, pnn, "-X", "ip")
	got := map[netip.Addr]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Split(strings.Trim(l, "|"), "|")
		var p int
		fmt.Sscanf(f[1], "%d", &p)
		got[netip.MustParseAddr(f[0])] = p
	}
	return got
}

// TestPublicAddressesBalanced: three nodes, three addresses: one each, on
// exactly one interface, and Debian's tool on every node shows where.
func TestPublicAddressesBalanced(t *testing.T) {
	ic := startIPCluster(t, 3, 3)
	got, _ := ic.waitPlaced(t, nil, 10*time.Second)
	for p := uint32(0); p < 3; p++ {
		waitUntil(t, 5*time.Second, "ctdb ip to show the holders", func() error {
			shown := ic.toolIP(t, p)
			for a, h := range got {
				if shown[a] != h {
					return fmt.Errorf("ctdb ip on node %d shows %s on %d, the kernel has it on %d", p, a, shown[a], h)
				}
			}
			return nil
		})
	}
}

// killHolder kills the node holding the first address (the leader or not)
// and measures until the address answers a TCP connect from the client
// namespace on a survivor.
func killHolder(t *testing.T, ic *ipCluster, leader bool) {
	v := clustertest.WaitAgreed(t, ic, clustertest.Want{})
	placed, _ := ic.waitPlaced(t, nil, 10*time.Second)
	var victim int = -1
	var a netip.Addr
	for addr, p := range placed {
		if (uint32(p) == v.Leader) == leader {
			victim, a = p, addr
			break
		}
	}
	if victim < 0 {
		t.Fatalf("no address on a node that is leader=%v: %v (leader %d)", leader, placed, v.Leader)
	}
	// Something must listen on the address wherever it goes: the daemons
	// listen on their node address only, so listen on every node.
	for k := range ic.Nodes {
		ln, err := ic.rig.ListenTCP(k, netip.AddrPortFrom(netip.IPv4Unspecified(), 4445))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	start := time.Now()
	if err := ic.Kill(uint32(victim)); err != nil {
		t.Fatal(err)
	}
	d := waitSince(t, start, 10*time.Second, "the address to answer on a survivor", func() error {
		on, err := ic.rig.Holders(a)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(on, func(k int) bool { return k != victim }) {
			return fmt.Errorf("%s only on %v", a, on)
		}
		return ic.rig.Dial(netip.AddrPortFrom(a, 4445), 200*time.Millisecond)
	})
	t.Logf("kill -9 of %s %d: %s answers on a survivor after %v", map[bool]string{true: "leader", false: "non-leader"}[leader], victim, a, d.Round(time.Millisecond))
	// Restarted, the node removes the copy its kernel kept and takes back
	// an address (LCP2 gives the empty node one).
	if err := ic.Restart(uint32(victim)); err != nil {
		t.Fatal(err)
	}
	ic.waitPlaced(t, nil, 20*time.Second)
}

func TestKillNonLeaderHolder(t *testing.T) { killHolder(t, startIPCluster(t, 3, 3), false) }
func TestKillLeaderHolder(t *testing.T)    { killHolder(t, startIPCluster(t, 3, 3), true) }

// TestSilentNodeNeverShares: a node stopped with SIGSTOP, and one whose
// cable is cut, lose their addresses to the others, and sampling every
// 10 ms never finds an address on two interfaces.
func TestSilentNodeNeverShares(t *testing.T) {
	ic := startIPCluster(t, 3, 3)
	watch := ic.rig.WatchOverlaps(10*time.Millisecond, ic.addrs...)
	for _, how := range []string{"SIGSTOP", "cut link"} {
		placed, _ := ic.waitPlaced(t, nil, 20*time.Second)
		victim := placed[ic.addrs[0]]
		start := time.Now()
		if how == "SIGSTOP" {
			if err := ic.Signal(uint32(victim), syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		} else {
			ic.rig.CutLink(victim)
		}
		ic.waitPlaced(t, []int{victim}, 30*time.Second)
		t.Logf("%s of node %d: its addresses on the others after %v", how, victim, time.Since(start).Round(time.Millisecond))
		if how == "SIGSTOP" {
			ic.Signal(uint32(victim), syscall.SIGCONT)
		} else {
			ic.rig.RestoreLink(victim)
		}
	}
	ic.waitPlaced(t, nil, 30*time.Second)
	overlaps, err := watch.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(overlaps) > 0 {
		t.Fatalf("an address was on two nodes: %+v", overlaps)
	}
}

// TestFlagsMoveAddresses: disable, stop and ban take a node's address away;
// enable, continue and the ban's end give it back (Debian's tool).
func TestFlagsMoveAddresses(t *testing.T) {
	ic := startIPCluster(t, 3, 3)
	watch := ic.rig.WatchOverlaps(10*time.Millisecond, ic.addrs...)
	for _, step := range [][2][]string{
		{{"disable"}, {"enable"}},
		{{"stop"}, {"continue"}},
		{{"ban", "3"}, nil},
	} {
		placed, _ := ic.waitPlaced(t, nil, 20*time.Second)
		victim := placed[ic.addrs[1]]
		mustTool(t, ic.Cluster, uint32(victim), step[0]...)
		ic.waitPlaced(t, []int{victim}, 20*time.Second)
		if step[1] != nil {
			mustTool(t, ic.Cluster, uint32(victim), step[1]...)
		}
		ic.waitPlaced(t, nil, 20*time.Second)
	}
	if overlaps, err := watch.Stop(); err != nil || len(overlaps) > 0 {
		t.Fatalf("overlaps %+v, err %v", overlaps, err)
	}
}

// TestMoveAddDelReload: moveip, addip, delip and reloadips (Debian's tool).
func TestMoveAddDelReload(t *testing.T) {
	ic := startIPCluster(t, 3, 3)
	placed, _ := ic.waitPlaced(t, nil, 10*time.Second)
	a := ic.addrs[0]
	to := (placed[a] + 1) % 3
	mustTool(t, ic.Cluster, 0, "moveip", a.String(), fmt.Sprint(to))
	waitUntil(t, 10*time.Second, "moveip", func() error {
		on, err := ic.rig.Holders(a)
		if err != nil || !slices.Equal(on, []int{to}) {
			return fmt.Errorf("%s on %v (%v)", a, on, err)
		}
		return nil
	})
	// A fourth address, added on every node, is taken by someone.
	extra := ic.rig.PublicAddr(3)
	for p := range ic.Nodes {
		mustTool(t, ic.Cluster, uint32(p), "addip", extra.String(), ic.rig.Iface())
	}
	ic.addrs = append(ic.addrs, extra.Addr())
	ic.waitPlaced(t, nil, 10*time.Second)
	// Deleted everywhere, it goes.
	for p := range ic.Nodes {
		mustTool(t, ic.Cluster, uint32(p), "delip", extra.Addr().String())
	}
	ic.addrs = ic.addrs[:3]
	waitUntil(t, 10*time.Second, "the deleted address gone", func() error {
		if on, err := ic.rig.Holders(extra.Addr()); err != nil || len(on) != 0 {
			return fmt.Errorf("%s still on %v (%v)", extra.Addr(), on, err)
		}
		return nil
	})
	// reloadips after adding it to every file brings it back.
	for _, n := range ic.Nodes {
		f, err := os.OpenFile(filepath.Join(n.Dir, "public_addresses"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s %s\n", extra, ic.rig.Iface())
		f.Close()
	}
	mustTool(t, ic.Cluster, 0, "reloadips")
	ic.addrs = append(ic.addrs, extra.Addr())
	ic.waitPlaced(t, nil, 10*time.Second)
}
