package linuxhost_test

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/netnstest"
	"github.com/rctdb/rctdb/internal/testutil"
)

func TestSetListAndDeleteAddresses(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	iface := r.Iface()
	for i, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		t.Run(family(p), func(t *testing.T) {
			for range 2 { // idempotent
				if err := h.SetAddress(iface, p, 0); err != nil {
					t.Fatal(err)
				}
			}
			if a, ok := addrsOf(t, h, iface)[p]; !ok || !a.Permanent {
				t.Fatalf("address %s: %+v (present %v), want permanent", p, a, ok)
			}
			if hs, err := r.Holders(p.Addr()); err != nil || !slices.Equal(hs, []int{0}) {
				t.Fatalf("holders %v %v", hs, err)
			}
			out := ipOut(t, r, 0, "-o", "addr", "show", "dev", iface, "to", p.String())
			if p.Addr().Is4() {
				if want := "brd " + strings.TrimSuffix(r.Public().Masked().Addr().String(), "0") + "255"; !strings.Contains(out, want) {
					t.Errorf("IPv4 address without %q: %s", want, out)
				}
			} else if !strings.Contains(out, "nodad") || strings.Contains(out, "tentative") {
				t.Errorf("IPv6 address not nodad or tentative: %s", out)
			}
			// Usable at once: no duplicate address detection to wait for.
			ap := netip.AddrPortFrom(p.Addr(), uint16(7100+i))
			serve(t, r, 0, ap)
			dial(t, r, ap)

			for range 2 { // idempotent
				if err := h.DeleteAddress(iface, p); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := addrsOf(t, h, iface)[p]; ok {
				t.Fatalf("%s still listed after delete", p)
			}
			if hs, err := r.Holders(p.Addr()); err != nil || len(hs) != 0 {
				t.Fatalf("holders after delete %v %v", hs, err)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		p := r.PublicAddr(1)
		err := h.SetAddress("nosuch0", p, 0)
		if err == nil || !strings.Contains(err.Error(), "nosuch0") || !strings.Contains(err.Error(), p.String()) {
			t.Errorf("set on a missing interface: %v", err)
		}
		if err := h.DeleteAddress("nosuch0", p); err != nil {
			t.Errorf("delete from a missing interface: %v", err)
		}
		if err := h.SetAddress(iface, p, -time.Second); err == nil {
			t.Error("negative lease accepted")
		}
		if err := h.SetAddress(iface, netip.Prefix{}, 0); err == nil {
			t.Error("invalid address accepted")
		}
		all, err := h.Addresses([]string{"nosuch0"})
		if _, ok := all["nosuch0"]; err != nil || ok {
			t.Errorf("addresses of a missing interface: %v %v", all, err)
		}
	})
}

func TestSetAddressWithAnotherPrefixLengthReplacesIt(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	p := r.PublicAddr(0)
	p28 := netip.PrefixFrom(p.Addr(), 28)
	if err := h.SetAddress(r.Iface(), p28, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.SetAddress(r.Iface(), p, 0); err != nil {
		t.Fatal(err)
	}
	got := addrsOf(t, h, r.Iface())
	if _, ok := got[p]; !ok {
		t.Fatalf("%s missing: %v", p, got)
	}
	if _, ok := got[p28]; ok {
		t.Fatalf("%s still there: %v", p28, got)
	}
	// DeleteAddress finds the address whatever length it was given with.
	if err := h.DeleteAddress(r.Iface(), p28); err != nil {
		t.Fatal(err)
	}
	if hs, _ := r.Holders(p.Addr()); len(hs) != 0 {
		t.Fatalf("holders %v after delete", hs)
	}
}

// TestRefreshKeepsConnectionAndUpdatesLifetime checks that refreshing a
// leased address updates its lifetimes in place: no RTM_DELADDR, and an
// open connection through it carries on.
func TestRefreshKeepsConnectionAndUpdatesLifetime(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	iface := r.Iface()
	for i, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		t.Run(family(p), func(t *testing.T) {
			if err := h.SetAddress(iface, p, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if a := addrsOf(t, h, iface)[p]; a.Permanent || a.Valid < 25*time.Second || a.Valid > 30*time.Second || a.Preferred != a.Valid {
				t.Fatalf("after a 30s lease: %+v", a)
			}
			ap := netip.AddrPortFrom(p.Addr(), uint16(7110+i))
			serve(t, r, 0, ap)
			c := dial(t, r, ap)

			mon := monitorAddrs(t, r, 0)
			var candidates []netip.Prefix
			for j := range 20 {
				candidates = append(candidates, r.PublicAddr(100+20*i+j))
			}
			markers := mon.ready(t, r, 0, candidates)
			marker := markers[len(markers)-1]
			for _, lease := range []time.Duration{300 * time.Second, 0} {
				if err := h.SetAddress(iface, p, lease); err != nil {
					t.Fatal(err)
				}
				echo(t, c, fmt.Sprint("after refresh to ", lease))
			}
			ipOut(t, r, 0, "addr", "del", marker.String(), "dev", iface)
			lines := mon.until(t, "Deleted", marker.Addr().String()+"/")
			for _, mk := range markers[:len(markers)-1] {
				ipOut(t, r, 0, "addr", "del", mk.String(), "dev", iface)
			}
			updates := 0
			for _, l := range lines {
				if strings.Contains(l, p.String()) {
					updates++
				}
				if strings.HasPrefix(l, "Deleted") {
					t.Errorf("refresh deleted an address: %s", l)
				}
			}
			if updates != 2 {
				t.Errorf("saw %d updates of %s, want 2: %q", updates, p, lines)
			}
			if a := addrsOf(t, h, iface)[p]; !a.Permanent {
				t.Fatalf("after refresh to forever: %+v", a)
			}
			// Back to a lease: lifetimes shrink in place too.
			if err := h.SetAddress(iface, p, 300*time.Second); err != nil {
				t.Fatal(err)
			}
			if a := addrsOf(t, h, iface)[p]; a.Permanent || a.Valid < 290*time.Second || a.Valid > 300*time.Second {
				t.Fatalf("after a 300s lease: %+v", a)
			}
			echo(t, c, "still here")
		})
	}
}

// TestLeaseExpiryRemovesAddress lets the kernel remove addresses whose lease
// was not refreshed, with the Host closed (as a frozen or dead daemon), and
// measures how late after the lease they go.
func TestLeaseExpiryRemovesAddress(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	type lease struct {
		addr  netip.Prefix
		lease time.Duration
		set   time.Time
	}
	var leases []lease
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		leases = append(leases, lease{addr: r.PublicAddr(i), lease: d}, lease{addr: r.PublicAddr6(i), lease: d})
	}
	for i := range leases {
		leases[i].set = time.Now()
		if err := h.SetAddress(r.Iface(), leases[i].addr, leases[i].lease); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	gone := make([]time.Time, len(leases))
	deadline := time.Now().Add(10 * time.Second)
	for left := len(leases); left > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d addresses outlived their lease by 6 s or more", left)
		}
		for i, l := range leases {
			if !gone[i].IsZero() {
				continue
			}
			hs, err := r.Holders(l.addr.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) == 0 {
				gone[i] = time.Now()
				left--
			}
		}
		time.Sleep(5 * time.Millisecond) // polling interval of the measurement
	}
	for i, l := range leases {
		late := gone[i].Sub(l.set) - l.lease
		t.Logf("%s lease %v: removed %v after the lease ran out", family(l.addr), l.lease, late.Round(time.Millisecond))
		// The kernel rounds its check up to whole seconds, and counts
		// ages with a fuzz of HZ/25+1 jiffies (< 50 ms) in its favour.
		if late < -100*time.Millisecond || late > 2500*time.Millisecond {
			t.Errorf("%s lease %v: removed %v after the lease", l.addr, l.lease, late)
		}
	}
}

func TestDeletingPrimaryKeepsSecondaries(t *testing.T) {
	r := netnstest.New(t, 2)
	h := newHost(t, r, 0)
	iface := r.Iface()
	primary, second, third := r.PublicAddr(0), r.PublicAddr(1), r.PublicAddr(2)
	for _, p := range []netip.Prefix{primary, second, third} {
		if err := h.SetAddress(iface, p, 0); err != nil {
			t.Fatal(err)
		}
	}
	if out := ipOut(t, r, 0, "-o", "addr", "show", "to", second.String()); !strings.Contains(out, "secondary") {
		t.Fatalf("%s is not a secondary: %s", second, out)
	}
	err := r.InNode(0, func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + iface + "/promote_secondaries")
		if err == nil && strings.TrimSpace(string(b)) != "1" {
			err = fmt.Errorf("promote_secondaries = %q", b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteAddress(iface, primary); err != nil {
		t.Fatal(err)
	}
	got := addrsOf(t, h, iface)
	for _, p := range []netip.Prefix{second, third} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s went with the primary: %v", p, got)
		}
	}

	// The kernel fact behind it: without promote_secondaries (node 1, left
	// as a new namespace has it) the secondaries go with the primary.
	ipOut(t, r, 1, "addr", "add", primary.String(), "dev", iface)
	ipOut(t, r, 1, "addr", "add", second.String(), "dev", iface)
	ipOut(t, r, 1, "addr", "del", primary.String(), "dev", iface)
	if out := ipOut(t, r, 1, "-o", "addr", "show", "to", second.String()); out != "" {
		t.Errorf("without promote_secondaries the secondary survived: %s", out)
	}
}

func TestChangesSignalsAddressAndLinkEvents(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	iface, p := r.Iface(), r.PublicAddr(0)
	ch := h.Changes()
	// waitChange waits for signals until cond holds after one of them.
	waitChange := func(what string, cond func() bool) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					t.Fatalf("Changes closed while waiting for %s", what)
				}
				if cond() {
					return
				}
			case <-timeout:
				t.Fatalf("no change signalled for %s", what)
			}
		}
	}
	has := func() bool { _, ok := addrsOf(t, h, iface)[p]; return ok }
	up := func() bool {
		l, err := h.Links([]string{iface})
		if err != nil {
			t.Fatal(err)
		}
		return l[iface].Up
	}

	if err := h.SetAddress(iface, p, 0); err != nil {
		t.Fatal(err)
	}
	waitChange("our own add", has)
	ipOut(t, r, 0, "addr", "del", p.String(), "dev", iface)
	waitChange("an address removed behind our back", func() bool { return !has() })
	r.CutLink(0)
	waitChange("the link losing carrier", func() bool { return !up() })
	r.RestoreLink(0)
	waitChange("the link coming back", up)
	ipOut(t, r, 0, "link", "set", iface, "down")
	waitChange("the link set down", func() bool { return !up() })

	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
}

