package main

import (
	"math"
	"math/bits"
	"syscall"
)

// The real tool parses numbers with three C library routines, each with its
// own idea of what is valid. These helpers reproduce them so that the same
// arguments are accepted, rejected or truncated the same way.

// cIsSpace is C's isspace in the C locale.
func cIsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// strtoull parses s as C's strtoull does with the given base (0: detect
// 0x/0 prefixes, else 10). It returns the magnitude, whether a minus sign
// was seen, the index just past the digits (0 when nothing was converted)
// and whether the magnitude overflowed 64 bits.
func strtoull(s string, base int) (mag uint64, neg bool, end int, overflow bool) {
	i := 0
	for i < len(s) && cIsSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if (base == 0 || base == 16) && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') &&
		i+2 < len(s) && digitVal(s[i+2]) < 16 {
		i += 2
		base = 16
	} else if base == 0 {
		if i < len(s) && s[i] == '0' {
			base = 8
		} else {
			base = 10
		}
	}
	start := i
	for i < len(s) {
		d := digitVal(s[i])
		if d >= base {
			break
		}
		hi, lo := bits.Mul64(mag, uint64(base))
		lo, carry := bits.Add64(lo, uint64(d), 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		mag = lo
		i++
	}
	if i == start {
		return 0, false, 0, false
	}
	if overflow {
		mag = math.MaxUint64
	}
	return mag, neg, i, overflow
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// Messages popt prints for a bad numeric option value.
const (
	poptBadNumber = "invalid numeric value"
	poptOverflow  = "number too large or too small"
)

// poptInt parses the value of a POPT_ARG_INT option: strtoll with base 0,
// the whole string must be consumed (the empty string is 0), and the value
// must fit an int. msg is "" on success, else popt's error text.
func poptInt(s string) (v int32, msg string) {
	mag, neg, end, overflow := strtoull(s, 0)
	if end == 0 {
		if s == "" {
			return 0, ""
		}
		return 0, poptBadNumber
	}
	if end != len(s) {
		return 0, poptBadNumber
	}
	if overflow {
		return 0, poptOverflow
	}
	if neg {
		if mag > 1<<31 {
			return 0, poptOverflow
		}
		return int32(-int64(mag)), ""
	}
	if mag > math.MaxInt32 {
		return 0, poptOverflow
	}
	return int32(mag), ""
}

// smbStrtoul is Samba's smb_strtoul(s, NULL, 0, &err, SMB_STR_STANDARD):
// strtoul with base 0 that fails with EINVAL when nothing is converted or a
// minus sign precedes the end of the conversion, and with ERANGE on
// overflow. Trailing garbage is accepted.
func smbStrtoul(s string) (uint64, syscall.Errno) {
	mag, neg, end, overflow := strtoull(s, 0)
	if overflow {
		return math.MaxUint64, syscall.ERANGE
	}
	if end == 0 {
		return 0, syscall.EINVAL
	}
	for i := 0; i < end; i++ {
		if s[i] == '-' {
			return 0, syscall.EINVAL
		}
	}
	if neg {
		mag = -mag
	}
	return mag, 0
}

// atoi is C's atoi: strtol with base 10 (clamped to a long on overflow),
// converted to int.
func atoi(s string) int32 {
	mag, neg, end, overflow := strtoull(s, 10)
	if end == 0 {
		return 0
	}
	var v int64
	switch {
	case neg && (overflow || mag > 1<<63):
		v = math.MinInt64
	case neg:
		v = -int64(mag)
	case overflow || mag > math.MaxInt64:
		v = math.MaxInt64
	default:
		v = int64(mag)
	}
	return int32(v)
}
