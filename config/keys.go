package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rctdb/rctdb/internal/logging"
)

const (
	secLogging  = "logging"
	secCluster  = "cluster"
	secDatabase = "database"
	secRaft     = "raft"
	secMetrics  = "metrics"
	secLegacy   = "legacy"
	secEvent    = "event"
	secFailover = "failover"
	secPublic   = "public addresses"

	keyNodeAddress        = "node address"
	keyNodesFile          = "nodes file"
	keyAddressesFile      = "file"
	keyKeepalive          = "keepalive interval"
	keyDeadPeer           = "dead peer timeout"
	keyHeartbeatTimeout   = "heartbeat timeout"
	keyElectionTimeout    = "election timeout"
	keyLeaderLeaseTimeout = "leader lease timeout"
)

// sections is in file order; WriteTo follows it.
var sections = []string{
	secLogging, secCluster, secDatabase, secRaft, secMetrics, secLegacy,
	secEvent, secFailover, secPublic, secTLS,
}

// key describes one option: how to read it, check it and write it back.
type key struct {
	section, name string
	// set parses the text of a value; it rejects what cannot be stored.
	set func(c *Config, v string) error
	// get returns the value as it would be written; nil for options that
	// are accepted and ignored.
	get func(c *Config) string
	// check validates the stored value on its own, for Parse and Validate.
	check func(c *Config) error
	// warn returns a warning for a value read from a file, or "".
	warn func(c *Config) string
	// always writes the option even when it has its default value, for
	// defaults that depend on where the file lives.
	always bool
}

// crossRule checks an option against another one. Parse runs them once the
// whole file is read, since the options may come in any order.
type crossRule struct {
	section, key, related string
	check                 func(c *Config) error
}

