// Package netrig builds real network interfaces on a machine without dummy
// or macvlan devices: a rig of network namespaces joined by veth pairs to
// one Linux bridge in this process's namespace, with two private /24
// subnets (node addresses and movable public addresses) picked so that
// they never meet the host's networks or another rig, an IPv6 ULA /64 for
// public IPv6 addresses, and a client namespace to connect from.
//
// It serves the tests (through internal/netnstest, which ties a rig to a
// testing.TB) and the failover benchmark (cmd/ctdb-bench), which runs whole
// clusters of rctdb or of the real ctdbd inside a rig. A Rig owns
// everything it creates and removes it in Close; processes still running
// inside its namespaces are killed then. Rigs of processes that died
// without closing them are found by their state files and removed by
// CleanupStale. A Claim gives a caller that builds its own links and
// namespaces (a test of the real ctdbd's interface handling) a rig id, so
// that what it names with it is cleaned up the same way.
//
// Building a rig needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespace
// mounts) and the ip tool of iproute2.
package netrig
