package linuxhost_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/netnstest"
	"github.com/rctdb/rctdb/internal/testutil"
)

// moveAddress fails addr over from node 0 to node 1 as a takeover does:
// node 0 deletes it, node 1 adds it; the client still has node 0's MAC.
func moveAddress(t *testing.T, r *netnstest.Rig, h0, h1 *linuxhost.Host, p netip.Prefix) {
	t.Helper()
	if err := h0.DeleteAddress(r.Iface(), p); err != nil {
		t.Fatal(err)
	}
	if err := h1.SetAddress(r.Iface(), p, 0); err != nil {
		t.Fatal(err)
	}
}

func macOf(t *testing.T, h *linuxhost.Host, iface string) net.HardwareAddr {
	t.Helper()
	l, err := h.Links([]string{iface})
	if err != nil {
		t.Fatal(err)
	}
	return l[iface].HardwareAddr
}

// TestAnnounceMovesNeighbours checks every byte of the announcement frames
// (CTDB 4.17, §6.1 of the fact sheet) as the client receives them, and that
// the client's neighbour entry moves to the new holder.
func TestAnnounceMovesNeighbours(t *testing.T) {
	r := netnstest.New(t, 2)
	h0, h1 := newHost(t, r, 0), newHost(t, r, 1)
	iface := r.Iface()
	mac0, mac1 := macOf(t, h0, iface), macOf(t, h1, iface)
	for i, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		t.Run(family(p), func(t *testing.T) {
			ip := p.Addr()
			if err := h0.SetAddress(iface, p, 0); err != nil {
				t.Fatal(err)
			}
			ap := netip.AddrPortFrom(ip, uint16(7200+i))
			serve(t, r, 0, ap)
			dial(t, r, ap)
			if got := clientNeighMAC(t, r, ip); got != mac0.String() {
				t.Fatalf("client's neighbour entry for %s: %q, want node 0's %s", ip, got, mac0)
			}
			c := openCapture(t, r)
			moveAddress(t, r, h0, h1, p)
			sent := time.Now()
			if err := h1.Announce(iface, ip); err != nil {
				t.Fatal(err)
			}
			if ip.Is4() {
				for _, op := range []uint16{1, 2} {
					got := c.next(t, fmt.Sprint("ARP op ", op), func(f []byte) bool {
						return len(f) >= 42 && binary.BigEndian.Uint16(f[12:14]) == 0x0806 &&
							binary.BigEndian.Uint16(f[20:22]) == op && bytes.Equal(f[28:32], ip.AsSlice())
					})
					if want := wantARP(ip, mac1, op); !bytes.Equal(got, want) {
						t.Errorf("ARP op %d frame\n got %x\nwant %x", op, got, want)
					}
				}
			} else {
				got := c.next(t, "neighbour advertisement", func(f []byte) bool {
					return len(f) >= 78 && binary.BigEndian.Uint16(f[12:14]) == 0x86dd && f[20] == 58 &&
						f[54] == 136 && bytes.Equal(f[62:78], ip.AsSlice())
				})
				want := wantNA(ip, mac1)
				copy(want[56:58], got[56:58])
				if !bytes.Equal(got, want) {
					t.Errorf("NA frame\n got %x\nwant %x", got, want)
				}
				if !validICMPv6(got) {
					t.Errorf("NA checksum does not verify: %x", got)
				}
			}
			// Without the announcement the client would wait for its
			// entry to go stale and be probed (5 s and more).
			testutil.WaitFor(t, 2*time.Second, "client's neighbour entry on node 1", func() error {
				if got := clientNeighMAC(t, r, ip); got != mac1.String() {
					return fmt.Errorf("entry %q", got)
				}
				return nil
			})
			t.Logf("%s: client's entry moved %v after the announcement", family(p), time.Since(sent).Round(time.Millisecond))
		})
	}

	t.Run("loopback and errors", func(t *testing.T) {
		if err := h1.Announce("lo", r.PublicAddr(5).Addr()); err != nil {
			t.Errorf("loopback: %v", err)
		}
		err := h1.Announce("nosuch0", r.PublicAddr(5).Addr())
		if err == nil || !strings.Contains(err.Error(), "nosuch0") {
			t.Errorf("missing interface: %v", err)
		}
	})
}

// wantARP is the gratuitous ARP frame of §6.1, written out field by field.
func wantARP(ip netip.Addr, mac net.HardwareAddr, op uint16) []byte {
	var f bytes.Buffer
	f.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // to everyone
	f.Write(mac)                                        // from the new holder
	f.Write([]byte{0x08, 0x06})                         // ARP
	f.Write([]byte{0x00, 0x01, 0x08, 0x00, 6, 4})       // Ethernet, IPv4
	f.Write([]byte{byte(op >> 8), byte(op)})            // 1 request, 2 reply
	f.Write(mac)                                        // sender MAC
	f.Write(ip.AsSlice())                               // sender IP
	if op == 2 {
		f.Write(mac) // a reply names the MAC as target too
	} else {
		f.Write(make([]byte, 6))
	}
	f.Write(ip.AsSlice())        // target IP
	f.Write(make([]byte, 64-42)) // padding to the Ethernet minimum
	return f.Bytes()
}

// wantNA is the unsolicited neighbour advertisement of §6.1 with a zero
// checksum.
func wantNA(ip netip.Addr, mac net.HardwareAddr) []byte {
	var f bytes.Buffer
	f.Write([]byte{0x33, 0x33, 0, 0, 0, 1}) // all-nodes multicast MAC
	f.Write(mac)
	f.Write([]byte{0x86, 0xdd})
	f.Write([]byte{0x60, 0, 0, 0, 0, 32, 58, 255}) // IPv6, payload 32, ICMPv6, hop limit 255
	f.Write(ip.AsSlice())
	f.Write(netip.MustParseAddr("ff02::1").AsSlice())
	f.Write([]byte{136, 0, 0, 0})  // NA, code 0, checksum
	f.Write([]byte{0x20, 0, 0, 0}) // Override only
	f.Write(ip.AsSlice())          // target
	f.Write([]byte{2, 1})          // target link-layer address, 8 bytes
	f.Write(mac)
	return f.Bytes()
}

// validICMPv6 verifies the checksum of an Ethernet/IPv6/ICMPv6 frame.
func validICMPv6(f []byte) bool {
	var sum uint32
	words := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	ip6 := f[14:54]
	msg := f[54 : 54+int(binary.BigEndian.Uint16(ip6[4:6]))]
	words(ip6[8:40])
	sum += uint32(len(msg)) + 58
	words(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}
