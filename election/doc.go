// Package election turns Raft leadership into CTDB's leader role.
//
// The Raft leader is the CTDB leader: there is no lock file and no election
// race. Every node tells its local clients who leads by delivering
// CTDB_SRVID_LEADER messages every second (CTDB_UNKNOWN_PNN while it knows
// no leader), as ctdbd's recovery daemon does. A node that has lost contact
// with a Raft quorum for longer than a bound declares itself inactive: its
// node map shows it DISCONNECTED and it refuses record traffic until it is
// back, so a minority partition never acts as a cluster.
//
// While leading, a node does the leader's duties: it initialises the
// replicated state on first start, lifts bans that expired, hands leadership
// away when it may not lead (no leader capability, banned, stopped), and
// commits the runtime view (disconnected and unhealthy nodes, active set,
// generation, vnn map) whenever the links or the node flags change.
//
// A view with a new generation asks for a recovery: it is committed with
// Recovering set, which keeps every node's volatile databases frozen.
// The election only decides when; package recovery runs the recovery on
// the leader, off this package's loops, and commits the view that ends it,
// so that bans expire and membership changes go on while it runs.
package election
