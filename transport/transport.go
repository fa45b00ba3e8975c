package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rctdb/rctdb/config"
)

// ErrNotConnected is returned by Send when the peer's link is down; the
// packet is dropped, as ctdbd drops packets for disconnected nodes.
var ErrNotConnected = errors.New("transport: peer not connected")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("transport: closed")

// Handler receives what arrives on node links.
type Handler interface {
	// HandlePacket is called on the peer's reader goroutine, in arrival
	// order, for every CTDB packet from pnn except keepalives. The handler
	// owns pkt. It must not block for long: it delays that peer's packets.
	HandlePacket(from uint32, pkt []byte)
	// PeerConnected and PeerDisconnected report link state changes. They are
	// called from one goroutine, in order, never concurrently with each other.
	PeerConnected(pnn uint32)
	PeerDisconnected(pnn uint32)
}

// Links reports the state of node links: the part of a Transport that
// subsystems deciding about other nodes need.
type Links interface {
	// Connected reports whether both directions of the link to pnn are up.
	Connected(pnn uint32) bool
}

// Transport carries CTDB packets between nodes and Raft's streams.
type Transport interface {
	// Start begins listening and connecting; h receives packets and events.
	Start(h Handler) error
	// Send queues a complete, padded CTDB packet for pnn. It never blocks on
	// the network.
	Send(pnn uint32, pkt []byte) error
	// Connected reports whether both directions of the link to pnn are up.
	Connected(pnn uint32) bool
	// Departed reports how pnn's link last went down.
	Departures
	// Stats returns packet counters.
	Stats() Stats
	// RaftAddr is the address Raft uses for pnn; DialRaft accepts it.
	RaftAddr(pnn uint32) string
	// DialRaft opens a handshaked Raft stream to the node at addr.
	DialRaft(addr string, timeout time.Duration) (net.Conn, error)
	// RaftListener returns the listener that yields incoming Raft streams.
	RaftListener() net.Listener
	// Close stops everything and waits for the transport's goroutines.
	Close() error
}

// Stats counts node traffic.
type Stats struct {
	PacketsSent    uint64
	PacketsRecv    uint64
	KeepalivesSent uint64
	KeepalivesRecv uint64
}

// Peer is a node of the cluster as the transport knows it.
type Peer struct {
	PNN  uint32
	Addr netip.Addr
}

// Config configures a TCP transport.
type Config struct {
	// ClusterID must match on both ends of every connection.
	ClusterID string
	// Self is this node's pnn; its address is the one in Peers.
	Self uint32
	// Peers lists every non-deleted node, this one included.
	Peers []Peer
	// Links are the port, keepalive interval and dead peer timeout of the
	// configuration file.
	config.Links
	// HandshakeTimeout bounds a handshake; DialTimeout bounds a TCP connect.
	HandshakeTimeout time.Duration
	DialTimeout      time.Duration
	// SambaVersion is the Samba release this node is compatible with,
	// encoded as ctdbd's keepalives carry it (major<<16 | minor); 0 means
	// 4.17. A node of another release is refused, as ctdbd 4.17 refuses a
	// cluster with mixed versions.
	SambaVersion uint32
	// AllowMixedVersions reports whether nodes of another Samba release
	// may join all the same (4.17's AllowMixedVersions tunable); nil:
	// never.
	AllowMixedVersions func() bool
	// Software is rctdb's version, told to peers for their logs; "" means
	// this build's module version.
	Software string
	// TLS is the [tls] section: with TLS.Mode on, every connection is
	// mutual TLS 1.3 against the cluster CA (see tls.go).
	TLS config.TLS
}

func (c *Config) setDefaults() {
	c.Links.SetDefaults()
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 2 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = time.Second
	}
	if c.SambaVersion == 0 {
		c.SambaVersion = defaultSambaVersion
	}
	if c.Software == "" {
		c.Software = softwareVersion()
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.ClusterID == "" {
		return errors.New("transport config: ClusterID: required")
	}
	if len(c.ClusterID) > maxClusterID {
		return errors.New("transport config: ClusterID: longer than 255 bytes")
	}
	found := false
	for _, p := range c.Peers {
		if p.PNN == c.Self {
			found = true
		}
		if !p.Addr.IsValid() {
			return errors.New("transport config: Peers: invalid address")
		}
	}
	if !found {
		return errors.New("transport config: Self: not among Peers")
	}
	if c.TLS.Mode != "" && c.TLS.Mode != config.TLSOff && c.TLS.Mode != config.TLSOn {
		return fmt.Errorf("transport config: TLS.Mode: %q: must be %s or %s", c.TLS.Mode, config.TLSOff, config.TLSOn)
	}
	if c.TLS.Enabled() && (c.TLS.CAFile == "" || c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return errors.New("transport config: TLS: CAFile, CertFile and KeyFile are required when TLS is on")
	}
	if c.DeadPeerTimeout <= c.KeepaliveInterval {
		return errors.New("transport config: DeadPeerTimeout: must exceed KeepaliveInterval")
	}
	return nil
}
