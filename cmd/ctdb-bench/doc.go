// Package main is the ctdb-bench command, which measures a cluster of
// CTDB-protocol daemons (rctdb's or the real ctdbd) through their client
// sockets, with the rings of package bench.
//
//	ctdb-bench --sockets=S0,S1,S2 [--duration=10s] message-ring
//	ctdb-bench --sockets=S0,S1,S2 [--duration=10s] fetch-ring [--db=NAME]
package main
