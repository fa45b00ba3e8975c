package protocol

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestSockAddrIPv4Bytes(t *testing.T) {
	s := v4("127.99.0.2", 4379)
	enc := s.AppendTo(nil)
	want := cat([]byte{0x02, 0x00}, []byte{0x11, 0x1b}, []byte{127, 99, 0, 2}, make([]byte, 20))
	if !bytes.Equal(enc, want) {
		t.Fatalf("IPv4 encoding\n got  %x\n want %x", enc, want)
	}
	got, err := DecodeSockAddr(enc)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "IPv4", got, s)
	if got.String() != "127.99.0.2" || got.AddrPort() != netip.MustParseAddrPort("127.99.0.2:4379") {
		t.Errorf("String %q AddrPort %v", got.String(), got.AddrPort())
	}
}

func TestSockAddrIPv6Bytes(t *testing.T) {
	s := v6("fe80::1234:5678", 0x01bd, 0x11223344, 0x55667788)
	enc := s.AppendTo([]byte{0xaa})
	if len(enc) != 1+SockAddrSize || enc[0] != 0xaa {
		t.Fatalf("AppendTo did not append: %x", enc)
	}
	enc = enc[1:]
	addr := s.Addr.As16()
	want := cat([]byte{0x0a, 0x00}, []byte{0x01, 0xbd}, le32(0x11223344), addr[:], le32(0x55667788))
	if !bytes.Equal(enc, want) {
		t.Fatalf("IPv6 encoding\n got  %x\n want %x", enc, want)
	}
	got, err := DecodeSockAddr(enc)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "IPv6", got, s)
	if got.String() != "fe80::1234:5678" {
		t.Errorf("String = %q", got.String())
	}
}

func TestSockAddrIgnoresUnusedBytes(t *testing.T) {
	// Samba's TCP_CLIENT copies only 16 bytes of an IPv4 address into the
	// 28-byte union; the rest is whatever was on its stack.
	s := v4("10.1.2.3", 50000)
	enc := s.AppendTo(nil)
	for i := 8; i < SockAddrSize; i++ {
		enc[i] = byte(0x90 + i)
	}
	got, err := DecodeSockAddr(enc)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "IPv4 with garbage tail", got, s)
	// Re-encoding yields the canonical zero-filled form.
	if re := got.AppendTo(nil); !bytes.Equal(re[8:], make([]byte, 20)) {
		t.Errorf("re-encoding kept garbage: %x", re)
	}
}

func TestSockAddrUnknownFamily(t *testing.T) {
	raw := cat(le16(7), []byte{1, 2, 3, 4, 5, 6}, make([]byte, 20))
	got, err := DecodeSockAddr(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Family != 7 || got.Addr.IsValid() || got.Port != 0 {
		t.Errorf("unknown family decoded as %+v", got)
	}
	if got.String() != "<family 7>" {
		t.Errorf("String = %q", got.String())
	}
	if zero := (SockAddr{}).AppendTo(nil); !bytes.Equal(zero, make([]byte, SockAddrSize)) {
		t.Errorf("zero SockAddr encodes as %x", zero)
	}
	for n := 0; n < SockAddrSize; n++ {
		if _, err := DecodeSockAddr(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestSockAddrFrom(t *testing.T) {
	cases := []struct {
		in   string
		want SockAddr
	}{
		{"192.0.2.7:445", v4("192.0.2.7", 445)},
		{"[::ffff:192.0.2.7]:139", v4("192.0.2.7", 139)}, // ctdbd canonicalises mapped addresses
		{"[2001:db8::5]:4379", SockAddr{Family: AFInet6, Addr: netip.MustParseAddr("2001:db8::5"), Port: 4379}},
	}
	for _, c := range cases {
		got := SockAddrFrom(netip.MustParseAddrPort(c.in))
		mustEqual(t, c.in, got, c.want)
	}
	if got := SockAddrFrom(netip.AddrPort{}); got.Family != 0 || got.Addr.IsValid() {
		t.Errorf("invalid AddrPort gave %+v", got)
	}
}

func TestStringN(t *testing.T) {
	enc := StringN("ControlTimeout")
	if !bytes.Equal(enc, cat(le32(15), []byte("ControlTimeout\x00"))) {
		t.Fatalf("StringN = %x", enc)
	}
	if s, err := ParseStringN(enc); err != nil || s != "ControlTimeout" {
		t.Errorf("ParseStringN = %q, %v", s, err)
	}
	// The daemon accepts a name without its NUL.
	if s, err := ParseStringN(cat(le32(4), []byte("Abcd"))); err != nil || s != "Abcd" {
		t.Errorf("no NUL: %q, %v", s, err)
	}
	if s, err := ParseStringN(StringN("")); err != nil || s != "" {
		t.Errorf("empty: %q, %v", s, err)
	}
	for n := 0; n < len(enc); n++ {
		if _, err := ParseStringN(enc[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("%d-byte prefix: %v", n, err)
		}
	}
	if _, err := ParseStringN(cat(le32(0xFFFFFFFF), []byte("x"))); !errors.Is(err, ErrShort) {
		t.Errorf("huge length: %v", err)
	}
}
