package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// TunablesFileName is the file of per-node tunables that ctdbd 4.17 reads
// at start, beside ctdb.conf.
const TunablesFileName = "ctdb.tunables"

// TunableSetting is one "Name = value" line of a ctdb.tunables file.
type TunableSetting struct {
	Name  string
	Value uint32
	// Line is the setting's line number in the file.
	Line int
}

// ReadTunablesFile reads a ctdb.tunables file as 4.17 does: "Name = value"
// lines (value decimal, 0x hex or 0 octal), '#' and ';' comments, no
// sections. A file that does not exist holds no settings. Like 4.17, a bad
// line does not stop the others: ReadTunablesFile returns every good
// setting and an error naming the file and line of each bad one. Whether
// a name is a tunable is the caller's check.
func ReadTunablesFile(path string) ([]TunableSetting, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tunables: %w", err)
	}
	defer f.Close()
	var (
		out  []TunableSetting
		errs []error
	)
	sc := bufio.NewScanner(f)
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, n, fmt.Sprintf(format, args...)))
		}
		if line[0] == '[' {
			bad("sections are not supported in a tunables file")
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "" || value == "" {
			bad("want \"Name = value\", got %q", line)
			continue
		}
		v, err := strconv.ParseUint(value, 0, 32)
		if err != nil || strings.HasPrefix(value, "0o") || strings.HasPrefix(value, "0b") || strings.Contains(value, "_") {
			bad("invalid value %q for tunable %q", value, name)
			continue
		}
		out = append(out, TunableSetting{Name: name, Value: uint32(v), Line: n})
	}
	if err := sc.Err(); err != nil {
		// The scanner stopped on line n, after the last one it returned.
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", bufio.MaxScanTokenSize)
		}
		errs = append(errs, fmt.Errorf("tunables: read %s:%d: %w", path, n, err))
	}
	return out, errors.Join(errs...)
}
