package config

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/rctdb/rctdb/internal/logging"
)

// Config is the whole configuration of one ctdbd.
type Config struct {
	Logging  Logging
	Cluster  Cluster
	Database Database
	Raft     Raft
	Metrics  Metrics
	Legacy   Legacy
	Failover Failover
	Event    Event
	TLS      TLS

	// Nodes is the content of Cluster.NodesFile, filled by Load.
	Nodes []Node

	// TunablesFile is the file of this node's tunables read at start
	// (4.17's ctdb.tunables beside ctdb.conf); Load sets it.
	TunablesFile string

	// Warnings lists accepted settings that deserve the operator's
	// attention, each as "file:line: message". WriteTo does not write them.
	Warnings []string
}

// Logging is the [logging] section.
type Logging struct {
	// Location is where the log goes, as logging.ParseLocation reads it:
	// "file:/absolute/path", "syslog[:method]", or "stderr".
	Location string
	// Level is a debug level as logging.ParseDebugLevel reads it (ERROR,
	// WARNING, NOTICE, INFO, DEBUG, a prefix of one in any case, or 0 to
	// 10), kept as written.
	Level string
}

// Cluster is the [cluster] section.
type Cluster struct {
	NodeAddress netip.Addr
	// NodesFile defaults to "nodes" next to the configuration file.
	NodesFile string
	// ClusterID is empty to derive it from the nodes; see
	// Config.EffectiveClusterID.
	ClusterID        string
	Socket           string
	LeaderCapability bool
	// Links are the settings of the node links (package transport).
	Links
	// QuorumLossTimeout is how long a node may be out of contact with a
	// Raft quorum before it goes INACTIVE.
	QuorumLossTimeout time.Duration
	// LeaderTimeout is parsed for compatibility with CTDB and not used.
	LeaderTimeout int
}

// Database is the [database] section.
type Database struct {
	VolatileDir     string
	PersistentDir   string
	StateDir        string
	TDBMutexes      bool
	LockDebugScript string
}

// Links are the settings of the node links, in the [cluster] section.
type Links struct {
	// Port is the TCP port every node listens on.
	Port uint16
	// KeepaliveInterval is how often a keepalive goes to each peer.
	KeepaliveInterval time.Duration
	// DeadPeerTimeout is how long a peer may stay silent before its link
	// is declared dead.
	DeadPeerTimeout time.Duration
}

// Raft is the [raft] section; the values go to hashicorp/raft.
type Raft struct {
	DataDir            string
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotInterval   time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64
	// NoSync skips fsync of the Raft log: a crash may lose committed
	// entries. For tests only.
	NoSync bool
}

// Metrics is the [metrics] section.
type Metrics struct {
	// Address is the host:port to serve metrics on; empty disables them.
	Address string
	// Profiling also serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on that address, for measuring where a daemon's time
	// goes; off by default, as the profiles show the daemon's internals.
	Profiling bool
}

// Failover is CTDB's [failover] section and rctdb's [public addresses]
// section: how this node serves public addresses.
type Failover struct {
	// Disabled ([failover] disabled) leaves addresses alone: the node
	// moves none, and answers the public address controls as ctdbd does
	// with failover disabled.
	Disabled bool
	// AddressesFile ([public addresses] file) is the public_addresses
	// file; by default the one beside this configuration file, which is
	// $CTDB_BASE/public_addresses in CTDB's layout.
	AddressesFile string
	// Lease ([public addresses] lease) is how long an address stays on an
	// interface without the leader's renewed consent: the kernel removes
	// it by itself when the lease runs out, even if this daemon is frozen
	// or cut off, so an address is never served by two nodes. 0 makes
	// addresses permanent, as ctdbd does.
	Lease time.Duration
}

// Event is CTDB's [event] section, and where the event scripts live.
type Event struct {
	// Base is $CTDB_BASE: the scripts are in Base/events/<component>,
	// the notification script is Base/notify.sh, and the scripts read
	// Base/script.options. Load sets it to the directory of the
	// configuration file, as CTDB's layout has it; empty (a configuration
	// built in code) runs no scripts.
	Base string
	// DebugScript ([event] debug script) runs as "DebugScript PID EVENT"
	// when an event script times out; relative to Base unless absolute.
	DebugScript string
}

