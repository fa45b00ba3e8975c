package protocol

import (
	"fmt"
	"testing"
)

// Test vectors of reference §5.3 (computed with libtdb; the database ids
// match what ctdbd 4.17 returned for DB_ATTACH).
func TestHashVectors(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
	}{
		{"", 0xdeadbeef},
		{"a", 0x58d68708},
		{"testkey", 0x6ea5e637},
		{"abcdefghijkl", 0x4012f87b},
		{"abcdefghijklm", 0x928128f9},
		{"Four score and seven years ago", 0x17770551},
		{"locking.tdb\x00", 0x7a19d84d},
		{"brlock.tdb\x00", 0x4e66c2b2},
		{"g_lock.tdb\x00", 0x4d2a432b},
		{"smbXsrv_open_global.tdb\x00", 0x66f71b8c},
		{"smbXsrv_session_global.tdb\x00", 0x6b06a26d},
		{"smbXsrv_tcon_global.tdb\x00", 0x68c12c2c},
		{"leases.tdb\x00", 0x06916e77},
		{"secrets.tdb\x00", 0x7132c184},
		{"registry.tdb\x00", 0x6cf2837d},
		{"ctdb.tdb\x00", 0x6645c6c4},
		{"fetch_ring.tdb\x00", 0x1858991f},
		{"fetch_loop.tdb\x00", 0xe5e87e03},
	}
	for _, c := range cases {
		if got := Hash([]byte(c.in)); got != c.want {
			t.Errorf("Hash(%q) [len %d] = %#08x, want %#08x", c.in, len(c.in), got, c.want)
		}
	}
}

func TestDBIDVectors(t *testing.T) {
	cases := map[string]uint32{
		"locking.tdb":                0x7a19d84d,
		"brlock.tdb":                 0x4e66c2b2,
		"g_lock.tdb":                 0x4d2a432b,
		"smbXsrv_open_global.tdb":    0x66f71b8c,
		"smbXsrv_session_global.tdb": 0x6b06a26d,
		"smbXsrv_tcon_global.tdb":    0x68c12c2c,
		"leases.tdb":                 0x06916e77,
		"secrets.tdb":                0x7132c184,
		"registry.tdb":               0x6cf2837d,
		"ctdb.tdb":                   0x6645c6c4,
		"fetch_ring.tdb":             0x1858991f,
		"fetch_loop.tdb":             0xe5e87e03,
	}
	for name, want := range cases {
		if got := DBID(name); got != want {
			t.Errorf("DBID(%q) = %#08x, want %#08x", name, got, want)
		}
	}
}

// Every length from 0 to 40 crosses the 12-byte block boundary of lookup3
// at least three times; the hash must depend on every byte and on the
// length, and must not read beyond the key.
func TestHashUsesEveryByte(t *testing.T) {
	seen := map[uint32]string{}
	for n := 0; n <= 40; n++ {
		key := make([]byte, n, n+8)
		for i := range key {
			key[i] = byte(i*7 + 1)
		}
		h := Hash(key)
		id := fmt.Sprintf("len %d", n)
		if prev, dup := seen[h]; dup {
			t.Errorf("%s and %s hash to %#x", prev, id, h)
		}
		seen[h] = id
		for i := 0; i < n; i++ {
			key[i] ^= 0x80
			if Hash(key) == h {
				t.Errorf("len %d: flipping byte %d does not change the hash", n, i)
			}
			key[i] ^= 0x80
		}
		// Bytes beyond len(key) but within its capacity are not read.
		ext := key[:n+8]
		for i := n; i < n+8; i++ {
			ext[i] = 0xff
		}
		if Hash(key) != h {
			t.Errorf("len %d: hash reads beyond the key", n)
		}
	}
}
