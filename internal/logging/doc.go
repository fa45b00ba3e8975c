// Package logging owns CTDB's debug levels: their names and numbers as
// CTDB 4.17 parses and prints them (the one parser of level names in
// rctdb, used for ctdb.conf, the ctdb tool and SET_DEBUG), their mapping
// onto log/slog, the run-time level of a daemon, and the daemon's log
// handler.
package logging
