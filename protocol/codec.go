package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort reports a buffer too short for the structure being decoded.
var ErrShort = errors.New("ctdb protocol: buffer too short")

var le = binary.LittleEndian

// decoder walks a byte slice; the first failure sticks so that callers check
// the error once at the end.
type decoder struct {
	b   []byte
	off int
	err error
	// what names the structure in error messages.
	what string
}

func newDecoder(what string, b []byte) *decoder { return &decoder{b: b, what: what} }

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("%s: need %d bytes at offset %d, have %d: %w", d.what, n, d.off, len(d.b)-d.off, ErrShort)
		return false
	}
	return true
}

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) boolean() bool {
	v := d.u8()
	if v > 1 && d.err == nil {
		d.err = fmt.Errorf("%s: bool value %d at offset %d", d.what, v, d.off-1)
	}
	return v == 1
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := le.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := le.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) i32() int32 { return int32(d.u32()) }

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := le.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) skip(n int) {
	if d.need(n) {
		d.off += n
	}
}

// bytes returns the next n bytes, aliasing the input.
func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

// count reads a u32 element count and checks that count elements of at
// least minSize bytes each can still follow, so that absurd counts fail
// before anything is allocated.
func (d *decoder) count(minSize int) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if minSize > 0 && uint64(n)*uint64(minSize) > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%s: count %d of %d-byte elements exceeds %d remaining bytes: %w", d.what, n, minSize, len(d.b)-d.off, ErrShort)
		return 0
	}
	return int(n)
}

// encoder appends little-endian fields to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8) { e.b = append(e.b, v) }

func (e *encoder) boolean(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) u16(v uint16)   { e.b = le.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = le.AppendUint32(e.b, v) }
func (e *encoder) i32(v int32)    { e.b = le.AppendUint32(e.b, uint32(v)) }
func (e *encoder) u64(v uint64)   { e.b = le.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)    { e.b = le.AppendUint64(e.b, uint64(v)) }
func (e *encoder) f64(v float64)  { e.b = le.AppendUint64(e.b, math.Float64bits(v)) }
func (e *encoder) bytes(v []byte) { e.b = append(e.b, v...) }
func (e *encoder) zeros(n int)    { e.b = append(e.b, make([]byte, n)...) }
func (e *encoder) datan(v []byte) { e.u32(uint32(len(v))); e.bytes(v) }

// CString returns s as CTDB's string encoding: the bytes and a terminating NUL.
func CString(s string) []byte { return append([]byte(s), 0) }

// ParseCString decodes CTDB's string encoding: the text up to the first NUL,
// or all of b if it has none (ctdbd uses strndup, so a missing NUL is allowed).
func ParseCString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Align8 rounds n up to a multiple of 8 (CTDB_DS_ALIGNMENT).
func Align8(n int) int { return (n + 7) &^ 7 }