var keys = append([]key{
	func() key {
		k := strKey(secLogging, "location", func(c *Config) *string { return &c.Logging.Location }, checkLocation)
		k.warn = func(c *Config) string {
			if c.Logging.Destination().Syslog == "udp-rfc5424" {
				return "sends RFC 3164 messages: rctdb does not write RFC 5424"
			}
			return ""
		}
		return k
	}(),
	strKey(secLogging, "log level", func(c *Config) *string { return &c.Logging.Level }, checkLevel),

	{
		section: secCluster, name: keyNodeAddress,
		set: func(c *Config, v string) error {
			a, err := parseAddr(v, false)
			if err != nil {
				return err
			}
			c.Cluster.NodeAddress = a
			return nil
		},
		get: func(c *Config) string {
			if !c.Cluster.NodeAddress.IsValid() {
				return ""
			}
			return c.Cluster.NodeAddress.String()
		},
		check: func(c *Config) error {
			a := c.Cluster.NodeAddress
			switch {
			case !a.IsValid():
				return errRequired
			case a.Zone() != "":
				return fmt.Errorf("%s: an IPv6 zone is not allowed", a)
			case a.IsUnspecified():
				return fmt.Errorf("%s: not a usable node address", a)
			}
			return nil
		},
	},
	func() key {
		k := strKey(secCluster, keyNodesFile, func(c *Config) *string { return &c.Cluster.NodesFile }, func(s string) error {
			if s == "" {
				return errRequired
			}
			return nil
		})
		k.always = true
		return k
	}(),
	strKey(secCluster, "cluster id", func(c *Config) *string { return &c.Cluster.ClusterID }, checkClusterID),
	{
		section: secCluster, name: "port",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n == 0 {
				return &valueError{fmt.Sprintf("%q: not a number between 1 and 65535", v), err}
			}
			c.Cluster.Port = uint16(n)
			return nil
		},
		get: func(c *Config) string { return strconv.FormatUint(uint64(c.Cluster.Port), 10) },
		check: func(c *Config) error {
			if c.Cluster.Port == 0 {
				return errors.New("0: not a number between 1 and 65535")
			}
			return nil
		},
	},
	strKey(secCluster, "socket", func(c *Config) *string { return &c.Cluster.Socket }, checkAbs),
	boolKey(secCluster, "leader capability", func(c *Config) *bool { return &c.Cluster.LeaderCapability }),
	durKey(secCluster, keyKeepalive, func(c *Config) *time.Duration { return &c.Cluster.KeepaliveInterval }, 0, 0),
	durKey(secCluster, keyDeadPeer, func(c *Config) *time.Duration { return &c.Cluster.DeadPeerTimeout }, 0, time.Minute),
	durKey(secCluster, "quorum loss timeout", func(c *Config) *time.Duration { return &c.Cluster.QuorumLossTimeout }, 100*time.Millisecond, 0),
	ignoredKey(secCluster, "cluster lock", nil, noLock),
	ignoredKey(secCluster, "recovery lock", nil, noLock),
	ignoredKey(secCluster, "transport", func(v string) error {
		// CTDB compares case-sensitively and has only ever shipped tcp.
		if v != "tcp" {
			return fmt.Errorf("%q: only tcp is supported", v)
		}
		return nil
	}, ""),
	{
		section: secCluster, name: "leader timeout",
		set: func(c *Config, v string) error {
			// CTDB reads integers with strtol(..., 0): 0x10 is 16.
			n, err := strconv.ParseInt(v, 0, 32)
			if err != nil {
				return &valueError{fmt.Sprintf("%q: not a whole number of seconds", v), err}
			}
			c.Cluster.LeaderTimeout = int(n)
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(c.Cluster.LeaderTimeout) },
		check: func(c *Config) error {
			if c.Cluster.LeaderTimeout <= 0 {
				return fmt.Errorf("%d: must be greater than 0", c.Cluster.LeaderTimeout)
			}
			return nil
		},
		warn: func(*Config) string {
			return "is ignored: Raft notices a lost leader ([raft] heartbeat timeout and election timeout)"
		},
	},

	strKey(secDatabase, "volatile database directory", func(c *Config) *string { return &c.Database.VolatileDir }, checkAbs),
	strKey(secDatabase, "persistent database directory", func(c *Config) *string { return &c.Database.PersistentDir }, checkAbs),
	strKey(secDatabase, "state database directory", func(c *Config) *string { return &c.Database.StateDir }, checkAbs),
	noticeWhenTrue(boolKey(secDatabase, "tdb mutexes", func(c *Config) *bool { return &c.Database.TDBMutexes }),
		"is ignored: rctdb opens databases with fcntl locks only"),
	noticeAlways(strKey(secDatabase, "lock debug script", func(c *Config) *string { return &c.Database.LockDebugScript }, nil),
		"is ignored: rctdb waits for record and database locks without a helper process to debug"),

	strKey(secRaft, "data directory", func(c *Config) *string { return &c.Raft.DataDir }, checkAbs),
	// The lower bounds are those hashicorp/raft's ValidateConfig enforces,
	// so that a config that passes here also starts Raft.
	durKey(secRaft, keyHeartbeatTimeout, func(c *Config) *time.Duration { return &c.Raft.HeartbeatTimeout }, 5*time.Millisecond, 0),
	durKey(secRaft, keyElectionTimeout, func(c *Config) *time.Duration { return &c.Raft.ElectionTimeout }, 5*time.Millisecond, 0),
	durKey(secRaft, keyLeaderLeaseTimeout, func(c *Config) *time.Duration { return &c.Raft.LeaderLeaseTimeout }, 5*time.Millisecond, 0),
	durKey(secRaft, "commit timeout", func(c *Config) *time.Duration { return &c.Raft.CommitTimeout }, time.Millisecond, 0),
	durKey(secRaft, "snapshot interval", func(c *Config) *time.Duration { return &c.Raft.SnapshotInterval }, 5*time.Millisecond, 0),
	uintKey(secRaft, "snapshot threshold", func(c *Config) *uint64 { return &c.Raft.SnapshotThreshold }),
	uintKey(secRaft, "trailing logs", func(c *Config) *uint64 { return &c.Raft.TrailingLogs }),
	noticeWhenTrue(boolKey(secRaft, "no sync", func(c *Config) *bool { return &c.Raft.NoSync }),
		"is unsafe: a crash can lose committed Raft entries; use it for tests only"),

	strKey(secMetrics, "address", func(c *Config) *string { return &c.Metrics.Address }, checkHostPort),
	writtenWhenTrue(boolKey(secMetrics, "profiling", func(c *Config) *bool { return &c.Metrics.Profiling })),

	boolKey(secLegacy, "start as stopped", func(c *Config) *bool { return &c.Legacy.StartAsStopped }),
	boolKey(secLegacy, "start as disabled", func(c *Config) *bool { return &c.Legacy.StartAsDisabled }),
	boolKey(secLegacy, "lmaster capability", func(c *Config) *bool { return &c.Legacy.LMasterCapability }),
	ignoredKey(secLegacy, "realtime scheduling", checkBool, "is ignored: rctdb runs at normal priority"),
	ignoredKey(secLegacy, "script log level", checkLevel, "is ignored: rctdb logs event script output at its own levels"),

	strKey(secEvent, "debug script", func(c *Config) *string { return &c.Event.DebugScript }, nil),

	boolKey(secFailover, "disabled", func(c *Config) *bool { return &c.Failover.Disabled }),
	func() key {
		k := strKey(secPublic, keyAddressesFile, func(c *Config) *string { return &c.Failover.AddressesFile }, nil)
		k.always = true
		return k
	}(),
	durKey(secPublic, "lease", func(c *Config) *time.Duration { return &c.Failover.Lease }, 0, 0),
}, tlsKeys()...)

