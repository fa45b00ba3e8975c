// Package main is the ctdb-local command, which runs a local rctdb cluster
// of real ctdbd processes on loopback addresses, for development, tests and
// the demo.
//
//	ctdb-local up N --base DIR [--addr 127.X.Y.Z]   start N nodes, wait until all are OK
//	ctdb-local down --base DIR [--purge]           stop every node
//	ctdb-local status --base DIR                   one line per node
//	ctdb-local kill K --base DIR                   SIGKILL node K
//	ctdb-local pause K / resume K --base DIR       SIGSTOP / SIGCONT node K
//	ctdb-local restart K --base DIR                stop node K and start it again
package main
