package tdb

import (
	"encoding/binary"
	"math/bits"
)

// ChainKey returns a 12-byte key whose Jenkins hash (lookup3 hashlittle,
// libtdb's hash for TDB_INCOMPATIBLE_HASH files) is exactly h, so that it
// lands in chain h of a database with more than h chains. The daemon uses
// it to mark a whole chain as locked and to traverse chains one by one;
// the key itself is never stored.
//
// For a 12-byte key, hashlittle adds the three little-endian words to its
// initial state and applies its final mix; every step of that mix is
// invertible, so running it backwards from (0, 0, h) gives the words.
func ChainKey(h uint32) []byte {
	a, b, c := uint32(0), uint32(0), h
	// The final mix, undone step by step.
	c = (c + bits.RotateLeft32(b, 24)) ^ b
	b = (b + bits.RotateLeft32(a, 14)) ^ a
	a = (a + bits.RotateLeft32(c, 4)) ^ c
	c = (c + bits.RotateLeft32(b, 16)) ^ b
	b = (b + bits.RotateLeft32(a, 25)) ^ a
	a = (a + bits.RotateLeft32(c, 11)) ^ c
	c = (c + bits.RotateLeft32(b, 14)) ^ b
	const init = 0xdeadbeef + 12
	key := make([]byte, 12)
	binary.LittleEndian.PutUint32(key[0:], a-init)
	binary.LittleEndian.PutUint32(key[4:], b-init)
	binary.LittleEndian.PutUint32(key[8:], c-init)
	return key
}

// Chain returns the hash chain of key in a Jenkins-hashed database with
// hashSize chains.
func Chain(hash uint32, hashSize int) uint32 { return hash % uint32(hashSize) }