var crossRules = []crossRule{
	{secCluster, keyDeadPeer, keyKeepalive, func(c *Config) error {
		if c.Cluster.DeadPeerTimeout <= c.Cluster.KeepaliveInterval {
			return fmt.Errorf("%s: must be greater than keepalive interval (%s)",
				c.Cluster.DeadPeerTimeout, c.Cluster.KeepaliveInterval)
		}
		return nil
	}},
	{secRaft, keyLeaderLeaseTimeout, keyHeartbeatTimeout, func(c *Config) error {
		if c.Raft.LeaderLeaseTimeout > c.Raft.HeartbeatTimeout {
			return fmt.Errorf("%s: must not be greater than heartbeat timeout (%s)",
				c.Raft.LeaderLeaseTimeout, c.Raft.HeartbeatTimeout)
		}
		return nil
	}},
	{secRaft, keyElectionTimeout, keyHeartbeatTimeout, func(c *Config) error {
		if c.Raft.ElectionTimeout < c.Raft.HeartbeatTimeout {
			return fmt.Errorf("%s: must not be less than heartbeat timeout (%s)",
				c.Raft.ElectionTimeout, c.Raft.HeartbeatTimeout)
		}
		return nil
	}},
}

func findSection(name string) (string, bool) {
	for _, s := range sections {
		// CTDB matches section names with strcasecmp.
		if strings.EqualFold(s, name) {
			return s, true
		}
	}
	return "", false
}

func findKey(section, name string) *key {
	for i := range keys {
		if keys[i].section == section && keys[i].name == name {
			return &keys[i]
		}
	}
	return nil
}

// similarKey finds the key a case-insensitive match would have picked, to
// explain why CTDB's case-sensitive lookup failed.
func similarKey(section, name string) string {
	for i := range keys {
		if keys[i].section == section && strings.EqualFold(keys[i].name, name) {
			return keys[i].name
		}
	}
	return ""
}

func strKey(section, name string, field func(*Config) *string, check func(string) error) key {
	k := key{
		section: section, name: name,
		set: func(c *Config, v string) error { *field(c) = v; return nil },
		get: func(c *Config) string { return *field(c) },
	}
	if check != nil {
		k.check = func(c *Config) error { return check(*field(c)) }
	}
	return k
}

func boolKey(section, name string, field func(*Config) *bool) key {
	return key{
		section: section, name: name,
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			if err != nil {
				return err
			}
			*field(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

func uintKey(section, name string, field func(*Config) *uint64) key {
	return key{
		section: section, name: name,
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return &valueError{fmt.Sprintf("%q: not a whole number from 0 to %d", v, uint64(1<<64-1)), err}
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.FormatUint(*field(c), 10) },
	}
}

// durKey reads a Go duration such as 500ms; it must be greater than 0, at
// least minimum and, if maximum > 0, at most maximum.
func durKey(section, name string, field func(*Config) *time.Duration, minimum, maximum time.Duration) key {
	return key{
		section: section, name: name,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return &valueError{fmt.Sprintf("%q: not a duration such as 500ms or 2s", v), err}
			}
			*field(c) = d
			return nil
		},
		get: func(c *Config) string { return field(c).String() },
		check: func(c *Config) error {
			d := *field(c)
			switch {
			case d <= 0:
				return fmt.Errorf("%s: must be greater than 0", d)
			case d < minimum:
				return fmt.Errorf("%s: must be at least %s", d, minimum)
			case maximum > 0 && d > maximum:
				return fmt.Errorf("%s: must be at most %s", d, maximum)
			}
			return nil
		},
	}
}

