package tests

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The sequences of TestIPCommandsBothTools that change the cluster.

// tickles is a connection list as ctdbd 4.17 keeps it: in the order the
// connections were added, a removed one replaced by the last.
type tickles struct {
	addr  netip.Addr
	conns [][2]netip.AddrPort // client, public address
}

func (l *tickles) add(c [2]netip.AddrPort) {
	if !slices.Contains(l.conns, c) {
		l.conns = append(l.conns, c)
	}
}

func (l *tickles) remove(c [2]netip.AddrPort) {
	if i := slices.Index(l.conns, c); i >= 0 {
		l.conns[i] = l.conns[len(l.conns)-1]
		l.conns = l.conns[:len(l.conns)-1]
	}
}

// gettickles is `ctdb gettickles` of the list (port 0: every port), -X
// with sep.
func (l *tickles) gettickles(port uint16, sep string) toolResult {
	var b strings.Builder
	var shown [][2]netip.AddrPort
	for _, c := range l.conns {
		if port == 0 || c[1].Port() == port {
			shown = append(shown, c)
		}
	}
	if sep != "" {
		fmt.Fprintf(&b, "%[1]sSource IP%[1]sPort%[1]sDestiation IP%[1]sPort%[1]s\n", sep)
		for _, c := range shown {
			fmt.Fprintf(&b, "%[1]s%[2]s%[1]s%[3]d%[1]s%[4]s%[1]s%[5]d%[1]s\n", sep, c[0].Addr(), c[0].Port(), c[1].Addr(), c[1].Port())
		}
		return toolResult{stdout: b.String()}
	}
	fmt.Fprintf(&b, "Connections for IP: %s\nNum connections: %d\n", l.addr, len(shown))
	for _, c := range shown {
		fmt.Fprintf(&b, "SRC: %s   DST: %s\n", c[0], c[1])
	}
	return toolResult{stdout: b.String()}
}

