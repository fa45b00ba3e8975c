package main

import (
	"syscall"
	"testing"
)

func TestPoptInt(t *testing.T) {
	for _, c := range []struct {
		in  string
		v   int32
		msg string
	}{
		{"0", 0, ""}, {"", 0, ""}, {"12", 12, ""}, {"+7", 7, ""}, {" \t7", 7, ""}, {"-1", -1, ""},
		{"010", 8, ""}, {"0x1F", 31, ""}, {"0X1f", 31, ""}, {"-0x10", -16, ""},
		{"2147483647", 2147483647, ""}, {"-2147483648", -2147483648, ""},
		{"08", 0, poptBadNumber}, {"0x", 0, poptBadNumber}, {"1 ", 0, poptBadNumber},
		{" ", 0, poptBadNumber}, {"all", 0, poptBadNumber}, {"1,2", 0, poptBadNumber},
		{"- 7", 0, poptBadNumber}, {"1e3", 0, poptBadNumber}, {"0x1g", 0, poptBadNumber},
		{"2147483648", 0, poptOverflow}, {"-2147483649", 0, poptOverflow},
		{"99999999999999999999", 0, poptOverflow}, {"-99999999999999999999", 0, poptOverflow},
	} {
		v, msg := poptInt(c.in)
		if v != c.v || msg != c.msg {
			t.Errorf("poptInt(%q) = %d %q, want %d %q", c.in, v, msg, c.v, c.msg)
		}
	}
}

func TestSmbStrtoul(t *testing.T) {
	for _, c := range []struct {
		in    string
		v     uint64
		errno syscall.Errno
	}{
		{"30", 30, 0}, {"30abc", 30, 0}, {" 30", 30, 0}, {"+30", 30, 0}, {"0x1e", 30, 0}, {"036", 30, 0},
		{"0", 0, 0}, {"4294967296", 4294967296, 0},
		{"", 0, syscall.EINVAL}, {"abc", 0, syscall.EINVAL}, {"-1", 0, syscall.EINVAL},
		{" -1", 0, syscall.EINVAL}, {"1-", 1, 0},
		{"18446744073709551616", 1<<64 - 1, syscall.ERANGE},
	} {
		v, errno := smbStrtoul(c.in)
		if errno != c.errno || (errno == 0 && v != c.v) {
			t.Errorf("smbStrtoul(%q) = %d %v, want %d %v", c.in, v, errno, c.v, c.errno)
		}
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int32{
		"3": 3, " 3x": 3, "x": 0, "": 0, "-2": -2, "010": 10, "0x10": 0,
		"2147483648": -2147483648, "99999999999999999999": -1, "-99999999999999999999": 0,
	} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}
