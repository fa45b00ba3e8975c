package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/logging"
)

const testFile = "/etc/ctdb/ctdb.conf"

func parseString(t *testing.T, text string) (Config, error) {
	t.Helper()
	return Parse(testFile, strings.NewReader(text))
}

func mustParse(t *testing.T, text string) Config {
	t.Helper()
	c, err := parseString(t, text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"location", c.Logging.Location, "stderr"},
		{"log level", c.Logging.Level, "NOTICE"},
		{"node address", c.Cluster.NodeAddress, netip.Addr{}},
		{"nodes file", c.Cluster.NodesFile, "/etc/ctdb/nodes"},
		{"cluster id", c.Cluster.ClusterID, ""},
		{"port", c.Cluster.Port, uint16(4379)},
		{"socket", c.Cluster.Socket, "/run/ctdb/ctdbd.socket"},
		{"leader capability", c.Cluster.LeaderCapability, true},
		{"keepalive interval", c.Cluster.KeepaliveInterval, 500 * time.Millisecond},
		{"dead peer timeout", c.Cluster.DeadPeerTimeout, 2 * time.Second},
		{"quorum loss timeout", c.Cluster.QuorumLossTimeout, 2 * time.Second},
		{"leader timeout", c.Cluster.LeaderTimeout, 5},
		{"volatile", c.Database.VolatileDir, "/var/lib/ctdb/volatile"},
		{"persistent", c.Database.PersistentDir, "/var/lib/ctdb/persistent"},
		{"state", c.Database.StateDir, "/var/lib/ctdb/state"},
		{"tdb mutexes", c.Database.TDBMutexes, false},
		{"lock debug script", c.Database.LockDebugScript, ""},
		{"data directory", c.Raft.DataDir, "/var/lib/ctdb/raft"},
		{"heartbeat", c.Raft.HeartbeatTimeout, 400 * time.Millisecond},
		{"election", c.Raft.ElectionTimeout, 400 * time.Millisecond},
		{"lease", c.Raft.LeaderLeaseTimeout, 400 * time.Millisecond},
		{"commit", c.Raft.CommitTimeout, 50 * time.Millisecond},
		{"snapshot interval", c.Raft.SnapshotInterval, 120 * time.Second},
		{"snapshot threshold", c.Raft.SnapshotThreshold, uint64(8192)},
		{"trailing logs", c.Raft.TrailingLogs, uint64(10240)},
		{"no sync", c.Raft.NoSync, false},
		{"metrics", c.Metrics.Address, ""},
		{"profiling", c.Metrics.Profiling, false},
		{"start as stopped", c.Legacy.StartAsStopped, false},
		{"start as disabled", c.Legacy.StartAsDisabled, false},
		{"lmaster capability", c.Legacy.LMasterCapability, true},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if c.Nodes != nil || c.Warnings != nil {
		t.Errorf("Default has Nodes %v, Warnings %v", c.Nodes, c.Warnings)
	}

	empty := mustParse(t, "")
	if !reflect.DeepEqual(empty, Default()) {
		t.Errorf("Parse of empty input = %+v, want Default()", empty)
	}
}

const fullConfig = `
[logging]
	location = file:/var/log/ctdb/log.ctdb
	log level = debug
[cluster]
	node address = 192.168.1.2
	nodes file = /srv/ctdb/nodes
	cluster id = prod-1.a_b
	port = 4380
	socket = /tmp/ctdbd.socket
	leader capability = false
	keepalive interval = 250ms
	dead peer timeout = 5s
	quorum loss timeout = 1500ms
	transport = tcp
	leader timeout = 7
[database]
	volatile database directory = /data/volatile
	persistent database directory = /data/persistent
	state database directory = /data/state
	tdb mutexes = yes
	lock debug script = /etc/ctdb/debug_locks.sh
[raft]
	data directory = /data/raft
	heartbeat timeout = 1s
	election timeout = 2s
	leader lease timeout = 500ms
	commit timeout = 10ms
	snapshot interval = 5m
	snapshot threshold = 100
	trailing logs = 0
	no sync = false
[metrics]
	address = 127.0.0.1:9100
[legacy]
	start as stopped = true
	start as disabled = YES
	lmaster capability = No
	realtime scheduling = false
	script log level = NOTICE
[event]
	debug script = debug-hung-script.sh
[failover]
	disabled = true
`

