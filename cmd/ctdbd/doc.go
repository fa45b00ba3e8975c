// Package main is the ctdbd command, the rctdb daemon: one node of a
// CTDB-compatible cluster.
//
// It reads a ctdb.conf-style configuration (default /etc/ctdb/ctdb.conf, or
// $CTDB_BASE/ctdb.conf when CTDB_BASE is set) and the nodes file it names,
// serves the CTDB client protocol on its Unix socket and runs until
// SIGTERM, SIGINT or a client's shutdown request.
package main
