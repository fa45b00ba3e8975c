package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLayoutFromEnv(t *testing.T) {
	tests := []struct {
		name                         string
		env                          map[string]string
		etc, base, run, vardir, sock string
	}{
		{"default", nil, "/etc/ctdb", "/etc/ctdb", "/run/ctdb", "/var/lib/ctdb", "/run/ctdb/ctdbd.socket"},
		// Outside test mode CTDB_BASE moves the nodes file and the
		// scripts, not ctdb.conf (4.17's path.c ignores it).
		{"base only", map[string]string{"CTDB_BASE": "/srv/c"}, "/etc/ctdb", "/srv/c", "/run/ctdb", "/var/lib/ctdb", "/run/ctdb/ctdbd.socket"},
		{"test mode", map[string]string{"CTDB_TEST_MODE": "yes", "CTDB_BASE": "/t/n0"}, "/t/n0", "/t/n0", "/t/n0/run", "/t/n0/var", "/t/n0/run/ctdbd.socket"},
		{"socket", map[string]string{"CTDB_TEST_MODE": "1", "CTDB_BASE": "/t/n0", "CTDB_SOCKET": "/s/x.socket"}, "/t/n0", "/t/n0", "/t/n0/run", "/t/n0/var", "/s/x.socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LayoutFromEnv(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{l.EtcDir, l.Base, l.RunDir, l.VarDir, l.Socket}
			want := []string{tt.etc, tt.base, tt.run, tt.vardir, tt.sock}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("layout %+v, want etc/base/run/var/socket %v", l, want)
					break
				}
			}
			if l.PIDFile() != filepath.Join(tt.run, "ctdbd.pid") || l.ConfigFile() != filepath.Join(tt.etc, "ctdb.conf") {
				t.Errorf("pid file %s, config %s", l.PIDFile(), l.ConfigFile())
			}
		})
	}
	if _, err := LayoutFromEnv(envOf(map[string]string{"CTDB_TEST_MODE": "yes"})); err == nil || !strings.Contains(err.Error(), "CTDB_BASE") {
		t.Errorf("test mode without CTDB_BASE: %v", err)
	}
}

// testModeBase lays out a 4.17 test-mode CTDB_BASE: a ctdb.conf with
// nothing of rctdb's, and a nodes file.
func testModeBase(t *testing.T, conf string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ctdb.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes"), []byte("127.0.0.1\n127.0.0.2\n127.0.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLayoutLoadTestMode(t *testing.T) {
	dir := testModeBase(t, "[cluster]\n\tnode address = 127.0.0.2\n")
	l, err := LayoutFromEnv(envOf(map[string]string{"CTDB_TEST_MODE": "yes", "CTDB_BASE": dir}))
	if err != nil {
		t.Fatal(err)
	}
	c, got, err := l.Load(l.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"socket":       {c.Cluster.Socket, filepath.Join(dir, "run", "ctdbd.socket")},
		"raft":         {c.Raft.DataDir, filepath.Join(dir, "var", "raft")},
		"nodes":        {c.Cluster.NodesFile, filepath.Join(dir, "nodes")},
		"addresses":    {c.Failover.AddressesFile, filepath.Join(dir, "public_addresses")},
		"events":       {c.Event.Base, dir},
		"log location": {c.Logging.Location, DefaultLogLocation},
		"pid file":     {got.PIDFile(), filepath.Join(dir, "run", "ctdbd.pid")},
	}
	for what, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", what, v[0], v[1])
		}
	}
	if pnn, _ := c.PNN(); pnn != 1 {
		t.Errorf("pnn %d, want 1", pnn)
	}
}

func TestLayoutLoadFileWins(t *testing.T) {
	dir := testModeBase(t, "[logging]\n\tlocation = stderr\n[cluster]\n\tnode address = 127.0.0.1\n\tsocket = /elsewhere/s.socket\n[raft]\n\tdata directory = /r\n")
	l, _ := LayoutFromEnv(envOf(map[string]string{"CTDB_TEST_MODE": "yes", "CTDB_BASE": dir, "CTDB_SOCKET": "/env/s"}))
	c, got, err := l.Load(l.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Socket != "/elsewhere/s.socket" || got.RunDir != "/elsewhere" || got.PIDFile() != "/elsewhere/ctdbd.pid" {
		t.Errorf("socket %s, run dir %s: a [cluster] socket should win and carry the run directory", c.Cluster.Socket, got.RunDir)
	}
	if c.Raft.DataDir != "/r" || c.Logging.Location != "stderr" {
		t.Errorf("raft %s, location %s: the file's settings should win", c.Raft.DataDir, c.Logging.Location)
	}
}

func TestLayoutLoadInteractiveLogsToStderr(t *testing.T) {
	dir := testModeBase(t, "[cluster]\n\tnode address = 127.0.0.1\n")
	l, _ := LayoutFromEnv(envOf(map[string]string{"CTDB_TEST_MODE": "yes", "CTDB_BASE": dir}))
	l.Interactive = true
	c, _, err := l.Load(l.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if c.Logging.Location != "stderr" {
		t.Errorf("location %s, want stderr", c.Logging.Location)
	}
}

func TestLayoutLoadChoosesAddress(t *testing.T) {
	dir := testModeBase(t, "[logging]\n\tlog level = INFO\n")
	l, _ := LayoutFromEnv(envOf(map[string]string{"CTDB_TEST_MODE": "yes", "CTDB_BASE": dir}))

	// Without a chooser the missing address is the file's error.
	if _, _, err := l.Load(l.ConfigFile()); err == nil || !strings.Contains(err.Error(), "[cluster] node address") {
		t.Fatalf("no node address and no chooser: %v", err)
	}

	var offered []netip.Addr
	l.ChooseAddress = func(nodes []Node, port uint16) (netip.Addr, error) {
		for _, n := range nodes {
			offered = append(offered, n.Addr)
		}
		if port != DefaultPort {
			t.Errorf("port %d", port)
		}
		return nodes[2].Addr, nil
	}
	c, _, err := l.Load(l.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if pnn, _ := c.PNN(); pnn != 2 || len(offered) != 3 {
		t.Errorf("pnn %d after choosing among %v", pnn, offered)
	}

	l.ChooseAddress = func([]Node, uint16) (netip.Addr, error) { return netip.Addr{}, errors.New("none is local") }
	_, _, err = l.Load(l.ConfigFile())
	if err == nil || !strings.Contains(err.Error(), "[cluster] node address: none is local") {
		t.Errorf("chooser failing: %v", err)
	}
}
