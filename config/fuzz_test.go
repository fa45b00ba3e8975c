package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// checkFileError: a parser's error is an *Error naming the file and, when
// it names a line, a line the input has.
func checkFileError(t *testing.T, err error, name string, input []byte) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q (%T) is not a *config.Error", err, err)
	}
	if e.File != name || !strings.HasPrefix(err.Error(), name+":") {
		t.Fatalf("error %q does not name the file %s", err, name)
	}
	if lines := bytes.Count(input, []byte("\n")) + 1; e.Line < 0 || e.Line > lines {
		t.Fatalf("error %q names line %d of a %d-line input", err, e.Line, lines)
	}
}

func addFileSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseConfig: any ctdb.conf text either parses into a configuration
// that writes out and parses back to the same, or fails with an error
// naming the file, the line and (for a value) the option.
func FuzzParseConfig(f *testing.F) {
	addFileSeeds(f, "testdata/debian-ctdb.conf", "testdata/every-key.conf", "testdata/ctdb-config-dump-defaults.conf")
	for _, s := range []string{"", "[cluster]\nport = 43x\n", "[cluster\n", "x = 1\n", "[raft]\nelection timeout = 1s\n",
		"[cluster]\nnode address = 10.0.0.1\n\tcluster id = a b\n", "[logging]\nlocation = file:/x\nlog level = 3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("ctdb.conf", bytes.NewReader(b))
		if err != nil {
			checkFileError(t, err, "ctdb.conf", b)
			var e *Error
			if errors.As(err, &e) && e.Key != "" && !strings.Contains(err.Error(), "["+e.Section+"] "+e.Key+": ") {
				t.Fatalf("error %q does not name the option [%s] %s", err, e.Section, e.Key)
			}
			return
		}
		var out bytes.Buffer
		if _, err := c.WriteTo(&out); err != nil {
			// Values WriteTo cannot write back are refused with an error,
			// not written wrong.
			return
		}
		back, err := Parse("written.conf", bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("a parsed configuration written out does not parse: %v\n%s", err, out.Bytes())
		}
		back.Warnings, c.Warnings = nil, nil
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, c)
		}
	})
}

// FuzzNodes: a nodes file parses into nodes that write out and parse
// back the same, or fails with an error naming the file and line.
func FuzzNodes(f *testing.F) {
	for _, s := range []string{"10.0.0.1\n10.0.0.2\n", "#10.0.0.1\n10.0.0.2\r\n", "fd00::1\n\n# comment\n", "10.0.0.1:4379\n",
		"10.0.0.1\n10.0.0.1\n", "", "#\n", " 10.0.0.3 \t\n", "fe80::1%eth0\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := ParseNodes("nodes", bytes.NewReader(b))
		if err != nil {
			checkFileError(t, err, "nodes", b)
			return
		}
		var out bytes.Buffer
		if err := WriteNodes(&out, nodes); err != nil {
			t.Fatalf("parsed nodes do not write: %v", err)
		}
		back, err := ParseNodes("written", &out)
		if err != nil {
			t.Fatalf("written nodes do not parse: %v\n%s", err, out.Bytes())
		}
		if !reflect.DeepEqual(back, nodes) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, nodes)
		}
	})
}

// FuzzPublicAddresses: a public_addresses file parses into distinct
// addresses each with interfaces, or fails with an error naming the file,
// the line and the field.
func FuzzPublicAddresses(f *testing.F) {
	for _, s := range []string{"10.1.1.1/24 eth1\n10.1.1.2/24 eth1,eth2\n", "fd00::10/64 eth0 # comment\n", "10.1.1.1 eth1\n",
		"10.1.1.1/24\n", "10.1.1.1/24 eth1,,eth2\n", "# only a comment\n\n", "10.1.1.1/24 eth1\r\n10.1.1.1/16 eth2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		addrs, err := ParsePublicAddresses("public_addresses", bytes.NewReader(b))
		if err != nil {
			checkFileError(t, err, "public_addresses", b)
			var e *Error
			if errors.As(err, &e) && e.Line > 0 {
				msg := strings.TrimPrefix(err.Error(), e.File+":")
				if !strings.Contains(msg, ": address: ") && !strings.Contains(msg, ": interfaces: ") {
					t.Fatalf("error %q names no field", err)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			if len(a.Ifaces) == 0 || !a.Prefix.IsValid() || seen[a.Prefix.Addr().String()] {
				t.Fatalf("accepted %+v", a)
			}
			seen[a.Prefix.Addr().String()] = true
		}
	})
}
