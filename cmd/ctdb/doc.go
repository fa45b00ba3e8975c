// Package main is the ctdb command, rctdb's CTDB command line tool. It
// talks to a local ctdbd (ours or Samba's) through its Unix socket and prints exactly what Samba's
// ctdb 4.17 tool prints, byte for byte, in the plain form and in the machine
// readable forms (-X, -Y, -x SEP), with the same messages on standard error
// and the same exit statuses. It also offers --json, a stable JSON document
// per command (schemas in json.go).
//
// Usage:
//
//	ctdb [OPTIONS] COMMAND [ARGS]
//
// Options may appear anywhere on the command line, as the real tool's popt
// parser allows; "--" ends them:
//
//	-n, --node=PNN        address node PNN (it must exist and be neither
//	                      DISCONNECTED nor DELETED)
//	-X                    machine readable output, separator '|' (or -x)
//	-Y                    machine readable output
//	-x, --separator=SEP   separator of machine readable output
//	-t, --timelimit=SECS  timeout of each control (default 10)
//	-T, --maxruntime=SECS limit of the whole run (default $CTDB_TIMEOUT or 120;
//	                      0 means none)
//	-d, --debug=LEVEL     accepted for compatibility
//	-v, --verbose         accepted for compatibility
//	    --json            print a JSON document instead
//	    --cluster         setvar: set the tunable on every node (rctdb
//	                      only; plain setvar sets the addressed node, as
//	                      the real tool's)
//	-?, --help            show help
//
// Commands: status, nodestatus [all|PNN-LIST], pnn, leader, uptime, ping,
// runstate [STATE...], getpid, getcapabilities, listvars, getvar NAME,
// setvar [--cluster] NAME VALUE, ban BANTIME, unban, stop, continue, disable, enable,
// statistics, statisticsreset, stats [COUNT], shutdown, listnodes, version;
// and the database commands: getdbmap, getdbstatus DB, attach NAME
// [persistent|replicated], detach DB..., catdb DB, cattdb DB, readkey DB KEY
// [readonly], writekey DB KEY VALUE, deletekey DB KEY, wipedb DB,
// getdbseqnum DB, dbstatistics DB, setdbreadonly DB, setdbsticky DB,
// pfetch DB KEY, pstore DB KEY VALUE, pdelete DB KEY, ptrans DB [FILE],
// backupdb DB FILE, restoredb FILE [DB], dumpdbbackup FILE, tfetch TDBFILE
// KEY [FILE], tstore TDBFILE KEY VALUE [RSN [DMASTER]]; and the public-IP
// commands: ip [all] (-v: the interfaces of each address), ipinfo IP,
// ifaces, setifacelink IFACE up|down, moveip IP PNN, addip ADDR/BITS IFACE,
// delip IP, reloadips [all|PNN-LIST], ipreallocate (and its old name sync),
// gratarp IP IFACE, gettickles IP [PORT], addtickle and deltickle
// [SRC:PORT DST:PORT] (without arguments, one connection per line of
// standard input). tickle, which sends a raw packet and needs no daemon,
// is not ours. Also: process-exists PID [SRVID], getreclock (prints
// nothing: rctdb has no cluster lock), setleaderrole on|off, setlmasterrole
// on|off, checktcpport PORT (needs no daemon; exits with bind's errno),
// dumpmemory and rddumpmemory (rctdb answers with the Go runtime's memory
// statistics in talloc's report layout). A DB is
// a database name, or its id when it starts with "0x"; keys and values are
// taken literally (no NUL added), or as hexadecimal bytes after "0x".
// readkey, writekey and deletekey only work on volatile databases; the
// record is migrated to our node first. catdb shows the records of the
// whole cluster (a traverse through the daemon, records with no data left
// out), cattdb our node's TDB file as it is. pfetch, pstore, pdelete and
// ptrans work on persistent and replicated databases, in a transaction of
// the ctdb client library (g_lock in g_lock.tdb, TRANS3_COMMIT); backupdb
// saves our node's copy in the real tool's backup format, which restoredb
// loads on every active node and dumpdbbackup prints.
//
// The daemon's socket is $CTDB_SOCKET, else $CTDB_BASE/run/ctdbd.socket when
// $CTDB_TEST_MODE is set, else /run/ctdb/ctdbd.socket. listnodes reads
// $CTDB_BASE/nodes, else /etc/ctdb/nodes (the real tool knows no CTDB_NODES).
//
// version prints the version of the ctdb tool we are compatible with,
// "4.17.12-Debian", as the real tool does, so that scripts comparing
// versions keep working; our own version is given by version --json.
package main