// Notices of options rctdb accepts without acting on them.
const (
	noLock = "is ignored: rctdb elects its leader with Raft, without a cluster lock"
)

// noticeWhenTrue makes a boolean option add msg to the warnings when it is
// set to true.
func noticeWhenTrue(k key, msg string) key {
	get := k.get
	k.warn = func(c *Config) string {
		if get(c) != "true" {
			return ""
		}
		return msg
	}
	return k
}

// writtenWhenTrue leaves a boolean option out of WriteTo's output unless it
// is on, like the empty options without a default: [metrics] appears in a
// written file only when a launcher asks for metrics.
func writtenWhenTrue(k key) key {
	get := k.get
	k.get = func(c *Config) string {
		if v := get(c); v == "true" {
			return v
		}
		return ""
	}
	return k
}

// noticeAlways makes an option add msg to the warnings whenever it is set.
func noticeAlways(k key, msg string) key {
	k.warn = func(*Config) string { return msg }
	return k
}

// ignoredKey accepts an option that only CTDB uses. valid, if not nil,
// still rejects values CTDB itself would reject; a non-empty warning is
// reported whenever the option appears.
func ignoredKey(section, name string, valid func(string) error, warning string) key {
	k := key{
		section: section, name: name,
		set: func(_ *Config, v string) error {
			if valid != nil {
				return valid(v)
			}
			return nil
		},
	}
	if warning != "" {
		return noticeAlways(k, warning)
	}
	return k
}

// parseBool accepts what CTDB's conf.c accepts: true/yes and false/no in
// any case. It does not accept 1/0 or on/off.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes":
		return true, nil
	case "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q: not a boolean (true, false, yes or no)", v)
}

func checkBool(v string) error {
	_, err := parseBool(v)
	return err
}

func checkLocation(s string) error {
	_, err := logging.ParseLocation(s)
	return err
}

func checkLevel(s string) error {
	if _, err := logging.ParseDebugLevel(s); err != nil {
		return fmt.Errorf("%q: must be ERROR, WARNING, NOTICE, INFO, DEBUG (or a prefix of one) or 0 to 10", s)
	}
	return nil
}

func checkAbs(s string) error {
	if !filepath.IsAbs(s) {
		return fmt.Errorf("%q: not an absolute path", s)
	}
	return nil
}

func checkClusterID(s string) error {
	if s == "" {
		return nil
	}
	bad := len(s) > 64
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '_', r == '-':
		default:
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%q: must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", s)
	}
	return nil
}

func checkHostPort(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return &valueError{fmt.Sprintf("%q: not a host:port address", s), err}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return &valueError{fmt.Sprintf("%q: port %q is not a number between 0 and 65535", s, port), err}
	}
	return nil
}

// parseAddr parses a node address the way CTDB 4.17 does: inet_pton for
// IPv4 or IPv6, no port, an IPv4-mapped IPv6 address taken as IPv4.
// brackets allows "[v6]", which ip_from_string strips in the nodes file but
// the [cluster] node address check does not.
func parseAddr(s string, brackets bool) (netip.Addr, error) {
	text := s
	if brackets && len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		text = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		msg := fmt.Sprintf("%q: not an IPv4 or IPv6 address", s)
		if _, perr := netip.ParseAddrPort(s); perr == nil {
			msg += " (a port is not allowed here; the port is [cluster] port)"
		}
		return netip.Addr{}, &valueError{msg, err}
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: an IPv6 zone is not allowed", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("%q: not a usable node address", s)
	}
	return a, nil
}
