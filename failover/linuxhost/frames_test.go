package linuxhost

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var testMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

// unhex decodes hex written with spaces and | separators for readability;
// CSUM stands for a checksum the test fills in from the frame and verifies.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "", "CSUM", "0000").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestARPFramesMatchCTDB(t *testing.T) {
	ip := netip.MustParseAddr("10.1.2.3")
	pad := strings.Repeat("00", 64-42)
	request := unhex(t, "ffffffffffff 021122334455 0806 | 0001 0800 06 04 0001 | 021122334455 0a010203 | 000000000000 0a010203"+pad)
	reply := unhex(t, "ffffffffffff 021122334455 0806 | 0001 0800 06 04 0002 | 021122334455 0a010203 | 021122334455 0a010203"+pad)
	if got := arpFrame(ip, testMAC, false); !bytes.Equal(got, request) {
		t.Errorf("ARP request\n got %x\nwant %x", got, request)
	}
	if got := arpFrame(ip, testMAC, true); !bytes.Equal(got, reply) {
		t.Errorf("ARP reply\n got %x\nwant %x", got, reply)
	}
}

func TestNeighbourAdvertisementMatchesCTDB(t *testing.T) {
	ip := netip.MustParseAddr("fd00:1::5")
	f := naFrame(ip, testMAC)
	want := unhex(t, `
		333300000001 021122334455 86dd
		60000000 0020 3a ff
		fd000001000000000000000000000005
		ff020000000000000000000000000001
		88 00 CSUM 20000000
		fd000001000000000000000000000005
		02 01 021122334455`)
	if len(f) != naFrameLen || len(want) != naFrameLen {
		t.Fatalf("length %d, want %d", len(f), naFrameLen)
	}
	csum := f[56:58]
	copy(want[56:58], csum)
	if !bytes.Equal(f, want) {
		t.Fatalf("NA\n got %x\nwant %x", f, want)
	}
	if !checksumOK(netip.MustParseAddr("fd00:1::5"), netip.MustParseAddr("ff02::1"), 58, f[54:]) {
		t.Fatalf("NA checksum %x does not verify", csum)
	}
}

// checksumOK verifies a transport checksum the way a receiver does: the
// one's-complement sum over pseudo-header and message is all ones.
func checksumOK(src, dst netip.Addr, proto uint8, msg []byte) bool {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i < len(b); i += 2 {
			w := uint32(b[i]) << 8
			if i+1 < len(b) {
				w |= uint32(b[i+1])
			}
			sum += w
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	add([]byte{0, proto})
	add([]byte{byte(len(msg) >> 8), byte(len(msg))})
	add(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func TestTickleSegments(t *testing.T) {
	src := netip.MustParseAddrPort("10.1.2.3:445")
	dst := netip.MustParseAddrPort("10.9.8.7:50000")
	p := segment{src: src, dst: dst}.packet()
	want := unhex(t, `
		45 00 0028 0000 0000 ff 06 0000 0a010203 0a090807
		01bd c350 00000000 00000000 50 10 04d2 CSUM 0000`)
	copy(want[36:38], p[36:38])
	if !bytes.Equal(p, want) {
		t.Fatalf("IPv4 tickle\n got %x\nwant %x", p, want)
	}
	if !checksumOK(src.Addr(), dst.Addr(), 6, p[20:]) {
		t.Fatal("IPv4 tickle checksum does not verify")
	}

	src6 := netip.MustParseAddrPort("[fd00::1]:445")
	dst6 := netip.MustParseAddrPort("[fd00::2]:50000")
	p = segment{src: src6, dst: dst6, seq: 0x01020304, ack: 0x0a0b0c0d, rst: true}.packet()
	want = unhex(t, `
		60000000 0014 06 40
		fd000000000000000000000000000001
		fd000000000000000000000000000002
		01bd c350 01020304 0a0b0c0d 50 14 04d2 CSUM 0000`)
	copy(want[56:58], p[56:58])
	if !bytes.Equal(p, want) {
		t.Fatalf("IPv6 RST\n got %x\nwant %x", p, want)
	}
	if !checksumOK(src6.Addr(), dst6.Addr(), 6, p[40:]) {
		t.Fatal("IPv6 RST checksum does not verify")
	}
}

func TestParseCapturedTCPReadsOwnSegments(t *testing.T) {
	for _, s := range []segment{
		{src: netip.MustParseAddrPort("10.1.2.3:445"), dst: netip.MustParseAddrPort("10.9.8.7:50000"), seq: 7, ack: 9},
		{src: netip.MustParseAddrPort("[fd00::1]:1"), dst: netip.MustParseAddrPort("[fd00::2]:2"), rst: true},
	} {
		c, ok := parseCapturedTCP(s.packet())
		want := capturedTCP{src: s.src, dst: s.dst, seq: s.seq, ack: s.ack, window: tickleWindow, rst: s.rst}
		if !ok || c != want {
			t.Errorf("parse %+v: got %+v %v", s, c, ok)
		}
	}
	for _, junk := range [][]byte{nil, {0x45}, make([]byte, 30), append([]byte{0x60}, make([]byte, 20)...)} {
		if _, ok := parseCapturedTCP(junk); ok {
			t.Errorf("parsed junk %x", junk)
		}
	}
}

func TestBroadcastLikeIPBrdPlus(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3/24":    "10.1.2.255",
		"10.1.2.3/16":    "10.1.255.255",
		"192.168.7.9/30": "192.168.7.11",
		"10.1.2.3/31":    "",
		"10.1.2.3/32":    "",
		"fd00::1/64":     "",
	} {
		b, ok := broadcast(netip.MustParsePrefix(in))
		if got := map[bool]string{true: b.String(), false: ""}[ok]; got != want {
			t.Errorf("broadcast(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestLeaseAndPrefixChecks(t *testing.T) {
	for lease, want := range map[time.Duration]uint32{0: kernelForever, time.Second: 1, 1500 * time.Millisecond: 2, time.Nanosecond: 1, time.Hour: 3600} {
		if got, err := leaseSeconds(lease); err != nil || got != want {
			t.Errorf("leaseSeconds(%v) = %d, %v; want %d", lease, got, err, want)
		}
	}
	for _, bad := range []time.Duration{-time.Second, maxLease + time.Second} {
		if _, err := leaseSeconds(bad); err == nil {
			t.Errorf("leaseSeconds(%v) accepted", bad)
		}
	}
	if p, err := hostPrefix(netip.MustParsePrefix("::ffff:10.1.2.3/120")); err != nil || p != netip.MustParsePrefix("10.1.2.3/24") {
		t.Errorf("mapped prefix: %v %v", p, err)
	}
	for _, bad := range []netip.Prefix{{}, netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("ff02::1/64"), netip.MustParsePrefix("::ffff:10.1.2.3/64")} {
		if _, err := hostPrefix(bad); err == nil {
			t.Errorf("hostPrefix(%v) accepted", bad)
		}
	}
}

func TestCheckPair(t *testing.T) {
	s, err := checkPair(netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), netip.MustParseAddrPort("10.0.0.2:2"))
	if err != nil || !s.src.Addr().Is4() {
		t.Fatalf("mapped source: %+v %v", s, err)
	}
	for _, bad := range [][2]string{{"10.0.0.1:1", "[fd00::1]:2"}, {"0.0.0.0:1", "10.0.0.2:2"}, {"10.0.0.1:1", "224.0.0.1:2"}} {
		if _, err := checkPair(netip.MustParseAddrPort(bad[0]), netip.MustParseAddrPort(bad[1])); err == nil {
			t.Errorf("checkPair%v accepted", bad)
		}
	}
}
