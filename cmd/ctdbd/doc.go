// Package main is the ctdbd command, the rctdb daemon: one node of a
// CTDB-compatible cluster, started as CTDB 4.17's ctdbd is started.
//
// Without options it goes into the background and its command returns
// once the daemon serves (or fails with the daemon's reason);
// -i/--interactive keeps it in the foreground. It finds its files as 4.17
// does (config.Layout): /etc/ctdb/ctdb.conf, the pid file
// /run/ctdb/ctdbd.pid, the socket /run/ctdb/ctdbd.socket ($CTDB_SOCKET
// overrides it) and Raft's state in /var/lib/ctdb/raft; with
// CTDB_TEST_MODE set, all of them under $CTDB_BASE. --config (rctdb's)
// names the ctdb.conf instead, and its directory then holds the nodes file
// and the rest of CTDB_BASE's files. The daemon runs until SIGTERM, SIGINT
// or a client's shutdown request (ctdb shutdown), then removes its socket
// and pid file and exits 0.
package main