// DefaultAddressesFile is the public addresses file of CTDB's layout.
const DefaultAddressesFile = "/etc/ctdb/public_addresses"

// Legacy is the [legacy] section.
type Legacy struct {
	StartAsStopped    bool
	StartAsDisabled   bool
	LMasterCapability bool
}

// Defaults that launchers and tools need without building a Config. Load
// replaces DefaultNodesFile by the nodes file next to the config file.
const (
	DefaultPort      = 4379
	DefaultNodesFile = "/etc/ctdb/nodes"
	DefaultSocket    = "/run/ctdb/ctdbd.socket"
)

// Every default of the link and Raft settings, declared once: Default
// uses them, and the packages that take these settings fill the zero
// values of a partial configuration (tests) from them.
var (
	defaultLinks = Links{
		Port:              DefaultPort,
		KeepaliveInterval: 500 * time.Millisecond,
		DeadPeerTimeout:   2 * time.Second,
	}
	defaultRaft = Raft{
		DataDir:            "/var/lib/ctdb/raft",
		HeartbeatTimeout:   400 * time.Millisecond,
		ElectionTimeout:    400 * time.Millisecond,
		LeaderLeaseTimeout: 400 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotInterval:   120 * time.Second,
		SnapshotThreshold:  8192,
		TrailingLogs:       10240,
	}
)

// SetDefaults fills the settings left zero with their defaults.
func (l *Links) SetDefaults() {
	l.Port = cmp.Or(l.Port, defaultLinks.Port)
	l.KeepaliveInterval = cmp.Or(l.KeepaliveInterval, defaultLinks.KeepaliveInterval)
	l.DeadPeerTimeout = cmp.Or(l.DeadPeerTimeout, defaultLinks.DeadPeerTimeout)
}

// SetDefaults fills the settings left zero with their defaults (the data
// directory aside: it has no default outside a configuration file).
func (r *Raft) SetDefaults() {
	d := defaultRaft
	r.HeartbeatTimeout = cmp.Or(r.HeartbeatTimeout, d.HeartbeatTimeout)
	r.ElectionTimeout = cmp.Or(r.ElectionTimeout, d.ElectionTimeout)
	r.LeaderLeaseTimeout = cmp.Or(r.LeaderLeaseTimeout, d.LeaderLeaseTimeout)
	r.CommitTimeout = cmp.Or(r.CommitTimeout, d.CommitTimeout)
	r.SnapshotInterval = cmp.Or(r.SnapshotInterval, d.SnapshotInterval)
	r.SnapshotThreshold = cmp.Or(r.SnapshotThreshold, d.SnapshotThreshold)
	r.TrailingLogs = cmp.Or(r.TrailingLogs, d.TrailingLogs)
}

// Default returns a Config with every default set.
func Default() Config {
	return Config{
		Logging: Logging{
			Location: "stderr",
			Level:    "NOTICE",
		},
		Cluster: Cluster{
			NodesFile:         DefaultNodesFile,
			Socket:            DefaultSocket,
			LeaderCapability:  true,
			Links:             defaultLinks,
			QuorumLossTimeout: 2 * time.Second,
			LeaderTimeout:     5,
		},
		Database: Database{
			VolatileDir:   "/var/lib/ctdb/volatile",
			PersistentDir: "/var/lib/ctdb/persistent",
			StateDir:      "/var/lib/ctdb/state",
		},
		Raft: defaultRaft,
		Legacy: Legacy{
			LMasterCapability: true,
		},
		Failover: Failover{
			AddressesFile: DefaultAddressesFile,
			Lease:         5 * time.Second,
		},
		TLS: defaultTLS(),
	}
}

// Error reports a bad setting. Its text is "file:line: [section] key: problem";
// the line is left out when unknown, "[section] key: " when the problem is
// not about one option, and the file is "config" for Validate.
type Error struct {
	File    string
	Line    int
	Section string
	Key     string
	Err     error

	// related is a second option involved in a cross-option check; Load
	// points at its line when Key was not set in the file.
	related string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File == "" {
		b.WriteString("config")
	} else {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "[%s] %s: ", e.Section, e.Key)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// valueError keeps messages short ("not a number ...") while still letting
// errors.Is reach the parser's error underneath.
type valueError struct {
	msg string
	err error
}

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return e.err }

