package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// PublicAddress is one line of the public_addresses file: an address with
// its prefix length, and the interfaces that may carry it, in file order.
type PublicAddress struct {
	Prefix netip.Prefix
	Ifaces []string
}

// MaxIfaceName is the longest interface name CTDB accepts (IFNAMSIZ - 1).
const MaxIfaceName = 15

// LoadPublicAddresses reads a public_addresses file. A missing file is no
// error: the node has no public addresses, as in ctdbd.
func LoadPublicAddresses(path string) ([]PublicAddress, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: public addresses: %w", err)
	}
	defer f.Close()
	return ParsePublicAddresses(path, f)
}

// ParsePublicAddresses reads public addresses as CTDB 4.17 does: blank
// lines and lines starting with '#' are skipped; the first word is
// ADDRESS/BITS (the prefix length is required; IPv6 may be in brackets;
// an IPv4-mapped IPv6 address is IPv4), the second a comma-separated list
// of interfaces, and further words are ignored. A malformed line, a
// missing or too long interface name, or an address listed twice is an
// *Error naming the file, the line and the field.
func ParsePublicAddresses(name string, r io.Reader) ([]PublicAddress, error) {
	var out []PublicAddress
	seen := map[netip.Addr]int{}
	sc := bufio.NewScanner(r)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line, _, _ := strings.Cut(sc.Text(), "\r")
		words := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		bad := func(field, format string, args ...any) error {
			return &Error{File: name, Line: lineNo, Err: fmt.Errorf("%s: "+format, append([]any{field}, args...)...)}
		}
		p, err := parsePublicPrefix(words[0])
		if err != nil {
			return nil, bad("address", "%q: %v", words[0], err)
		}
		if len(words) < 2 {
			return nil, bad("interfaces", "no interface given for %s", p)
		}
		var ifaces []string
		for _, i := range strings.Split(words[1], ",") {
			switch {
			case i == "":
				return nil, bad("interfaces", "%q: an empty interface name", words[1])
			case len(i) > MaxIfaceName:
				return nil, bad("interfaces", "%q: longer than %d characters", i, MaxIfaceName)
			case strings.ContainsAny(i, "/"):
				return nil, bad("interfaces", "%q: not an interface name", i)
			}
			ifaces = append(ifaces, i)
		}
		if prev, dup := seen[p.Addr()]; dup {
			return nil, bad("address", "%s is already listed at line %d", p.Addr(), prev)
		}
		seen[p.Addr()] = lineNo
		out = append(out, PublicAddress{Prefix: p, Ifaces: ifaces})
	}
	if err := sc.Err(); err != nil {
		// The scanner stopped on the line after the last one it returned.
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", bufio.MaxScanTokenSize)
		}
		return nil, &Error{File: name, Line: lineNo + 1, Err: err}
	}
	return out, nil
}

func parsePublicPrefix(s string) (netip.Prefix, error) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, errors.New("no prefix length (ADDRESS/BITS)")
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address")
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("an IPv6 zone is not allowed")
	}
	mapped := a.Is4In6()
	a = a.Unmap()
	p, err := netip.ParsePrefix(a.String() + "/" + bits)
	if err != nil && mapped {
		// ::ffff:a.b.c.d/N with N counted on the IPv6 address.
		var n int
		if _, serr := fmt.Sscanf(bits, "%d", &n); serr == nil && n >= 96 && n <= 128 {
			p, err = netip.PrefixFrom(a, n-96), nil
		}
	}
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad prefix length %q", bits)
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
		return netip.Prefix{}, errors.New("not a usable public address")
	}
	return p, nil
}
