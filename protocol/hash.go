package protocol

import "math/bits"

// Hash is ctdb_hash: Bob Jenkins' lookup3 hashlittle() with initval 0, the
// hash TDB files with TDB_INCOMPATIBLE_HASH use. It picks a key's lmaster
// and, over a database name with its NUL, the database id.
func Hash(key []byte) uint32 {
	a := 0xdeadbeef + uint32(len(key))
	b, c := a, a
	k := key
	for len(k) > 12 {
		a += le.Uint32(k[0:])
		b += le.Uint32(k[4:])
		c += le.Uint32(k[8:])
		a, b, c = lookup3Mix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	// The last block, zero-padded to 12 bytes, is added before the final
	// mix; this equals lookup3's byte-wise tail switch.
	var tail [12]byte
	copy(tail[:], k)
	a += le.Uint32(tail[0:])
	b += le.Uint32(tail[4:])
	c += le.Uint32(tail[8:])
	return lookup3Final(a, b, c)
}

// DBID returns the database id of a database name: the hash of the name and
// its terminating NUL.
func DBID(name string) uint32 { return Hash(CString(name)) }

func lookup3Mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func lookup3Final(a, b, c uint32) uint32 {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}
