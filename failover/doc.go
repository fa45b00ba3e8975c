// Package failover owns public-IP failover: deciding which node holds each
// public address, carrying out the takeover run that moves addresses to
// their new holders, and keeping each host's addresses in line with that
// decision.
//
// Its pure allocation core lives in alloc*.go and lcp2*.go: Allocate
// reproduces, for the same input, the assignment CTDB 4.17 computes in its
// takeover runs with each of its three algorithms (deterministic,
// non-deterministic and LCP2, chosen by the IPAllocAlgorithm tunable),
// including its tie orders and its unsigned 32-bit arithmetic, and CanHost is
// 4.17's rule for whether a node offers an address as available. The core
// does no I/O, reads no clock and draws no random numbers, so a leader and a
// test given the same input get the same answer.
package failover
