// Package main is the ctdb-bench command, which measures CTDB-protocol
// daemons (rctdb's or the real ctdbd) through their client sockets with
// the workloads of package bench, and compares rctdb with ctdbd 4.17.
//
//	ctdb-bench compare [--quick] [--json FILE] [--svg DIR] [--only rctdb|ctdbd]
//	    start a 3-node rctdb and a 3-node real ctdbd cluster, run every
//	    workload on both, print the table, stop both (also on Ctrl-C)
//	ctdb-bench recovery [--records N[,N...]] [--runs K] [--json FILE]
//	    for each daemon and run, start a fresh 3-node cluster, fill a
//	    volatile database, kill -9 node 2 under live fetch-lock clients on
//	    nodes 0 and 1, time the recovery, check every record, stop it
//	ctdb-bench failover [--runs K] [--cases non-leader,leader] [--json FILE]
//	    for each daemon, case and run, a fresh 3-node cluster in network
//	    namespaces (internal/netrig); kill -9 an address's holder, time
//	    until the address answers on a survivor
//	ctdb-bench health [--runs K] [--monitor-interval S] [--json FILE]
//	    the same rig and clusters with Debian's scripts for a Samba node on
//	    every node; kill -9 the smbd of an address's holder, time until the
//	    node is UNHEALTHY everywhere and the address answers SMB elsewhere,
//	    start smbd again, time until healthy and holding an address
//	ctdb-bench --sockets=S0,S1,S2 [--duration=5s] run WORKLOAD
//	    one workload against running daemons
//	ctdb-bench --sockets=S0,S1,S2 message-ring | fetch-ring [--db=NAME]
//	ctdb-bench worker
//	    internal: a worker process, driven by its parent over stdin/stdout
package main