// Validate checks every field and returns the first problem as an *Error
// naming "[section] key". It also checks Nodes, which must hold at least one
// active node, one of them at Cluster.NodeAddress.
func (c *Config) Validate() error {
	if e := c.validate(); e != nil {
		return e
	}
	return nil
}

// validate returns *Error rather than error so that Load can add the file
// and line without a type assertion.
func (c *Config) validate() *Error {
	for i := range keys {
		k := &keys[i]
		if k.check == nil {
			continue
		}
		if err := k.check(c); err != nil {
			return &Error{Section: k.section, Key: k.name, Err: err}
		}
	}
	for _, r := range crossRules {
		if err := r.check(c); err != nil {
			return &Error{Section: r.section, Key: r.key, Err: err, related: r.related}
		}
	}
	if err := checkNodeList(c.Nodes); err != nil {
		return &Error{Section: secCluster, Key: keyNodesFile, Err: err}
	}
	if _, err := c.pnn(); err != nil {
		return &Error{Section: secCluster, Key: keyNodeAddress, Err: err}
	}
	return nil
}

// PNN returns the PNN of the active node at Cluster.NodeAddress in Nodes,
// which is its line index in the nodes file, deleted nodes included.
func (c *Config) PNN() (uint32, error) {
	pnn, err := c.pnn()
	if err != nil {
		return 0, &Error{Section: secCluster, Key: keyNodeAddress, Err: err}
	}
	return pnn, nil
}

func (c *Config) pnn() (uint32, error) {
	if !c.Cluster.NodeAddress.IsValid() {
		return 0, errRequired
	}
	want := c.Cluster.NodeAddress.Unmap()
	for _, n := range c.Nodes {
		if !n.Deleted && n.Addr.Unmap() == want {
			return n.PNN, nil
		}
	}
	return 0, fmt.Errorf("%s is not an active node in the nodes file %s", want, c.Cluster.NodesFile)
}

// EffectiveClusterID returns Cluster.ClusterID if set. Otherwise it derives
// one from the nodes file so that every member of a cluster computes the
// same value without configuring it: "nodes-" and the first 16 hex digits
// of the SHA-256 of pnn 0's canonical address followed by "\n" (for a
// deleted pnn 0, the address after its '#', or "#" when there is none).
// Only pnn 0 counts, so that adding and removing other nodes, which the
// cluster does through reloadnodes, keeps the id, and a node added later
// derives the id of the cluster it joins.
func (c *Config) EffectiveClusterID() string {
	if c.Cluster.ClusterID != "" {
		return c.Cluster.ClusterID
	}
	first := "#"
	if len(c.Nodes) > 0 {
		if n := c.Nodes[0]; !n.Deleted {
			first = n.Addr.Unmap().String()
		} else if n.RemovedAddr.IsValid() {
			first = n.RemovedAddr.Unmap().String()
		}
	}
	sum := sha256.Sum256([]byte(first + "\n"))
	return "nodes-" + hex.EncodeToString(sum[:])[:16]
}

// DebugLevel is Level as CTDB's debug level number (logging.ParseDebugLevel).
// An unknown level gives NOTICE, which Validate prevents.
func (l Logging) DebugLevel() int32 {
	n, err := logging.ParseDebugLevel(l.Level)
	if err != nil {
		return logging.DebugNotice
	}
	return n
}

// Destination is Location parsed. An invalid location gives stderr, which
// Validate prevents.
func (l Logging) Destination() logging.Location {
	loc, err := logging.ParseLocation(l.Location)
	if err != nil {
		return logging.Location{To: logging.ToStderr}
	}
	return loc
}

// SlogLevel is the slog level a daemon at Level logs at.
func (l Logging) SlogLevel() slog.Level { return logging.FromCTDB(l.DebugLevel()) }

var errRequired = errors.New("required")
