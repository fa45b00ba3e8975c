// Package config owns the configuration of ctdbd: the ctdb.conf file, the
// nodes file, their defaults, and the checks that reject a bad setting before
// the daemon starts. It performs file I/O only in Load, Layout.Load and
// LoadNodes; of ours it imports only internal/logging, for the names of the
// log levels.
// The settings of the node links (Links) and of Raft (Raft), with their
// defaults, are declared here once and taken as they are by packages
// transport and raftlayer.
//
// # ctdb.conf
//
// The syntax is that of CTDB 4.17 (Samba's tini parser under common/conf.c),
// so an existing ctdb.conf keeps working:
//
//   - "[section]" opens a section; section names are case-insensitive.
//   - "key = value" sets an option; keys contain spaces and are
//     case-sensitive ("node address", not "Node Address"). Runs of
//     whitespace inside a key count as one space; whitespace around the key
//     and the value is ignored.
//   - A line whose first non-blank character is '#' or ';' is a comment.
//     There are no trailing comments: in "port = 1 # x" the value is "1 # x".
//   - A line ending in '\' continues on the next line.
//   - Booleans are true/false or yes/no, in any case.
//   - A key set twice keeps its last value; a section may be opened twice.
//   - Empty values, unknown sections and unknown keys are errors.
//
// Where CTDB silently skips a line without '=', this package reports it:
// such a line is almost always a typo. Integers are decimal, but for
// CTDB's leader timeout, read as 4.17 reads it (0x10 is 16, 010 is 8).
//
// Every option of CTDB 4.17 is accepted, with the values 4.17 accepts
// (log levels and locations as package logging reads them). Those that
// have no meaning for a Raft-led cluster (cluster lock, recovery lock,
// leader timeout, lock debug script, realtime scheduling, script log
// level, tdb mutexes set to true) add one notice each to Config.Warnings,
// "file:line: [section] option is ...". rctdb's own options live in
// sections of their own: [raft], [metrics], [public addresses] and [tls]
// (mutual TLS on node links; its files default to ca.pem, node.pem and
// node-key.pem in a "tls" directory beside ctdb.conf, and with mode = on
// Load fails, naming the option, if one cannot be read), plus a few in
// [cluster] (port, socket, cluster id, keepalive interval, dead peer
// timeout, quorum loss timeout, nodes file).
//
// # Nodes file
//
// The nodes file follows ctdb_read_nodes_file of CTDB 4.17: one IPv4 or IPv6
// address per line, spaces and tabs around it ignored, no port. A line
// starting with '#' is a deleted node: it keeps its PNN so that later nodes
// do not change theirs. Because of that the nodes file has no comments: every
// '#' line takes a PNN. Blank lines are skipped and take no PNN.
//
// # Where the files are
//
// Layout (layout.go) is CTDB 4.17's file layout from the environment:
// /etc/ctdb, /run/ctdb and /var/lib/ctdb, or all of them under $CTDB_BASE
// in test mode (CTDB_TEST_MODE), with $CTDB_SOCKET naming the socket.
// Layout.Load fills what ctdb.conf leaves unset from it: the socket, Raft's
// directory (VarDir/raft), the nodes file and public_addresses from
// $CTDB_BASE, the log location, and the node address (chosen among the
// nodes by a function the daemon passes in, as 4.17 binds to find it).
//
// # Errors
//
// Every error about a setting is an *Error naming the file, the line and the
// option, e.g. "/etc/ctdb/ctdb.conf:12: [cluster] port: "43x": not a number
// between 1 and 65535". Validate, which has no file, uses "config" instead.
package config