func fullExpected() Config {
	want := Default()
	want.Logging = Logging{Location: "file:/var/log/ctdb/log.ctdb", Level: "debug"}
	want.Cluster = Cluster{
		NodeAddress:       netip.MustParseAddr("192.168.1.2"),
		NodesFile:         "/srv/ctdb/nodes",
		ClusterID:         "prod-1.a_b",
		Socket:            "/tmp/ctdbd.socket",
		LeaderCapability:  false,
		Links:             Links{Port: 4380, KeepaliveInterval: 250 * time.Millisecond, DeadPeerTimeout: 5 * time.Second},
		QuorumLossTimeout: 1500 * time.Millisecond,
		LeaderTimeout:     7,
	}
	want.Database = Database{
		VolatileDir:     "/data/volatile",
		PersistentDir:   "/data/persistent",
		StateDir:        "/data/state",
		TDBMutexes:      true,
		LockDebugScript: "/etc/ctdb/debug_locks.sh",
	}
	want.Raft = Raft{
		DataDir:            "/data/raft",
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    2 * time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      10 * time.Millisecond,
		SnapshotInterval:   5 * time.Minute,
		SnapshotThreshold:  100,
		TrailingLogs:       0,
	}
	want.Metrics = Metrics{Address: "127.0.0.1:9100"}
	want.Legacy = Legacy{StartAsStopped: true, StartAsDisabled: true, LMasterCapability: false}
	want.Failover.Disabled = true
	want.Event.DebugScript = "debug-hung-script.sh"
	want.Warnings = []string{
		testFile + ":16: [cluster] leader timeout is ignored: Raft notices a lost leader ([raft] heartbeat timeout and election timeout)",
		testFile + ":21: [database] tdb mutexes is ignored: rctdb opens databases with fcntl locks only",
		testFile + ":22: [database] lock debug script is ignored: rctdb waits for record and database locks without a helper process to debug",
		testFile + ":39: [legacy] realtime scheduling is ignored: rctdb runs at normal priority",
		testFile + ":40: [legacy] script log level is ignored: rctdb logs event script output at its own levels",
	}
	return want
}

