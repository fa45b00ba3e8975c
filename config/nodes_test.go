package config

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseNodes(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Node
	}{
		{"plain", "10.0.0.1\n10.0.0.2\n", []Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: addr("10.0.0.2"), Deleted: false}}},
		{"no final newline", "10.0.0.1", []Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}}},
		{"deleted keeps index", "10.0.0.1\n#10.0.0.2\n10.0.0.3\n",
			[]Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Deleted: true, RemovedAddr: addr("10.0.0.2")}, {PNN: 2, Addr: addr("10.0.0.3"), Deleted: false}}},
		{"hash line is a deleted node, not a comment", "# my cluster\n10.0.0.1\n",
			[]Node{{PNN: 0, Addr: netip.Addr{}, Deleted: true}, {PNN: 1, Addr: addr("10.0.0.1"), Deleted: false}}},
		{"indented hash", "  \t# gone\n10.0.0.1\n", []Node{{PNN: 0, Addr: netip.Addr{}, Deleted: true}, {PNN: 1, Addr: addr("10.0.0.1"), Deleted: false}}},
		{"blank lines take no pnn", "\n10.0.0.1\n\n   \n\t\n10.0.0.2\n\n\n",
			[]Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: addr("10.0.0.2"), Deleted: false}}},
		{"whitespace trimmed", "  10.0.0.1\t \n\t10.0.0.2  \n",
			[]Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: addr("10.0.0.2"), Deleted: false}}},
		{"CRLF", "10.0.0.1\r\n10.0.0.2\r\n", []Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: addr("10.0.0.2"), Deleted: false}}},
		{"IPv6", "fd00::1\nFD00:0:0:0:0:0:0:2\n[fd00::3]\n",
			[]Node{{PNN: 0, Addr: addr("fd00::1"), Deleted: false}, {PNN: 1, Addr: addr("fd00::2"), Deleted: false}, {PNN: 2, Addr: addr("fd00::3"), Deleted: false}}},
		{"IPv4-mapped becomes IPv4", "::ffff:10.0.0.1\n", []Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}}},
		{"mixed families", "10.0.0.1\n#\nfd00::1\n", []Node{{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: netip.Addr{}, Deleted: true}, {PNN: 2, Addr: addr("fd00::1"), Deleted: false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNodes("nodes", strings.NewReader(tc.text))
			if err != nil {
				t.Fatalf("ParseNodes: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseNodesErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"bad address", "10.0.0.1\n10.0.0.x\n", `/etc/ctdb/nodes:2: "10.0.0.x": not an IPv4 or IPv6 address`},
		{"port suffix", "10.0.0.1:4379\n", `/etc/ctdb/nodes:1: "10.0.0.1:4379": not an IPv4 or IPv6 address (a port is not allowed here; the port is [cluster] port)`},
		{"IPv6 port suffix", "\n[fd00::1]:4379\n", `/etc/ctdb/nodes:2: "[fd00::1]:4379": not an IPv4 or IPv6 address (a port is not allowed`},
		{"leading zeros", "010.0.0.1\n", `/etc/ctdb/nodes:1: "010.0.0.1": not an IPv4 or IPv6 address`},
		{"hostname", "node1\n", `/etc/ctdb/nodes:1: "node1": not an IPv4 or IPv6 address`},
		{"two addresses", "10.0.0.1 10.0.0.2\n", `/etc/ctdb/nodes:1: "10.0.0.1 10.0.0.2": not an IPv4 or IPv6 address`},
		{"zone", "fe80::1%eth0\n", `/etc/ctdb/nodes:1: "fe80::1%eth0": an IPv6 zone is not allowed`},
		{"unspecified", "0.0.0.0\n", `/etc/ctdb/nodes:1: "0.0.0.0": not a usable node address`},
		{"duplicate", "10.0.0.1\n#10.0.0.2\n\n10.0.0.1\n", `/etc/ctdb/nodes:4: 10.0.0.1: duplicate of line 1`},
		{"duplicate IPv6 spelling", "fd00::1\nfd00:0::1\n", `/etc/ctdb/nodes:2: fd00::1: duplicate of line 1`},
		{"duplicate mapped", "10.0.0.1\n::ffff:10.0.0.1\n", `/etc/ctdb/nodes:2: 10.0.0.1: duplicate of line 1`},
		{"empty", "", `/etc/ctdb/nodes: no nodes`},
		{"only blank", "\n  \n", `/etc/ctdb/nodes: no nodes`},
		{"only deleted", "#10.0.0.1\n#\n", `/etc/ctdb/nodes: no active nodes: all 2 are deleted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseNodes("/etc/ctdb/nodes", strings.NewReader(tc.text))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}

func TestWriteNodes(t *testing.T) {
	nodes := []Node{
		{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false},
		{PNN: 1, Addr: netip.Addr{}, Deleted: true},
		{PNN: 2, Addr: addr("fd00::3"), Deleted: false},
		{PNN: 3, Addr: addr("10.0.0.4"), Deleted: true},
	}
	var b bytes.Buffer
	if err := WriteNodes(&b, nodes); err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.1\n#\nfd00::3\n#10.0.0.4\n"; b.String() != want {
		t.Errorf("WriteNodes wrote %q, want %q", b.String(), want)
	}
	back, err := ParseNodes("nodes", &b)
	if err != nil {
		t.Fatal(err)
	}
	// A deleted node's address is read back as the address it had.
	nodes[3].Addr, nodes[3].RemovedAddr = netip.Addr{}, addr("10.0.0.4")
	if !reflect.DeepEqual(back, nodes) {
		t.Errorf("round trip: got %v, want %v", back, nodes)
	}

	for name, bad := range map[string][]Node{
		"empty":     nil,
		"pnn order": {{PNN: 1, Addr: addr("10.0.0.1"), Deleted: false}},
		"duplicate": {{PNN: 0, Addr: addr("10.0.0.1"), Deleted: false}, {PNN: 1, Addr: addr("10.0.0.1"), Deleted: false}},
		"no addr":   {{PNN: 0, Addr: netip.Addr{}, Deleted: false}},
	} {
		if err := WriteNodes(&b, bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoadNodes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nodes")
	if err := os.WriteFile(path, []byte("10.0.0.1\n#\n10.0.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes, err := LoadNodes(path)
	if err != nil || len(nodes) != 3 || nodes[2].PNN != 2 {
		t.Errorf("LoadNodes: %v, %v", nodes, err)
	}
	_, err = LoadNodes(filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: nodes file: open ") {
		t.Errorf("missing file: %v", err)
	}
}
