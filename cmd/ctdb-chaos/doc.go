// Package main is the ctdb-chaos command, which runs the fault campaign
// of package chaos: a 5-node rctdb cluster in network namespaces, clients
// on every node, a seeded fault schedule, and checked histories. CHAOS_CYCLES and CHAOS_SEED set
// the run (flags override them); it ends with one line
//
//	chaos: cycles=N operations=N violations=N seed=S
//
// and exits 1 on any violation (the run's directory is kept and named),
// 2 if the campaign could not run. Run as root (network namespaces).
package main
