package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePublicAddresses(t *testing.T) {
	in := "# public addresses\n\n  10.1.1.1/24 eth1\n10.1.1.2/24\teth1,eth2  ignored words\n[fd00::10]/64 eth2,eth3\n::ffff:10.1.1.3/120 eth1\r\n"
	got, err := ParsePublicAddresses("pa", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.1.1.1/24 [eth1]", "10.1.1.2/24 [eth1 eth2]", "fd00::10/64 [eth2 eth3]", "10.1.1.3/24 [eth1]"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, pa := range got {
		if s := pa.Prefix.String() + " [" + strings.Join(pa.Ifaces, " ") + "]"; s != want[i] {
			t.Errorf("line %d: %s, want %s", i, s, want[i])
		}
	}
}

func TestParsePublicAddressesErrorsNameLineAndField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.1.1 eth1\n", "pa:1: address: \"10.1.1.1\": no prefix length"},
		{"\n10.1.1.x/24 eth1\n", "pa:2: address: \"10.1.1.x/24\": not an IP address"},
		{"10.1.1.1/33 eth1\n", "pa:1: address: \"10.1.1.1/33\": bad prefix length"},
		{"10.1.1.1/24\n", "pa:1: interfaces: no interface given for 10.1.1.1/24"},
		{"10.1.1.1/24 eth1,,eth2\n", "pa:1: interfaces: \"eth1,,eth2\": an empty interface name"},
		{"10.1.1.1/24 averyveryverylongname\n", "pa:1: interfaces: \"averyveryverylongname\": longer than 15"},
		{"10.1.1.1/24 eth1\n10.1.1.1/16 eth2\n", "pa:2: address: 10.1.1.1 is already listed at line 1"},
		{"127.0.0.1/8 lo\n", "pa:1: address: \"127.0.0.1/8\": not a usable public address"},
		{"10.1.1.1/24 eth1\n# " + strings.Repeat("x", 70<<10) + "\n", "pa:2: line longer than 65536 bytes"},
	} {
		_, err := ParsePublicAddresses("pa", strings.NewReader(tc.in))
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.60q: got %v, want %s...", tc.in, err, tc.want)
		}
	}
}

func TestLoadPublicAddressesMissingFileIsNone(t *testing.T) {
	got, err := LoadPublicAddresses(t.TempDir() + "/public_addresses")
	if err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v %v", got, err)
	}
}
