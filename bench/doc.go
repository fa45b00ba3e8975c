// Package bench drives any daemon that speaks CTDB's client protocol (ours
// or the real ctdbd) through its Unix sockets and measures it: rings of
// messages and of record migrations across the nodes, as ctdb's own
// message_ring and fetch_ring tests do. Benchmarks run here, never as timed
// unit tests.
package bench