func TestParseEveryKey(t *testing.T) {
	got := mustParse(t, fullConfig)
	want := fullExpected()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name string
		text string
		want func(c *Config)
	}{
		{"hash comment", "# comment\n[cluster]\n# port = 1\nport = 2\n",
			func(c *Config) { c.Cluster.Port = 2 }},
		{"semicolon comment", "; comment\n[cluster]\n  ; port = 1\nport = 3\n",
			func(c *Config) { c.Cluster.Port = 3 }},
		{"indented comment ending in backslash does not continue", "[cluster]\n # x \\\nport = 4\n",
			func(c *Config) { c.Cluster.Port = 4 }},
		{"blank lines and surrounding whitespace", "\n\n   [cluster]   \n\t  port\t=\t5  \n\n",
			func(c *Config) { c.Cluster.Port = 5 }},
		{"no spaces around =", "[cluster]\nport=6\n", func(c *Config) { c.Cluster.Port = 6 }},
		{"runs of spaces inside key", "[cluster]\nleader   \t capability = no\n",
			func(c *Config) { c.Cluster.LeaderCapability = false }},
		{"section name case-insensitive", "[CLUSTER]\nport = 7\n[Raft]\nno sync = no\n",
			func(c *Config) { c.Cluster.Port = 7 }},
		{"section header spaces and comment", "[ cluster ] # main section\nport = 8\n",
			func(c *Config) { c.Cluster.Port = 8 }},
		{"CRLF line endings", "[cluster]\r\nport = 9\r\n", func(c *Config) { c.Cluster.Port = 9 }},
		{"no final newline", "[cluster]\nport = 10", func(c *Config) { c.Cluster.Port = 10 }},
		{"last value wins", "[cluster]\nport = 11\nport = 12\n", func(c *Config) {
			c.Cluster.Port = 12
			c.Warnings = []string{testFile + ":3: [cluster] port is set again (first on line 2); the last value wins"}
		}},
		{"section reopened", "[cluster]\nport = 13\n[raft]\n[cluster]\nsocket = /s\n", func(c *Config) {
			c.Cluster.Port = 13
			c.Cluster.Socket = "/s"
		}},
		{"continuation line", "[logging]\nlocation = file:/var/\\\nlog/x\n", func(c *Config) {
			c.Logging.Location = "file:/var/log/x"
		}},
		{"continuation with trailing space", "[logging]\nlocation = \\  \n  syslog\n", func(c *Config) {
			c.Logging.Location = "syslog"
		}},
		{"continuation at end of input", "[cluster]\nport = 14\\", func(c *Config) { c.Cluster.Port = 14 }},
		{"hash inside value is not a comment", "[event]\ndebug script = /a#b\n", func(c *Config) {
			c.Event.DebugScript = "/a#b"
		}},
		{"cluster lock warns", "[cluster]\ncluster lock = /clusterfs/.lock\nrecovery lock = !/bin/x\n", func(c *Config) {
			c.Warnings = []string{
				testFile + ":2: [cluster] cluster lock is ignored: rctdb elects its leader with Raft, without a cluster lock",
				testFile + ":3: [cluster] recovery lock is ignored: rctdb elects its leader with Raft, without a cluster lock",
			}
		}},
		{"no sync warns", "[raft]\n\nno sync = true\n", func(c *Config) {
			c.Raft.NoSync = true
			c.Warnings = []string{testFile + ":3: [raft] no sync is unsafe: a crash can lose committed Raft entries; use it for tests only"}
		}},
		{"IPv6 node address", "[cluster]\nnode address = fd00::1:2\n", func(c *Config) {
			c.Cluster.NodeAddress = netip.MustParseAddr("fd00::1:2")
		}},
		{"IPv4-mapped node address is IPv4", "[cluster]\nnode address = ::ffff:10.1.2.3\n", func(c *Config) {
			c.Cluster.NodeAddress = netip.MustParseAddr("10.1.2.3")
		}},
		{"metrics with empty host", "[metrics]\naddress = :9100\n", func(c *Config) { c.Metrics.Address = ":9100" }},
		{"metrics IPv6", "[metrics]\naddress = [::1]:0\n", func(c *Config) { c.Metrics.Address = "[::1]:0" }},
		{"metrics with profiles", "[metrics]\naddress = :9100\nprofiling = true\n", func(c *Config) {
			c.Metrics.Address, c.Metrics.Profiling = ":9100", true
		}},
		{"log levels", "[logging]\nlog level = warn\n", func(c *Config) { c.Logging.Level = "warn" }},
		{"syslog", "[logging]\nlocation = syslog\n", func(c *Config) { c.Logging.Location = "syslog" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.text)
			want := Default()
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseBooleans(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"True", true}, {"yes", true}, {"Yes", true}, {"YES", true},
		{"false", false}, {"FALSE", false}, {"no", false}, {"No", false}, {"NO", false},
	} {
		c := mustParse(t, "[database]\ntdb mutexes = "+tc.in+"\n[legacy]\nlmaster capability = "+tc.in+"\n")
		if c.Database.TDBMutexes != tc.want || c.Legacy.LMasterCapability != tc.want {
			t.Errorf("%q: got %v/%v, want %v", tc.in, c.Database.TDBMutexes, c.Legacy.LMasterCapability, tc.want)
		}
	}
	for _, in := range []string{"1", "0", "on", "off", "y", "n", "t", "enabled", "truee"} {
		_, err := parseString(t, "[database]\ntdb mutexes = "+in+"\n")
		want := testFile + `:2: [database] tdb mutexes: "` + in + `": not a boolean (true, false, yes or no)`
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"500ms", 500 * time.Millisecond},
		{"1s", time.Second},
		{"1.5s", 1500 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"250000us", 250 * time.Millisecond},
		{"100ms", 100 * time.Millisecond},
	} {
		c := mustParse(t, "[cluster]\nquorum loss timeout = "+tc.in+"\n")
		if c.Cluster.QuorumLossTimeout != tc.want {
			t.Errorf("%q: got %v, want %v", tc.in, c.Cluster.QuorumLossTimeout, tc.want)
		}
	}
	_, err := parseString(t, "[raft]\ncommit timeout = 5\n")
	if err == nil || !strings.Contains(err.Error(), testFile+`:2: [raft] commit timeout: "5": not a duration`) {
		t.Errorf("bare number: %v", err)
	}
}

