// Package events runs CTDB's event scripts and speaks the protocol of
// ctdb-eventd, the event daemon of CTDB 4.17.
//
// A Runner owns the scripts of $CTDB_BASE/events/<component>
// (events/legacy in practice): it runs an event as ctdb-eventd does, one
// FIFO queue per component, each script in its own process group with
// its output captured, and keeps the status of the last completed run of
// every event. A new event cancels a running monitor; a monitor arriving
// while another event runs is cancelled at once; a timed-out script is
// handed to the [event] debug script and then killed with its whole
// process group. The Runner holds no lock while a script runs, so scripts
// may call back into the daemon (they do: `ctdb attach`, `ctdb -X ifaces`,
// `ctdb scriptstatus` ...).
//
// Server serves ctdb-eventd's Unix-socket protocol on top of a Runner, so
// that Debian's `ctdb event ...` and `ctdb scriptstatus` (which exec
// /usr/libexec/ctdb/ctdb-event) work unchanged; Client is the other side,
// used by our own tool. The wire format lives in wire.go.
//
// Dirs implements the script commands that ctdb-event performs on the
// file system itself, without the daemon: `script list`, `script enable`
// and `script disable`.
//
// Timing, ordering and exit statuses follow ctdb-eventd 4.17 (see
// ctdb-failover-and-events.md §7), with one deliberate difference: 4.17
// leaves a timed-out script running unless a debug script is configured
// (and then only sends SIGTERM); here a timed-out script's process group
// always receives SIGTERM after the debug script and SIGKILL after a
// grace period, so no script outlives its timeout for long.
package events
