package linuxhost_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/netnstest"
	"github.com/rctdb/rctdb/internal/testutil"
)

// tcpSeg is a TCP segment seen in a capture.
type tcpSeg struct {
	src, dst      netip.AddrPort
	seq, ack      uint32
	flags         uint8
	window        uint16
	ttl           uint8 // TTL or hop limit
	ipLen, tcpOff int
	frame         []byte
}

func parseSeg(f []byte) (tcpSeg, bool) {
	if len(f) < 14 {
		return tcpSeg{}, false
	}
	var s tcpSeg
	var tcp []byte
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		ip := f[14:]
		if len(ip) < 40 || ip[9] != 6 {
			return tcpSeg{}, false
		}
		ihl := int(ip[0]&0xf) * 4
		s.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), 0)
		s.ttl, s.ipLen, tcp = ip[8], int(binary.BigEndian.Uint16(ip[2:4])), ip[ihl:]
	case 0x86dd:
		ip := f[14:]
		if len(ip) < 60 || ip[6] != 6 {
			return tcpSeg{}, false
		}
		s.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[8:24])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[24:40])), 0)
		s.ttl, s.ipLen, tcp = ip[7], 40+int(binary.BigEndian.Uint16(ip[4:6])), ip[40:]
	default:
		return tcpSeg{}, false
	}
	s.src = netip.AddrPortFrom(s.src.Addr(), binary.BigEndian.Uint16(tcp[0:2]))
	s.dst = netip.AddrPortFrom(s.dst.Addr(), binary.BigEndian.Uint16(tcp[2:4]))
	s.seq, s.ack = binary.BigEndian.Uint32(tcp[4:8]), binary.BigEndian.Uint32(tcp[8:12])
	s.tcpOff, s.flags, s.window = int(tcp[12]>>4)*4, tcp[13], binary.BigEndian.Uint16(tcp[14:16])
	s.frame = f
	return s, true
}

const (
	flagRST = 0x04
	flagACK = 0x10
)