// TestParseErrors checks that each rejected value names the file, the line
// and the option, and says what is wrong.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"port not a number", "[cluster]\n\nport = 43x\n", `:3: [cluster] port: "43x": not a number between 1 and 65535`},
		{"port zero", "[cluster]\nport = 0\n", `:2: [cluster] port: "0": not a number between 1 and 65535`},
		{"port too big", "[cluster]\nport = 65536\n", `:2: [cluster] port: "65536": not a number between 1 and 65535`},
		{"port negative", "[cluster]\nport = -1\n", `:2: [cluster] port: "-1": not a number`},
		{"bad location", "[logging]\nlocation = /var/log/x\n", `:2: [logging] location: "/var/log/x": must be file:/absolute/path, syslog, syslog:nonblocking, syslog:udp, syslog:udp-rfc5424 or stderr`},
		{"relative log file", "[logging]\nlocation = file:log.ctdb\n", `:2: [logging] location: "file:log.ctdb": must be`},
		{"syslog method", "[logging]\nlocation = syslog:tcp\n", `:2: [logging] location: "syslog:tcp": must be`},
		{"stderr is not a file", "[logging]\nlocation = stderr:x\n", `:2: [logging] location: "stderr:x": must be`},
		{"bad level", "[logging]\nlog level = LOUD\n", `:2: [logging] log level: "LOUD": must be ERROR, WARNING, NOTICE, INFO, DEBUG (or a prefix of one) or 0 to 10`},
		{"level above 10", "[logging]\nlog level = 11\n", `:2: [logging] log level: "11": must be`},
		{"bad script log level", "[legacy]\nscript log level = bogus\n", `:2: [legacy] script log level: "bogus": must be`},
		{"bad node address", "[cluster]\nnode address = 10.0.0.300\n", `:2: [cluster] node address: "10.0.0.300": not an IPv4 or IPv6 address`},
		{"node address with port", "[cluster]\nnode address = 10.0.0.1:4379\n", `:2: [cluster] node address: "10.0.0.1:4379": not an IPv4 or IPv6 address (a port is not allowed here`},
		{"node address with zone", "[cluster]\nnode address = fe80::1%eth0\n", `:2: [cluster] node address: "fe80::1%eth0": an IPv6 zone is not allowed`},
		{"node address unspecified", "[cluster]\nnode address = 0.0.0.0\n", `:2: [cluster] node address: "0.0.0.0": not a usable node address`},
		{"node address hostname", "[cluster]\nnode address = node1\n", `:2: [cluster] node address: "node1": not an IPv4 or IPv6 address`},
		{"cluster id chars", "[cluster]\ncluster id = a/b\n", `:2: [cluster] cluster id: "a/b": must be 1 to 64 characters`},
		{"cluster id length", "[cluster]\ncluster id = " + strings.Repeat("x", 65) + "\n", `:2: [cluster] cluster id: "xxx`},
		{"relative socket", "[cluster]\nsocket = ctdbd.socket\n", `:2: [cluster] socket: "ctdbd.socket": not an absolute path`},
		{"zero keepalive", "[cluster]\nkeepalive interval = 0s\n", `:2: [cluster] keepalive interval: 0s: must be greater than 0`},
		{"negative keepalive", "[cluster]\nkeepalive interval = -1s\n", `:2: [cluster] keepalive interval: -1s: must be greater than 0`},
		{"dead peer too long", "[cluster]\ndead peer timeout = 61s\n", `:2: [cluster] dead peer timeout: 1m1s: must be at most 1m0s`},
		{"dead peer not above keepalive", "[cluster]\ndead peer timeout = 1s\nkeepalive interval = 1s\n",
			`:2: [cluster] dead peer timeout: 1s: must be greater than keepalive interval (1s)`},
		{"keepalive above default dead peer", "[cluster]\n\nkeepalive interval = 3s\n",
			`:3: [cluster] dead peer timeout: 2s: must be greater than keepalive interval (3s)`},
		{"quorum loss too short", "[cluster]\nquorum loss timeout = 99ms\n", `:2: [cluster] quorum loss timeout: 99ms: must be at least 100ms`},
		{"transport", "[cluster]\ntransport = ib\n", `:2: [cluster] transport: "ib": only tcp is supported`},
		{"transport case", "[cluster]\ntransport = TCP\n", `:2: [cluster] transport: "TCP": only tcp is supported`},
		{"leader timeout not a number", "[cluster]\nleader timeout = 5s\n", `:2: [cluster] leader timeout: "5s": not a whole number of seconds`},
		{"leader timeout zero", "[cluster]\nleader timeout = 0\n", `:2: [cluster] leader timeout: 0: must be greater than 0`},
		{"leader capability", "[cluster]\nleader capability = maybe\n", `:2: [cluster] leader capability: "maybe": not a boolean`},
		{"relative volatile", "[database]\nvolatile database directory = var\n", `:2: [database] volatile database directory: "var": not an absolute path`},
		{"relative persistent", "[database]\npersistent database directory = ./p\n", `:2: [database] persistent database directory: "./p": not an absolute path`},
		{"relative state", "[database]\nstate database directory = s\n", `:2: [database] state database directory: "s": not an absolute path`},
		{"relative raft dir", "[raft]\ndata directory = raft\n", `:2: [raft] data directory: "raft": not an absolute path`},
		{"heartbeat too short", "[raft]\nheartbeat timeout = 1ms\n", `:2: [raft] heartbeat timeout: 1ms: must be at least 5ms`},
		{"election zero", "[raft]\nelection timeout = 0s\n", `:2: [raft] election timeout: 0s: must be greater than 0`},
		{"commit zero", "[raft]\ncommit timeout = 0ms\n", `:2: [raft] commit timeout: 0s: must be greater than 0`},
		{"snapshot interval bad", "[raft]\nsnapshot interval = soon\n", `:2: [raft] snapshot interval: "soon": not a duration such as 500ms or 2s`},
		{"lease above heartbeat", "[raft]\nleader lease timeout = 500ms\n",
			`:2: [raft] leader lease timeout: 500ms: must not be greater than heartbeat timeout (400ms)`},
		{"heartbeat below default lease", "[raft]\nheartbeat timeout = 100ms\nelection timeout = 1s\n",
			`:2: [raft] leader lease timeout: 400ms: must not be greater than heartbeat timeout (100ms)`},
		{"election below heartbeat", "[raft]\nelection timeout = 200ms\nleader lease timeout = 100ms\nheartbeat timeout = 300ms\n",
			`:2: [raft] election timeout: 200ms: must not be less than heartbeat timeout (300ms)`},
		{"snapshot threshold", "[raft]\nsnapshot threshold = -5\n", `:2: [raft] snapshot threshold: "-5": not a whole number`},
		{"trailing logs", "[raft]\ntrailing logs = 1e3\n", `:2: [raft] trailing logs: "1e3": not a whole number`},
		{"no sync", "[raft]\nno sync = 1\n", `:2: [raft] no sync: "1": not a boolean`},
		{"metrics no port", "[metrics]\naddress = localhost\n", `:2: [metrics] address: "localhost": not a host:port address`},
		{"metrics named port", "[metrics]\naddress = localhost:http\n", `:2: [metrics] address: "localhost:http": port "http" is not a number`},
		{"legacy bool", "[legacy]\nstart as stopped = si\n", `:2: [legacy] start as stopped: "si": not a boolean`},
		{"ignored bool still checked", "[legacy]\nrealtime scheduling = 2\n", `:2: [legacy] realtime scheduling: "2": not a boolean`},
		{"failover bool", "[failover]\ndisabled = maybe\n", `:2: [failover] disabled: "maybe": not a boolean`},
		{"empty value", "[cluster]\nport =\n", `:2: [cluster] port: empty value`},
		{"empty value spaces", "[logging]\nlocation =   \n", `:2: [logging] location: empty value`},

		{"unknown key", "[cluster]\nport = 1\nflavour = mint\n", `:3: unknown key "flavour" in section [cluster]`},
		{"key case", "[cluster]\nNode Address = 10.0.0.1\n", `:2: unknown key "Node Address" in section [cluster] (keys are case-sensitive: "node address")`},
		{"key in wrong section", "[raft]\nport = 1\n", `:2: unknown key "port" in section [raft]`},
		{"unknown section", "[cluster]\nport = 1\n[tuning]\nx = 1\n", `:3: unknown section [tuning]`},
		{"empty section", "[]\n", `:1: unknown section []`},
		{"key before section", "# c\nport = 1\n", `:2: key "port" is outside of any section`},
		{"no equals", "[cluster]\nport 4379\n", `:2: "port 4379": not a "key = value" line or a [section] header`},
		{"no key", "[cluster]\n = 5\n", `:2: "= 5": no key before '='`},
		{"unclosed header", "[cluster\nport = 1\n", `:1: "[cluster": section header without ']'`},
		{"text after header", "[cluster] port = 1\n", `:1: "[cluster] port = 1": unexpected text after section header`},
		{"error line of continued line", "[cluster]\nport = \\\n 4x\n", `:2: [cluster] port: "4x": not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseString(t, tc.text)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), testFile+tc.want) {
				t.Errorf("error\n got %q\nwant %q", err, testFile+tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != testFile || e.Line == 0 {
				t.Errorf("error %#v is not an *Error with file and line", err)
			}
		})
	}
}

func TestParseErrorUnwraps(t *testing.T) {
	_, err := parseString(t, "[cluster]\nport = 43x\n")
	if !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("%v does not wrap strconv.ErrSyntax", err)
	}
	_, err = parseString(t, "[cluster]\nleader timeout = 99999999999999999999\n")
	if !errors.Is(err, strconv.ErrRange) {
		t.Errorf("%v does not wrap strconv.ErrRange", err)
	}
}

func validConfig() Config {
	c := Default()
	c.Cluster.NodeAddress = netip.MustParseAddr("10.0.0.2")
	c.Nodes = []Node{
		{PNN: 0, Addr: netip.MustParseAddr("10.0.0.1")},
		{PNN: 1, Addr: netip.MustParseAddr("10.0.0.2")},
		{PNN: 2, Deleted: true},
		{PNN: 3, Addr: netip.MustParseAddr("fd00::3")},
	}
	return c
}

func TestValidate(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"node address required", func(c *Config) { c.Cluster.NodeAddress = netip.Addr{} }, "config: [cluster] node address: required"},
		{"node address zone", func(c *Config) { c.Cluster.NodeAddress = netip.MustParseAddr("fe80::1%eth0") }, "config: [cluster] node address: fe80::1%eth0: an IPv6 zone is not allowed"},
		{"node address not in nodes", func(c *Config) { c.Cluster.NodeAddress = netip.MustParseAddr("10.0.0.9") },
			"config: [cluster] node address: 10.0.0.9 is not an active node in the nodes file /etc/ctdb/nodes"},
		{"nodes file empty", func(c *Config) { c.Cluster.NodesFile = "" }, "config: [cluster] nodes file: required"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "config: [cluster] nodes file: no nodes"},
		{"all deleted", func(c *Config) { c.Nodes = []Node{{PNN: 0, Deleted: true}} }, "config: [cluster] nodes file: no active nodes: all 1 are deleted"},
		{"pnn order", func(c *Config) { c.Nodes[1].PNN = 7 }, "config: [cluster] nodes file: node at index 1 has pnn 7: nodes must be listed in pnn order"},
		{"duplicate node", func(c *Config) { c.Nodes[3].Addr = netip.MustParseAddr("10.0.0.1") }, "config: [cluster] nodes file: pnn 3: 10.0.0.1: duplicate of pnn 0"},
		{"node without address", func(c *Config) { c.Nodes[0].Addr = netip.Addr{} }, "config: [cluster] nodes file: pnn 0: no address"},
		{"location", func(c *Config) { c.Logging.Location = "" }, `config: [logging] location: "": must be file:/absolute/path, syslog`},
		{"level", func(c *Config) { c.Logging.Level = "trace" }, `config: [logging] log level: "trace": must be`},
		{"cluster id", func(c *Config) { c.Cluster.ClusterID = "has space" }, `config: [cluster] cluster id: "has space": must be 1 to 64 characters`},
		{"port", func(c *Config) { c.Cluster.Port = 0 }, "config: [cluster] port: 0: not a number between 1 and 65535"},
		{"socket", func(c *Config) { c.Cluster.Socket = "" }, `config: [cluster] socket: "": not an absolute path`},
		{"keepalive", func(c *Config) { c.Cluster.KeepaliveInterval = 0 }, "config: [cluster] keepalive interval: 0s: must be greater than 0"},
		{"dead peer max", func(c *Config) { c.Cluster.DeadPeerTimeout = 2 * time.Minute }, "config: [cluster] dead peer timeout: 2m0s: must be at most 1m0s"},
		{"dead peer vs keepalive", func(c *Config) { c.Cluster.KeepaliveInterval = 2 * time.Second },
			"config: [cluster] dead peer timeout: 2s: must be greater than keepalive interval (2s)"},
		{"quorum loss", func(c *Config) { c.Cluster.QuorumLossTimeout = time.Millisecond }, "config: [cluster] quorum loss timeout: 1ms: must be at least 100ms"},
		{"leader timeout", func(c *Config) { c.Cluster.LeaderTimeout = -1 }, "config: [cluster] leader timeout: -1: must be greater than 0"},
		{"volatile", func(c *Config) { c.Database.VolatileDir = "v" }, `config: [database] volatile database directory: "v": not an absolute path`},
		{"persistent", func(c *Config) { c.Database.PersistentDir = "" }, `config: [database] persistent database directory: "": not an absolute path`},
		{"state", func(c *Config) { c.Database.StateDir = "s" }, `config: [database] state database directory: "s": not an absolute path`},
		{"raft dir", func(c *Config) { c.Raft.DataDir = "r" }, `config: [raft] data directory: "r": not an absolute path`},
		{"heartbeat", func(c *Config) { c.Raft.HeartbeatTimeout = 0 }, "config: [raft] heartbeat timeout: 0s: must be greater than 0"},
		{"election", func(c *Config) { c.Raft.ElectionTimeout = -time.Second }, "config: [raft] election timeout: -1s: must be greater than 0"},
		{"lease", func(c *Config) { c.Raft.LeaderLeaseTimeout = time.Millisecond }, "config: [raft] leader lease timeout: 1ms: must be at least 5ms"},
		{"commit", func(c *Config) { c.Raft.CommitTimeout = 0 }, "config: [raft] commit timeout: 0s: must be greater than 0"},
		{"snapshot interval", func(c *Config) { c.Raft.SnapshotInterval = 0 }, "config: [raft] snapshot interval: 0s: must be greater than 0"},
		{"lease vs heartbeat", func(c *Config) { c.Raft.LeaderLeaseTimeout = time.Second },
			"config: [raft] leader lease timeout: 1s: must not be greater than heartbeat timeout (400ms)"},
		{"election vs heartbeat", func(c *Config) { c.Raft.ElectionTimeout = 100 * time.Millisecond },
			"config: [raft] election timeout: 100ms: must not be less than heartbeat timeout (400ms)"},
		{"metrics", func(c *Config) { c.Metrics.Address = "nope" }, `config: [metrics] address: "nope": not a host:port address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}

