// Package netnstest gives tests real network interfaces on a machine without
// dummy or macvlan devices: a rig of network namespaces joined by veth pairs
// to one Linux bridge in the test's own namespace, with two private /24
// subnets (node addresses and movable public addresses) picked so that they
// never meet the host's networks or another rig, an IPv6 ULA /64 for public
// IPv6 addresses, and a client namespace to connect from.
//
// A Rig owns everything it creates and removes it in t.Cleanup, also when the
// test fails; processes still running inside its namespaces are killed then.
// Rigs of test processes that died without cleaning up are found by their
// state files and removed by CleanupStale, which New runs first.
//
// Tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespace mounts) and
// the ip tool of iproute2; CI runs them as root, they are never skipped.
package netnstest