func addrPortOf(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// TestTickleACKResetsClientOfMovedAddress fails an address over while a
// client sits idle on a connection to it, then tickles that connection from
// the new holder: the client answers the tickle with an ACK, the new holder
// (no socket) answers that with a RST, and the client's read fails at once.
// A connection that is not tickled stays silently dead.
func TestTickleACKResetsClientOfMovedAddress(t *testing.T) {
	r := netnstest.New(t, 2)
	h0, h1 := newHost(t, r, 0), newHost(t, r, 1)
	iface := r.Iface()
	for i, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
		t.Run(family(p), func(t *testing.T) {
			if err := h0.SetAddress(iface, p, 0); err != nil {
				t.Fatal(err)
			}
			ap := netip.AddrPortFrom(p.Addr(), uint16(7300+i))
			serve(t, r, 0, ap)
			tickled, untickled := dial(t, r, ap), dial(t, r, ap)
			c := openCapture(t, r)
			moveAddress(t, r, h0, h1, p)
			if err := h1.Announce(iface, p.Addr()); err != nil {
				t.Fatal(err)
			}
			mac1 := macOf(t, h1, iface).String()
			testutil.WaitFor(t, 2*time.Second, "client's neighbour entry on node 1", func() error {
				if got := clientNeighMAC(t, r, p.Addr()); got != mac1 {
					return fmt.Errorf("entry %q", got)
				}
				return nil
			})
			tickledRead, untickledRead := readUntilError(tickled), readUntilError(untickled)

			client := addrPortOf(tickled.LocalAddr())
			start := time.Now()
			var err error
			if p.Addr().Is4() {
				// The package function, as `ctdb tickle` uses it, run
				// inside node 1's namespace.
				err = r.InNode(1, func() error { return linuxhost.SendTickleACK(ap, client) })
			} else {
				err = h1.SendTickleACK(ap, client)
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-tickledRead:
				if !errors.Is(res.err, syscall.ECONNRESET) {
					t.Fatalf("tickled connection ended with %v, want a reset", res.err)
				}
				t.Logf("%s: tickled client reset %v after the tickle", family(p), res.at.Sub(start).Round(time.Microsecond))
			case <-time.After(10 * time.Second):
				t.Fatal("tickled client not reset")
			}

			// The three segments of the exchange, as the client saw them.
			tickle := nextSeg(t, c, "tickle", func(s tcpSeg) bool { return s.src == ap && s.dst == client })
			wantTTL := uint8(255)
			if p.Addr().Is6() {
				wantTTL = 64
			}
			if tickle.seq != 0 || tickle.ack != 0 || tickle.flags != flagACK || tickle.window != 1234 ||
				tickle.tcpOff != 20 || tickle.ttl != wantTTL || tickle.ipLen != map[bool]int{true: 40, false: 60}[p.Addr().Is4()] {
				t.Errorf("tickle %+v", tickle)
			}
			reply := nextSeg(t, c, "client's ACK", func(s tcpSeg) bool { return s.src == client && s.dst == ap })
			if reply.flags&flagACK == 0 || reply.flags&flagRST != 0 {
				t.Errorf("client's answer %+v", reply)
			}
			rst := nextSeg(t, c, "RST from node 1", func(s tcpSeg) bool { return s.src == ap && s.dst == client })
			if rst.flags&flagRST == 0 || rst.seq != reply.ack {
				t.Errorf("node 1's RST %+v (client's ACK acked %d)", rst, reply.ack)
			}

			// Untickled and idle: nothing tells the client.
			select {
			case res := <-untickledRead:
				t.Fatalf("untickled connection ended: %v", res.err)
			case <-time.After(2 * time.Second):
			}
			// Its next request reaches node 1, which resets it.
			start = time.Now()
			if _, err := untickled.Write([]byte("request")); err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-untickledRead:
				if !errors.Is(res.err, syscall.ECONNRESET) {
					t.Fatalf("untickled connection ended with %v, want a reset", res.err)
				}
				t.Logf("%s: untickled client idle 2 s without noticing; reset %v after its next request",
					family(p), res.at.Sub(start).Round(time.Microsecond))
			case <-time.After(10 * time.Second):
				t.Fatal("untickled client not reset after sending")
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		err := linuxhost.SendTickleACK(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fd00::1]:2"))
		if err == nil {
			t.Error("mixed families accepted")
		}
	})
}

func nextSeg(t *testing.T, c *capture, what string, match func(tcpSeg) bool) tcpSeg {
	t.Helper()
	var s tcpSeg
	c.next(t, what, func(f []byte) bool {
		var ok bool
		s, ok = parseSeg(f)
		return ok && match(s)
	})
	return s
}

// TestKillConnections kills every connection to a released address, those
// of a listener bound to it and the IPv4 ones of a dual-stack listener, with
// SOCK_DESTROY and with the tickle/RST fallback.
func TestKillConnections(t *testing.T) {
	for _, mode := range []string{"destroy", "tickle"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := netnstest.New(t, 1)
			h := newHost(t, r, 0)
			if mode == "tickle" {
				linuxhost.UseTickleKill(h)
			}
			iface := r.Iface()
			other := serve(t, r, 0, netip.AddrPortFrom(r.PrivateAddr(0), 7402))
			bystander := dial(t, r, netip.AddrPortFrom(r.PrivateAddr(0), 7402))
			other.accepted(t)
			dualStack := serve(t, r, 0, netip.AddrPortFrom(netip.IPv6Unspecified(), 7401))
			for _, p := range []netip.Prefix{r.PublicAddr(0), r.PublicAddr6(0)} {
				t.Run(family(p), func(t *testing.T) {
					if err := h.SetAddress(iface, p, 0); err != nil {
						t.Fatal(err)
					}
					bound := serve(t, r, 0, netip.AddrPortFrom(p.Addr(), 7400))
					// How each side's reading ends: the clients', then the
					// servers' echo loops.
					var ends []<-chan readResult
					var serverEnds []<-chan readResult
					for _, s := range []*server{bound, dualStack} {
						c := dial(t, r, netip.AddrPortFrom(p.Addr(), uint16(s.ln.Addr().(*net.TCPAddr).Port)))
						ends = append(ends, readUntilError(c))
						serverEnds = append(serverEnds, s.accepted(t).ended)
					}
					ends = append(ends, serverEnds...)

					start := time.Now()
					killed, total, err := h.KillConnections(p.Addr())
					took := time.Since(start)
					if err != nil || killed != 2 || total != 2 {
						t.Fatalf("killed %d of %d, %v; want 2 of 2", killed, total, err)
					}
					t.Logf("%s %s: killed 2 of 2 in %v", mode, family(p), took.Round(time.Microsecond))
					// SOCK_DESTROY aborts the local socket (ECONNABORTED);
					// the fallback resets it with a forged RST. Peers get
					// a RST either way.
					serverErr := map[string]error{"destroy": syscall.ECONNABORTED, "tickle": syscall.ECONNRESET}[mode]
					for i, ch := range ends {
						side, want := "client", error(syscall.ECONNRESET)
						if i >= 2 {
							side, want = "server", serverErr
						}
						select {
						case res := <-ch:
							if !errors.Is(res.err, want) {
								t.Errorf("%s side %d ended with %v, want %v", side, i, res.err, want)
							}
						case <-time.After(10 * time.Second):
							t.Errorf("%s side %d of a killed connection still open", side, i)
						}
					}
					// Listeners and other addresses are left alone.
					dial(t, r, netip.AddrPortFrom(p.Addr(), 7400))
					bound.accepted(t)
					echo(t, bystander, "untouched")
					if killed, total, err := h.KillConnections(p.Addr()); err != nil || total != 1 || killed != 1 {
						t.Fatalf("second kill: %d of %d, %v; want the new connection", killed, total, err)
					}
					if err := h.DeleteAddress(iface, p); err != nil {
						t.Fatal(err)
					}
					if killed, total, err := h.KillConnections(p.Addr()); err != nil || total != 0 || killed != 0 {
						t.Fatalf("third kill: %d of %d, %v; want none", killed, total, err)
					}
				})
			}
		})
	}
}
