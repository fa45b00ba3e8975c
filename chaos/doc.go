// Package chaos owns the fault campaign (make chaos, cmd/ctdb-chaos): five
// real ctdbd processes, each in a network namespace of an internal/netrig
// rig, clients on every node running persistent and replicated
// transactions, volatile fetch-lock increments and g_lock sections, while a
// seeded scheduler kills, pauses, restarts and partitions the nodes. Every
// client operation is recorded (start, end, node, input, result) and the
// histories are checked afterwards: linearizability of the persistent,
// replicated and g_lock-guarded registers (porcupine), no lost confirmed
// volatile increment, one leader per Raft term, no commit completed by a
// node the cluster held INACTIVE, and no public address on two nodes.
//
// Client operations run in worker processes (the campaign binary re-run
// with the argument "worker"), one per node: libtdb opens a file once per
// process and fcntl locks belong to a process, so lockers in one process
// would never contend as smbd processes do.
package chaos