func TestPNN(t *testing.T) {
	c := validConfig()
	for _, tc := range []struct {
		addr string
		pnn  uint32
		err  string
	}{
		{"10.0.0.1", 0, ""},
		{"10.0.0.2", 1, ""},
		{"fd00::3", 3, ""},
		{"::ffff:10.0.0.2", 1, ""},
		{"10.0.0.3", 0, "config: [cluster] node address: 10.0.0.3 is not an active node"},
		{"", 0, "config: [cluster] node address: required"},
	} {
		c.Cluster.NodeAddress = netip.Addr{}
		if tc.addr != "" {
			c.Cluster.NodeAddress = netip.MustParseAddr(tc.addr)
		}
		pnn, err := c.PNN()
		switch {
		case tc.err != "":
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: got %d, %v, want error %q", tc.addr, pnn, err, tc.err)
			}
		case err != nil || pnn != tc.pnn:
			t.Errorf("%s: got %d, %v, want %d", tc.addr, pnn, err, tc.pnn)
		}
	}
}

func TestEffectiveClusterID(t *testing.T) {
	c := validConfig()
	id := c.EffectiveClusterID()
	if len(id) != len("nodes-")+16 || !strings.HasPrefix(id, "nodes-") {
		t.Fatalf("EffectiveClusterID = %q", id)
	}
	if err := checkClusterID(id); err != nil {
		t.Errorf("derived id is not a valid cluster id: %v", err)
	}
	again := validConfig()
	again.Cluster.NodeAddress = netip.MustParseAddr("10.0.0.1") // not part of the id
	if got := again.EffectiveClusterID(); got != id {
		t.Errorf("not stable: %q then %q", id, got)
	}

	// Membership changes keep the id: a node added later derives the id of
	// the cluster it joins.
	same := map[string]func(c *Config){
		"node deleted":      func(c *Config) { c.Nodes[1] = Node{PNN: 1, Deleted: true} },
		"node added":        func(c *Config) { c.Nodes = append(c.Nodes, Node{PNN: 4, Addr: netip.MustParseAddr("10.0.0.5")}) },
		"trailing deletion": func(c *Config) { c.Nodes = append(c.Nodes, Node{PNN: 4, Deleted: true}) },
		"first deleted, address kept": func(c *Config) {
			c.Nodes[0] = Node{PNN: 0, Deleted: true, RemovedAddr: c.Nodes[0].Addr}
		},
	}
	for name, modify := range same {
		v := validConfig()
		modify(&v)
		if got := v.EffectiveClusterID(); got != id {
			t.Errorf("%s: id changed from %q to %q", name, id, got)
		}
	}
	variants := map[string]func(c *Config){
		"address changed":    func(c *Config) { c.Nodes[0].Addr = netip.MustParseAddr("10.0.0.9") },
		"order changed":      func(c *Config) { c.Nodes[0].Addr, c.Nodes[1].Addr = c.Nodes[1].Addr, c.Nodes[0].Addr },
		"first deleted bare": func(c *Config) { c.Nodes[0] = Node{PNN: 0, Deleted: true} },
	}
	seen := map[string]string{id: "original"}
	for name, modify := range variants {
		v := validConfig()
		modify(&v)
		got := v.EffectiveClusterID()
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: id %q equals that of %s", name, got, prev)
		}
		seen[got] = name
	}

	c.Cluster.ClusterID = "explicit"
	if got := c.EffectiveClusterID(); got != "explicit" {
		t.Errorf("explicit id: got %q", got)
	}
}

// TestSlogLevel: the configuration's levels are the daemon's, INFO more
// verbose than NOTICE (one parser for both).
func TestSlogLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want slog.Level
	}{
		{"ERROR", logging.LevelError}, {"err", logging.LevelError},
		{"WARNING", logging.LevelWarning}, {"Warn", logging.LevelWarning},
		{"NOTICE", logging.LevelNotice}, {"info", logging.LevelInfo},
		{"DEBUG", logging.LevelDebug}, {"debug", logging.LevelDebug},
	} {
		if got := (Logging{Level: tc.in}).SlogLevel(); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.in, got, tc.want)
		}
	}
}
