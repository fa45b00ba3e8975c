// Package control holds the types by which a node serves CTDB's controls:
// a Request as it arrived (from a local client or another node), the
// Reply, and a Handler that says how a control is served (its exact
// request size, whether it blocks, whether it needs a local client).
//
// The daemon's dispatcher (package server) owns the socket, the checks
// and the replies; each subsystem that owns a concern (databases,
// failover, ...) exports the Table of the controls it serves, and the
// dispatcher merges them.
package control
