// Package localcluster runs an rctdb cluster of real ctdbd processes on
// loopback addresses, one state directory per node, for development, tests,
// the demo and benchmarks. cmd/ctdb-local is its command line.
//
// A cluster lives in a base directory: cluster.json records the cluster id,
// the nodes (pnn, address, pid, socket) and the ctdbd binary, so that later
// invocations (kill, pause, restart, down) find it again.
package localcluster
