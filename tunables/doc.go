// Package tunables serves CTDB's tunable controls (SET_TUNABLE,
// GET_TUNABLE, LIST_TUNABLES, GET_ALL_TUNABLES, and rctdb's
// SET_TUNABLE_CLUSTER) over the values the replicated state keeps: each
// node has its own values, as in 4.17, and they are set through Raft so
// that they outlive a restart; `ctdb setvar --cluster` sets every node's.
package tunables
