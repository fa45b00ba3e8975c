package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// mustHex decodes hex text, ignoring white space, so that captures can be
// written in the 4-byte groups of the reference document.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices into a new slice.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func lef64(v float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
}

// at is an expectation: the encoding holds b at offset off.
type at struct {
	off int
	b   []byte
}

// checkAt reports every expectation that enc does not meet.
func checkAt(t testing.TB, what string, enc []byte, wants []at) {
	t.Helper()
	for _, w := range wants {
		if w.off+len(w.b) > len(enc) {
			t.Errorf("%s: expected %x at offset %d, encoding has only %d bytes", what, w.b, w.off, len(enc))
			continue
		}
		if got := enc[w.off : w.off+len(w.b)]; !bytes.Equal(got, w.b) {
			t.Errorf("%s: offset %d: got %x, want %x", what, w.off, got, w.b)
		}
	}
}

// checkZero fails unless enc[from:to] is all zero bytes.
func checkZero(t testing.TB, what string, enc []byte, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if enc[i] != 0 {
			t.Errorf("%s: byte %d is 0x%02x, want zero padding", what, i, enc[i])
		}
	}
}

var netipAddrType = reflect.TypeOf(netip.Addr{})

// deepEqual compares two values field by field, treating nil and empty
// slices as equal (decoders return empty slices aliasing their input) and
// comparing floats by their bits (so that a NaN survives a round trip).
func deepEqual(a, b any) bool {
	return diff(reflect.ValueOf(a), reflect.ValueOf(b), "") == ""
}

// diff returns the path of the first difference between a and b, or "".
func diff(a, b reflect.Value, path string) string {
	if a.IsValid() != b.IsValid() {
		return path + ": validity differs"
	}
	if !a.IsValid() {
		return ""
	}
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: type %v vs %v", path, a.Type(), b.Type())
	}
	if a.Type() == netipAddrType {
		// netip.Addr is comparable; its internals are not meant to be walked.
		if a.CanInterface() && b.CanInterface() {
			if a.Interface().(netip.Addr) != b.Interface().(netip.Addr) {
				return fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface())
			}
			return ""
		}
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil vs non-nil"
			}
			return ""
		}
		return diff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if d := diff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if d := diff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Sprintf("%s: %v vs %v", path, a.Float(), b.Float())
		}
		return ""
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return fmt.Sprintf("%s: %v vs %v", path, a.Bool(), b.Bool())
		}
		return ""
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return fmt.Sprintf("%s: %d vs %d", path, a.Int(), b.Int())
		}
		return ""
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if a.Uint() != b.Uint() {
			return fmt.Sprintf("%s: %#x vs %#x", path, a.Uint(), b.Uint())
		}
		return ""
	case reflect.String:
		if a.String() != b.String() {
			return fmt.Sprintf("%s: %q vs %q", path, a.String(), b.String())
		}
		return ""
	}
	return fmt.Sprintf("%s: cannot compare kind %v", path, a.Kind())
}

// mustEqual fails the test with the first differing field.
func mustEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); d != "" {
		t.Errorf("%s: got and want differ at %s\n got:  %+v\n want: %+v", what, d, got, want)
	}
}

// allLeavesNonZero reports the path of the first integer, float or bool
// leaf of v that is zero, or "" if every leaf is set. Tests use it to make
// sure a hand-written table assigns every field.
func allLeavesNonZero(v reflect.Value, path string) string {
	if v.Type() == netipAddrType {
		if v.IsZero() {
			return path
		}
		return ""
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return path
		}
		return allLeavesNonZero(v.Elem(), path)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p := allLeavesNonZero(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Array, reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if p := allLeavesNonZero(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	default:
		if v.IsZero() {
			return path
		}
	}
	return ""
}

// v4 and v6 build socket addresses for tests.
func v4(s string, port uint16) SockAddr {
	return SockAddr{Family: AFInet, Addr: netip.MustParseAddr(s), Port: port}
}

func v6(s string, port uint16, flow, scope uint32) SockAddr {
	return SockAddr{Family: AFInet6, Addr: netip.MustParseAddr(s), Port: port, FlowInfo: flow, ScopeID: scope}
}

func TestDeepEqualHelper(t *testing.T) {
	// The comparison helper underpins every round trip test; make sure it
	// does detect differences.
	type s struct {
		A uint32
		B []byte
		C float64
		D SockAddr
	}
	base := s{A: 1, B: []byte{1}, C: 1.5, D: v4("10.0.0.1", 1)}
	if !deepEqual(base, base) {
		t.Fatal("value differs from itself")
	}
	if !deepEqual(s{B: nil}, s{B: []byte{}}) {
		t.Error("nil and empty slices must compare equal")
	}
	if !deepEqual(s{C: math.NaN()}, s{C: math.NaN()}) {
		t.Error("identical NaN bits must compare equal")
	}
	variants := []s{
		{A: 2, B: []byte{1}, C: 1.5, D: v4("10.0.0.1", 1)},
		{A: 1, B: []byte{2}, C: 1.5, D: v4("10.0.0.1", 1)},
		{A: 1, B: []byte{1, 0}, C: 1.5, D: v4("10.0.0.1", 1)},
		{A: 1, B: []byte{1}, C: 2.5, D: v4("10.0.0.1", 1)},
		{A: 1, B: []byte{1}, C: 1.5, D: v4("10.0.0.2", 1)},
		{A: 1, B: []byte{1}, C: 1.5, D: v4("10.0.0.1", 2)},
	}
	for i, v := range variants {
		if deepEqual(base, v) {
			t.Errorf("variant %d compares equal to base", i)
		}
	}
	if p := allLeavesNonZero(reflect.ValueOf(s{A: 1, C: 1}), ""); p != ".D.Family" {
		t.Errorf("allLeavesNonZero = %q, want .D.Family", p)
	}
}
