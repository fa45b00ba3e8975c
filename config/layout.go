package config

import (
	"errors"
	"net/netip"
	"path/filepath"
)

// The compiled-in directories of Debian's ctdb 4.17 package (ctdb-path
// etcdir, rundir and vardir print them).
const (
	DefaultEtcDir = "/etc/ctdb"
	DefaultRunDir = "/run/ctdb"
	DefaultVarDir = "/var/lib/ctdb"
	// DefaultLogLocation is 4.17's [logging] location when ctdb.conf sets
	// none and the daemon runs in the background.
	DefaultLogLocation = "file:/var/log/ctdb/log.ctdb"
	// PIDFileName is the daemon's pid file in its run directory.
	PIDFileName = "ctdbd.pid"
	socketName  = "ctdbd.socket"
)

// Layout is where ctdbd finds its files, computed from the environment as
// CTDB 4.17 computes it (ctdb/common/path.c and ctdbd.c): normally
// /etc/ctdb, /run/ctdb and /var/lib/ctdb; in test mode (CTDB_TEST_MODE set
// to anything) everything under $CTDB_BASE, so that several daemons run on
// one host, each with its own CTDB_BASE.
type Layout struct {
	// TestMode is CTDB_TEST_MODE being set.
	TestMode bool
	// EtcDir holds ctdb.conf: $CTDB_BASE in test mode, else /etc/ctdb.
	EtcDir string
	// Base is $CTDB_BASE (default /etc/ctdb): the nodes file,
	// public_addresses, events/ and notify.sh are read from here.
	Base string
	// RunDir holds the pid file, the sockets: $CTDB_BASE/run in test
	// mode, else /run/ctdb; a [cluster] socket in ctdb.conf moves it to
	// that socket's directory.
	RunDir string
	// VarDir is the variable state: $CTDB_BASE/var in test mode, else
	// /var/lib/ctdb. Raft keeps its state in VarDir/raft unless
	// [raft] data directory says otherwise.
	VarDir string
	// Socket is $CTDB_SOCKET, else RunDir/ctdbd.socket; a [cluster]
	// socket in ctdb.conf wins over both.
	Socket string
	// Interactive is a daemon kept in the foreground: without a
	// [logging] location it logs to standard error, as 4.17 does.
	Interactive bool
	// ChooseAddress, if set, picks this node's address among the nodes
	// file's active nodes when ctdb.conf has no [cluster] node address
	// (4.17 binds to each in turn and keeps the first that works).
	ChooseAddress func(nodes []Node, port uint16) (netip.Addr, error)
}

// LayoutFromEnv computes the layout from the environment variables
// CTDB_TEST_MODE, CTDB_BASE and CTDB_SOCKET, read through getenv.
func LayoutFromEnv(getenv func(string) string) (Layout, error) {
	l := Layout{EtcDir: DefaultEtcDir, Base: DefaultEtcDir, RunDir: DefaultRunDir, VarDir: DefaultVarDir}
	base := getenv("CTDB_BASE")
	if base != "" {
		abs, err := filepath.Abs(base)
		if err != nil {
			return Layout{}, err
		}
		l.Base = abs
	}
	if getenv("CTDB_TEST_MODE") != "" {
		if base == "" {
			return Layout{}, errors.New("CTDB_TEST_MODE is set but CTDB_BASE is not: test mode keeps every file under CTDB_BASE")
		}
		l.TestMode = true
		l.EtcDir = l.Base
		l.RunDir = filepath.Join(l.Base, "run")
		l.VarDir = filepath.Join(l.Base, "var")
	}
	l.Socket = filepath.Join(l.RunDir, socketName)
	if s := getenv("CTDB_SOCKET"); s != "" {
		l.Socket = s
	}
	return l, nil
}

// ConfigFile is the ctdb.conf this layout reads.
func (l Layout) ConfigFile() string { return filepath.Join(l.EtcDir, "ctdb.conf") }

// PIDFile is the daemon's pid file.
func (l Layout) PIDFile() string { return filepath.Join(l.RunDir, PIDFileName) }

// Load reads the configuration at path (normally ConfigFile) the way
// package-level Load does, but fills what the file leaves unset from the
// layout instead of from the file's directory: the nodes file and
// public_addresses from Base, the socket, the Raft data directory under
// VarDir, the log location, and the node address through ChooseAddress.
// It returns the configuration and the layout it settled on (RunDir and
// Socket as the file may have moved them).
func (l Layout) Load(path string) (*Config, Layout, error) {
	c, err := load(path, &l)
	if err != nil {
		return nil, Layout{}, err
	}
	return c, l, nil
}

// fill sets what the file left unset; isSet tells which options it set.
// It runs before the nodes file is read.
func (l *Layout) fill(c *Config, isSet func(section, key string) bool) {
	if isSet(secCluster, "socket") {
		l.Socket = c.Cluster.Socket
		l.RunDir = filepath.Dir(c.Cluster.Socket)
	} else {
		c.Cluster.Socket = l.Socket
	}
	if !isSet(secRaft, "data directory") {
		c.Raft.DataDir = filepath.Join(l.VarDir, "raft")
	}
	if !isSet(secLogging, "location") {
		c.Logging.Location = DefaultLogLocation
		if l.Interactive {
			c.Logging.Location = "stderr"
		}
	}
}

// chooseAddress fills a missing node address once the nodes are known.
func (l *Layout) chooseAddress(c *Config) error {
	if c.Cluster.NodeAddress.IsValid() || l.ChooseAddress == nil {
		return nil
	}
	a, err := l.ChooseAddress(c.Nodes, c.Cluster.Port)
	if err != nil {
		return err
	}
	c.Cluster.NodeAddress = a
	return nil
}
