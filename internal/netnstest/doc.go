// Package netnstest ties the network-namespace rigs of internal/netrig to
// a test: New builds a rig and removes it in t.Cleanup, also when the test
// fails (processes still running inside its namespaces are killed then);
// stale rigs of test processes that died without cleaning up are removed
// first. Out-of-range nodes and failed link changes fail the test, and
// listeners and overlap watches end with it.
//
// Tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespace mounts) and
// the ip tool of iproute2; CI runs them as root, they are never skipped.
package netnstest
