// Package transport owns the links between nodes: one TCP listener per node,
// a handshake that carries the cluster id, the sender's pnn, the link
// protocol version, the Samba release the node is compatible with (a node
// of another release is refused, as ctdbd 4.17 refuses a cluster with mixed
// versions) and rctdb's own version, one outgoing connection per peer that carries our CTDB
// packets and one incoming connection per peer that carries theirs (CTDB's
// model: packets flow one way on each connection), keepalives, dead-peer
// detection and reconnection with backoff.
//
// Raft's connections arrive on the same port: the first byte of every
// connection tags it as a CTDB node link or a Raft stream, so an operator
// opens one port per node. A connection from an address that is not in the
// nodes file, or with another cluster id, is refused and logged on both
// sides, so two clusters on reused addresses never merge.
//
// With [tls] mode = on (tls.go) every connection, packet link or Raft
// stream, is mutual TLS 1.3 from its first byte: both ends present a
// certificate of the cluster CA naming their node address. Refusals are
// logged once per remote host and reason (refusals.go), never more than
// once a minute, and never stop the listener.
//
// MemNetwork provides the same interface in memory, with partitions, for
// in-process cluster tests.
package transport
