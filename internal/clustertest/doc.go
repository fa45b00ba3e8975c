// Package clustertest is the one harness of rctdb's cluster tests: it
// starts clusters of nodes in this process (Start, over an in-memory
// network that can be partitioned), and it observes any running cluster
// through its client sockets, in-process or of real ctdbd processes
// (internal/localcluster), with waits that end on a condition or a
// deadline, never after a guessed sleep.
//
// WaitAgreed is the wait most tests start from: every observer RUNNING,
// out of recovery, in one generation, following one leader, and showing
// the wanted node flags. Every check of state another node applies
// asynchronously goes through a wait like it.
package clustertest