func TestLinksReportExistenceAndState(t *testing.T) {
	r := netnstest.New(t, 1)
	h := newHost(t, r, 0)
	iface := r.Iface()
	links := func() map[string]linuxhost.Link {
		t.Helper()
		l, err := h.Links([]string{iface, "lo", "nosuch0"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := links()
	if e := l[iface]; !e.Exists || !e.Up || e.Index <= 0 || len(e.HardwareAddr) != 6 || e.OperState != "up" {
		t.Errorf("%s: %+v", iface, e)
	}
	if e := l["lo"]; !e.Exists || !e.Up {
		t.Errorf("lo: %+v", e)
	}
	if e := l["nosuch0"]; e.Exists || e.Up || e.Name != "nosuch0" {
		t.Errorf("nosuch0: %+v", e)
	}

	// A veth whose peer is down has no carrier: down, though IFF_UP.
	r.CutLink(0)
	if e := links()[iface]; e.Up {
		t.Errorf("after the peer went down: %+v", e)
	} else {
		t.Logf("peer down: oper state %q", e.OperState)
	}
	restored := time.Now()
	r.RestoreLink(0)
	testutil.WaitFor(t, 5*time.Second, "link up after restore", func() error {
		if e := links()[iface]; !e.Up {
			return fmt.Errorf("%+v", e)
		}
		return nil
	})
	t.Logf("up again %v after the peer came back", time.Since(restored).Round(time.Millisecond))
	ipOut(t, r, 0, "link", "set", iface, "down")
	if e := links()[iface]; e.Up {
		t.Errorf("after ip link set down: %+v", e)
	}
}
