package tdb

/*
#include <stdlib.h>
#include <tdb.h>

int rctdb_pack_chains(struct tdb_context *tdb, unsigned start, unsigned end, size_t limit,
		size_t min_value, unsigned char **out, size_t *out_len, unsigned *next);
int rctdb_apply_packed(struct tdb_context *tdb, const unsigned char *buf, size_t len, size_t *done, size_t *count);
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Packed records move many records in one call, for recovery: each is a
// u32 key length and a u32 value length (little-endian), then the key and
// the value. The loops run in C, so a record costs no cgo crossing; a
// million records of a database pass in a few calls.

// PackedHeaderSize is the size of a packed record's lengths.
const PackedHeaderSize = 8

// AppendPacked appends one packed record.
func AppendPacked(b, key, value []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	b = append(b, key...)
	return append(b, value...)
}

// ErrMalformedPacked is a packed buffer that ends inside a record.
var ErrMalformedPacked = errors.New("malformed packed records")

// NextPacked splits the first packed record off b. The key and value alias
// b. ok is false at the end of b; err is set if b ends inside a record.
func NextPacked(b []byte) (key, value, rest []byte, ok bool, err error) {
	if len(b) == 0 {
		return nil, nil, nil, false, nil
	}
	if len(b) < PackedHeaderSize {
		return nil, nil, nil, false, ErrMalformedPacked
	}
	kl := uint64(binary.LittleEndian.Uint32(b))
	vl := uint64(binary.LittleEndian.Uint32(b[4:]))
	if kl+vl > uint64(len(b)-PackedHeaderSize) {
		return nil, nil, nil, false, ErrMalformedPacked
	}
	end := PackedHeaderSize + int(kl) + int(vl)
	return b[PackedHeaderSize : PackedHeaderSize+kl : PackedHeaderSize+kl], b[PackedHeaderSize+kl : end : end], b[end:], true, nil
}

// PackChains packs the records of chains [start, end) whose values have at
// least minValue bytes, stopping before the first chain at which the
// packed bytes reach limit (0: no limit). It returns the packed records
// and the first chain not packed. libtdb locks each chain for reading
// unless it is marked held or the database is opened without locking.
func (db *DB) PackChains(start, end uint32, limit, minValue int) ([]byte, uint32, error) {
	if db.ctx == nil {
		return nil, start, db.err("pack_chains")
	}
	var out *C.uchar
	var n C.size_t
	var next C.unsigned
	r := C.rctdb_pack_chains(db.ctx, C.unsigned(start), C.unsigned(end), C.size_t(max(limit, 0)), C.size_t(max(minValue, 0)), &out, &n, &next)
	switch r {
	case -1:
		return nil, start, db.err("pack_chains")
	case -2:
		return nil, start, fmt.Errorf("tdb pack_chains %s: out of memory", db.path)
	}
	if out == nil {
		return nil, uint32(next), nil
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), uint32(next), nil
}

// ApplyPacked stores every packed record of b, replacing what the key
// held, and deletes the keys of records with an empty value (a key that is
// already missing is no error). It returns how many records it applied.
func (db *DB) ApplyPacked(b []byte) (int, error) {
	if db.ctx == nil {
		return 0, db.err("apply_packed")
	}
	if len(b) == 0 {
		return 0, nil
	}
	var done, count C.size_t
	r := C.rctdb_apply_packed(db.ctx, (*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b)), &done, &count)
	switch r {
	case -1:
		return int(count), fmt.Errorf("record at offset %d: %w", done, db.err("apply_packed"))
	case -2:
		return int(count), fmt.Errorf("tdb apply_packed %s: record at offset %d: %w", db.path, done, ErrMalformedPacked)
	}
	return int(count), nil
}
