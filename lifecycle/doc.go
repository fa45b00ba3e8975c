// Package lifecycle runs a node's life as CTDB 4.17 does, around the event
// scripts: the run states (INIT, SETUP, FIRST_RECOVERY, STARTUP, RUNNING,
// SHUTDOWN), each event at its moment (init before the client socket
// opens, setup, startup retried until it passes, startrecovery and
// recovered around every database recovery, monitor on its cadence,
// shutdown last), the node's health as the monitor decides it, reported
// through Raft so that the leader's runtime view marks the node UNHEALTHY
// and moves its public addresses, and the notification script
// ($CTDB_BASE/notify.sh) on the changes 4.17 notifies.
//
// One goroutine owns the run state and the monitor's schedule; events run
// on goroutines of their own, so that a script that hangs delays nothing
// but its own event (the events package kills it at its timeout). Failover
// runs its public-address events through RunEvent and asks Healthy before
// it holds an address: a node whose monitor failed gives up its addresses
// at once, before the cluster hears of it.
//
// The metrics (ctdb_events_healthy, ctdb_events_health_changes_total,
// ctdb_events_monitor_timeouts_in_row) sit beside the events package's
// ctdb_events_* counters: both are the event-script subsystem to an
// operator.
package lifecycle
