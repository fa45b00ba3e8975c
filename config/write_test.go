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
	"time"
)

func TestWriteToRoundTrip(t *testing.T) {
	ipv6 := Default()
	ipv6.Cluster.NodeAddress = netip.MustParseAddr("fd00::7")
	ipv6.Logging.Level = "Warn"
	ipv6.Raft.NoSync = true
	ipv6.Cluster.DeadPeerTimeout = 1500 * time.Millisecond

	tests := map[string]Config{
		"default": Default(),
		"full":    fullExpected(),
		"ipv6":    ipv6,
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := c.WriteTo(&b)
			if err != nil {
				t.Fatalf("WriteTo: %v", err)
			}
			if n != int64(b.Len()) {
				t.Errorf("WriteTo returned %d, wrote %d bytes", n, b.Len())
			}
			text := b.String()
			got, err := Parse("out.conf", strings.NewReader(text))
			if err != nil {
				t.Fatalf("Parse of written config: %v\n%s", err, text)
			}
			got.Warnings, c.Warnings = nil, nil
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v\nfile:\n%s", got, c, text)
			}
		})
	}
}

func TestWriteToFormat(t *testing.T) {
	c := Default()
	c.Cluster.Port = 5000
	c.Cluster.NodeAddress = netip.MustParseAddr("10.0.0.1")
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"[cluster]\n",
		"\tnode address = 10.0.0.1\n",
		"\tport = 5000\n",
		"\tnodes file = /etc/ctdb/nodes\n", // written even though it is the default
		"\t# socket = /run/ctdb/ctdbd.socket\n",
		"\t# keepalive interval = 500ms\n",
		"[raft]\n\t# data directory = /var/lib/ctdb/raft\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"cluster id", "[metrics]", "lock debug script", "cluster lock", "[event]"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, text)
		}
	}
}

func TestWriteToRejectsUnreadableValues(t *testing.T) {
	for name, modify := range map[string]func(c *Config){
		"line break":         func(c *Config) { c.Database.LockDebugScript = "/a\nb" },
		"leading space":      func(c *Config) { c.Raft.DataDir = " /r" },
		"trailing backslash": func(c *Config) { c.Cluster.Socket = `/s\` },
		"empty with default": func(c *Config) { c.Logging.Location = "" },
	} {
		c := Default()
		modify(&c)
		var b bytes.Buffer
		_, err := c.WriteTo(&b)
		var e *Error
		if !errors.As(err, &e) || e.Key == "" || !strings.HasPrefix(err.Error(), "config: [") {
			t.Errorf("%s: got %v", name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: wrote %q despite the error", name, b.String())
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ctdb.conf")
	writeFile(t, filepath.Join(dir, "nodes"), "10.0.0.1\n#10.0.0.2\n10.0.0.3\n")
	writeFile(t, conf, "[cluster]\n\tnode address = 10.0.0.3\n\tcluster lock = /x\n[raft]\n\tdata directory = /tmp/raft\n")

	c, err := Load(conf)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Cluster.NodesFile != filepath.Join(dir, "nodes") {
		t.Errorf("NodesFile = %q, want the file next to the config", c.Cluster.NodesFile)
	}
	wantNodes := []Node{{PNN: 0, Addr: addr("10.0.0.1")}, {PNN: 1, Deleted: true, RemovedAddr: addr("10.0.0.2")}, {PNN: 2, Addr: addr("10.0.0.3")}}
	if !reflect.DeepEqual(c.Nodes, wantNodes) {
		t.Errorf("Nodes = %v, want %v", c.Nodes, wantNodes)
	}
	if pnn, err := c.PNN(); err != nil || pnn != 2 {
		t.Errorf("PNN = %d, %v; want 2", pnn, err)
	}
	if c.Raft.DataDir != "/tmp/raft" {
		t.Errorf("DataDir = %q", c.Raft.DataDir)
	}
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], conf+":3: [cluster] cluster lock is ignored") {
		t.Errorf("Warnings = %q", c.Warnings)
	}

	// Written back and loaded from another directory, it names the same nodes.
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "node2", "ctdb.conf")
	writeFile(t, other, b.String())
	c2, err := Load(other)
	if err != nil {
		t.Fatalf("Load of written config: %v", err)
	}
	c2.Warnings, c.Warnings = nil, nil
	if c2.Event.Base != filepath.Dir(other) {
		t.Errorf("Event.Base = %q, want the directory of %s", c2.Event.Base, other)
	}
	if want := filepath.Join(filepath.Dir(other), TunablesFileName); c2.TunablesFile != want {
		t.Errorf("TunablesFile = %q, want %q", c2.TunablesFile, want)
	}
	// The scripts and ctdb.tunables live beside each file.
	c2.Event.Base, c2.TunablesFile = c.Event.Base, c.TunablesFile
	if !reflect.DeepEqual(c2, c) {
		t.Errorf("reloaded config differs:\n got %+v\nwant %+v", c2, c)
	}
}

func TestLoadNodesFileOption(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "etc", "cluster-nodes"), "10.1.0.1\n10.1.0.2\n")
	conf := filepath.Join(dir, "etc", "ctdb.conf")
	writeFile(t, conf, "[cluster]\nnodes file = cluster-nodes\nnode address = 10.1.0.2\n")
	c, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "etc", "cluster-nodes"); c.Cluster.NodesFile != want {
		t.Errorf("relative nodes file resolved to %q, want %q", c.Cluster.NodesFile, want)
	}
	if pnn, _ := c.PNN(); pnn != 1 {
		t.Errorf("PNN = %d, want 1", pnn)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ctdb.conf")
	nodes := filepath.Join(dir, "nodes")
	tests := []struct {
		name, conf, nodes, want string
	}{
		{"node address required", "[cluster]\nport = 4379\n", "10.0.0.1\n",
			conf + ": [cluster] node address: required"},
		{"node address not in nodes", "[logging]\nlog level = ERR\n[cluster]\nnode address = 10.0.0.5\n", "10.0.0.1\n#10.0.0.5\n",
			conf + ":4: [cluster] node address: 10.0.0.5 is not an active node in the nodes file " + nodes},
		{"bad nodes file", "[cluster]\nnode address = 10.0.0.1\n", "10.0.0.1\n\n10.0.0.1\n",
			nodes + ":3: 10.0.0.1: duplicate of line 1"},
		{"missing nodes file", "[cluster]\nnode address = 10.0.0.1\nnodes file = /nonexistent/nodes\n", "10.0.0.1\n",
			conf + ":3: [cluster] nodes file: open /nonexistent/nodes: "},
		{"bad value", "[cluster]\nnode address = 10.0.0.1\nport = 43x\n", "10.0.0.1\n",
			conf + `:3: [cluster] port: "43x": not a number between 1 and 65535`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, conf, tc.conf)
			writeFile(t, nodes, tc.nodes)
			_, err := Load(conf)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %v\nwant %s", err, tc.want)
			}
		})
	}

	_, err := Load(filepath.Join(dir, "absent.conf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %v", err)
	}
}