func endpoint(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

func connLine(c [2]netip.AddrPort) string { return c[0].String() + " " + c[1].String() }

// ticklesAndMoveip: connections registered with addtickle on the holder
// of an address, listed, sent to the other nodes, removed with deltickle;
// then moveip takes the address elsewhere, which tickles them and empties
// the lists, and moves it back.
func ticklesAndMoveip(t *testing.T, tp *toolPair) {
	ic := tp.ic
	s := ic.state(t)
	a := ic.addrs[0]
	h := s.holder[a]
	x, n := (h+1)%3, (h+2)%3
	client, client6, nobody := ic.rig.ClientAddr(), ic.rig.ClientAddr6(), ic.rig.PublicAddr(150).Addr()
	c40002 := [2]netip.AddrPort{endpoint(client, 40002), endpoint(a, 445)}
	c40000 := [2]netip.AddrPort{endpoint(client, 40000), endpoint(a, 445)}
	c40005 := [2]netip.AddrPort{endpoint(client6, 40005), endpoint(a, 139)}
	c40003 := [2]netip.AddrPort{endpoint(client, 40003), endpoint(a, 445)}
	foreign := [2]netip.AddrPort{endpoint(client, 40004), endpoint(nobody, 445)}
	tp.eachTool(t, "tickles and moveip", func(run step) {
		l := &tickles{addr: a}
		empty := (&tickles{addr: a}).gettickles(0, "")
		addtickle := func(c [2]netip.AddrPort) {
			run(cmdOn(h, "addtickle", c[0].String(), c[1].String()), toolResult{}, "")
			l.add(c)
		}
		addtickle(c40002)
		addtickle(c40000)
		addtickle(c40005)
		addtickle(c40000)
		run(toolCmd{pnn: h, stdin: connLine(c40003) + "\n# a comment\n\n" + connLine(foreign) + "\n", args: []string{"addtickle"}},
			toolResult{stderr: "Failed to add 1 tickles\n", rc: 1}, "")
		l.add(c40003)
		run(cmdOn(h, "addtickle", foreign[0].String(), foreign[1].String()),
			toolResult{stderr: "Control TCP_ADD_DELAYED_UPDATE failed, ret=-1\nFailed to register connection\n", rc: 1}, "")
		run(cmdOn(h, "gettickles", a.String()), l.gettickles(0, ""), "")
		run(cmdOn(h, "-X", "gettickles", a.String()), l.gettickles(0, "|"), "")
		run(cmdOn(h, "-Y", "-x", ",", "gettickles", a.String(), "445"), l.gettickles(445, ","), "")
		run(cmdOn(h, "gettickles", a.String(), "139"), l.gettickles(139, ""), "")

		// The holder sends its list to the others (TickleUpdateInterval).
		d := waitUntil(t, 25*time.Second, "the other nodes to have the holder's list", func() error {
			want := tp.observe(t, h, "gettickles", a.String())
			for _, p := range []int{x, n} {
				if got := tp.observe(t, p, "gettickles", a.String()); got != want {
					return fmt.Errorf("node %d: %v; holder: %v", p, got, want)
				}
			}
			return nil
		})
		t.Logf("the other nodes had the holder's list after %v", d.Round(time.Millisecond))
		run(cmdOn(n, "gettickles", a.String()), l.gettickles(0, ""), "")
		run(cmdOn(h, "-n", fmt.Sprint(x), "gettickles", a.String(), "445"), l.gettickles(445, ""), "")

		run(cmdOn(h, "deltickle", c40002[0].String(), c40002[1].String()), toolResult{}, "")
		l.remove(c40002)
		run(cmdOn(h, "gettickles", a.String()), l.gettickles(0, ""), "")

		// The new holder tickles the connections and starts an empty list,
		// which it sends to the others.
		run(cmdOn(0, "moveip", a.String(), fmt.Sprint(x)), toolResult{}, "")
		waitHolders(t, ic, a, x)
		d = waitUntil(t, 10*time.Second, "every node's list of "+a.String()+" empty", func() error {
			for p := range ic.Nodes {
				if got := tp.observe(t, p, "gettickles", a.String()); got != empty {
					return fmt.Errorf("node %d: %v", p, got)
				}
			}
			return nil
		})
		t.Logf("every node's list empty %v after the move", d.Round(time.Millisecond))
		moved := ic.state(t)
		for _, p := range []int{x, h, n} {
			run(cmdOn(p, "gettickles", a.String()), empty, "")
			run(cmdOn(p, "ifaces"), toolResult{stdout: moved.ifaces(p, "")}, "")
		}
		run(cmdOn(1, "ip", "-v", "all"), toolResult{stdout: moved.ip(1, true, true, "")}, "")
		run(cmdOn(x, "ipinfo", a.String()), moved.ipinfo(x, a), "")
		run(cmdOn(0, "moveip", a.String(), fmt.Sprint(x)), toolResult{}, "") // already there
		run(cmdOn(1, "moveip", a.String(), fmt.Sprint(h)), toolResult{}, "")
		waitHolders(t, ic, a, h)

		// Standard input takes no mixed families (the arguments do).
		run(toolCmd{pnn: h, stdin: connLine(c40000) + "\n" + connLine(foreign) + "\n", args: []string{"deltickle"}}, toolResult{}, "")
		run(toolCmd{pnn: h, stdin: connLine(c40005) + "\n", args: []string{"deltickle"}}, toolResult{rc: 22}, "")
		run(cmdOn(h, "deltickle", c40005[0].String(), c40005[1].String()), toolResult{}, "")
		run(cmdOn(h, "deltickle", c40003[0].String(), c40003[1].String()), toolResult{}, "")
		run(cmdOn(h, "gettickles", a.String()), empty, "")
		tp.restorePlacement(t, s.holder)
	})
}

// setifacelink: a node's interface set down loses its addresses to the
// others and shows so; set up, it gets one back.
func setifacelink(t *testing.T, tp *toolPair) {
	ic := tp.ic
	s := ic.state(t)
	l := s.holder[ic.addrs[1]]
	other := (l + 1) % 3
	tp.eachTool(t, "setifacelink", func(run step) {
		run(cmdOn(l, "setifacelink", s.iface, "down"), toolResult{}, "")
		waitBalanced(t, ic, []int{l})
		down := ic.state(t)
		down.down[l] = true
		run(cmdOn(l, "ifaces"), toolResult{stdout: down.ifaces(l, "")}, "")
		run(cmdOn(other, "-n", fmt.Sprint(l), "-X", "ifaces"), toolResult{stdout: down.ifaces(l, "|")}, "")
		run(cmdOn(l, "ip", "-v"), toolResult{stdout: down.ip(l, false, true, "")}, "")
		run(cmdOn(other, "-X", "ip", "-v", "all"), toolResult{stdout: down.ip(other, true, true, "|")}, "")
		run(cmdOn(l, "ipinfo", ic.addrs[1].String()), down.ipinfo(l, ic.addrs[1]), "")
		run(cmdOn(other, "-n", fmt.Sprint(l), "setifacelink", s.iface, "up"), toolResult{}, "")
		waitBalanced(t, ic, nil)
		tp.restorePlacement(t, s.holder)
	})
}

// addipDelip: an IPv4 address added on every node and an IPv6 one on node
// 0 only are taken; deleted, they go.
func addipDelip(t *testing.T, tp *toolPair) {
	ic := tp.ic
	s := ic.state(t)
	base := slices.Clone(ic.addrs)
	e4, e6 := ic.rig.PublicAddr(3), ic.rig.PublicAddr6(0)
	defer func() { ic.addrs = base }()
	tp.eachTool(t, "addip and delip", func(run step) {
		for p := range ic.Nodes {
			run(cmdOn(p, "addip", e4.String(), s.iface), toolResult{}, "")
		}
		ic.addrs = append(slices.Clone(base), e4.Addr())
		waitBalanced(t, ic, nil)
		// Where it went depends on when the runs came; the same place
		// for both tools keeps their answers comparable.
		mustTool(t, ic.Cluster, 0, "moveip", e4.Addr().String(), "2")
		waitHolders(t, ic, e4.Addr(), 2)
		run(cmdOn(0, "addip", e4.String(), s.iface), toolResult{stderr: fmt.Sprintf("Node already knows about IP %s\n", e4.Addr())}, "")
		run(cmdOn(0, "addip", e6.String(), s.iface), toolResult{}, "")
		waitHolders(t, ic, e6.Addr(), 0)
		added := ic.state(t)
		added.known[0] = append(added.known[0], e6.Addr())
		added.holder[e6.Addr()] = 0
		run(cmdOn(0, "ip", "-v"), toolResult{stdout: added.ip(0, false, true, "")}, "")
		run(cmdOn(1, "ip", "-v", "all"), toolResult{stdout: added.ip(1, true, true, "")}, "")
		run(cmdOn(1, "-X", "ip"), toolResult{stdout: added.ip(1, false, false, "|")}, "")
		run(cmdOn(0, "ipinfo", e6.Addr().String()), added.ipinfo(0, e6.Addr()), "")
		run(cmdOn(1, "ipinfo", e6.Addr().String()), added.ipinfo(1, e6.Addr()), "")
		run(cmdOn(0, "ifaces"), toolResult{stdout: added.ifaces(0, "")}, "")

		// ctdbd keeps a hosted address it was told to delete until the
		// next takeover run.
		run(cmdOn(0, "delip", e6.Addr().String()), toolResult{}, "")
		run(cmdOn(0, "ip"), toolResult{stdout: added.ip(0, false, false, "")}, "delip of a hosted address")
		run(cmdOn(0, "ipreallocate"), toolResult{}, "")
		if d := waitHolders(t, ic, e6.Addr(), -1); d > 2*time.Second {
			t.Errorf("%s left node 0 %v after ipreallocate", e6.Addr(), d.Round(time.Millisecond))
		}
		// Deleted on its holder only, the address goes to another node in
		// the next takeover run, and must leave the first one before.
		h4 := ic.state(t).holder[e4.Addr()]
		watch := ic.rig.WatchOverlaps(10*time.Millisecond, e4.Addr())
		run(cmdOn(h4, "delip", e4.Addr().String()), toolResult{}, "")
		run(cmdOn(h4, "ipreallocate"), toolResult{}, "")
		d := waitUntil(t, 10*time.Second, fmt.Sprintf("%s on one node but %d", e4.Addr(), h4), func() error {
			on, err := ic.rig.Holders(e4.Addr())
			if err != nil {
				return err
			}
			if len(on) != 1 || on[0] == h4 {
				return fmt.Errorf("%s on %v", e4.Addr(), on)
			}
			return nil
		})
		overlaps, err := watch.Stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s moved off node %d after %v", e4.Addr(), h4, d.Round(time.Millisecond))
		for _, o := range overlaps {
			t.Errorf("%s on nodes %v for %v (%d samples 10 ms apart)", o.Addr, o.Nodes,
				o.Last.Sub(o.First).Round(time.Millisecond), o.Samples)
		}
		for _, p := range []int{(h4 + 1) % 3, (h4 + 2) % 3} {
			run(cmdOn(p, "delip", e4.Addr().String()), toolResult{}, "")
		}
		run(cmdOn(0, "ipreallocate"), toolResult{}, "")
		waitHolders(t, ic, e4.Addr(), -1)
		ic.addrs = base
		run(cmdOn(0, "delip", e4.Addr().String()), toolResult{stderr: fmt.Sprintf("Node does not know about IP address %s\n", e4.Addr())}, "")
		tp.restorePlacement(t, s.holder)
	})
}

// reloadips: an address added to every node's file is taken after
// reloadips, and goes after it is removed and reloaded again.
func reloadips(t *testing.T, tp *toolPair) {
	ic := tp.ic
	s := ic.state(t)
	base := slices.Clone(ic.addrs)
	e4 := ic.rig.PublicAddr(4)
	defer func() { ic.addrs = base }()
	files := map[string][]byte{}
	for _, n := range ic.Nodes {
		f := filepath.Join(n.Dir, "public_addresses")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	write := func(extra string) {
		for f, b := range files {
			if err := os.WriteFile(f, append(slices.Clone(b), extra...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer write("")
	tp.eachTool(t, "reloadips", func(run step) {
		write(fmt.Sprintf("%s %s\n", e4, s.iface))
		run(cmdOn(0, "reloadips"), toolResult{}, "")
		ic.addrs = append(slices.Clone(base), e4.Addr())
		waitBalanced(t, ic, nil)
		run(cmdOn(2, "-X", "ip", "all"), toolResult{stdout: ic.state(t).ip(2, true, false, "|")}, "")
		write("")
		run(cmdOn(1, "reloadips", "all"), toolResult{}, "")
		if d := waitHolders(t, ic, e4.Addr(), -1); d > 2*time.Second {
			t.Errorf("%s left its node %v after reloadips", e4.Addr(), d.Round(time.Millisecond))
		}
		ic.addrs = base
		waitBalanced(t, ic, nil)
		run(cmdOn(0, "reloadips", "2,0x0"), toolResult{}, "")
		run(cmdOn(0, "ip", "all"), toolResult{stdout: ic.state(t).ip(0, true, false, "")}, "")
		tp.restorePlacement(t, s.holder)
	})
}
