// Package bench drives any daemon that speaks CTDB's client protocol (ours
// or the real ctdbd) through its Unix sockets and measures it, so that
// rctdb and ctdbd 4.17 can be compared with identical workloads:
//
//   - lock contention: locker processes on every node fetch-lock shared
//     keys as smbd does (chain lock, header check, migration request),
//     uniformly or Zipf-skewed; rate, latency, fairness, hop count;
//   - rings of messages and of record migrations (ctdb's message_ring and
//     fetch_ring);
//   - transaction loops on persistent and replicated databases and a
//     g_lock loop (ctdb's transaction_loop and g_lock_loop);
//   - the floor: the message ring over raw sockets with no daemon logic,
//     the machine's limit;
//   - recovery after kill -9 of a node under live clients (Recovery),
//     public-IP failover after kill -9 of an address's holder (Failover),
//     and a node's health after its smbd dies while its daemon lives, and
//     after smbd's restart (Health), each on a fresh cluster per run.
//
// Every workload checks its own outcome (counters add up, tokens arrive in
// order, copies agree) and Compare refuses a ratio when a side failed.
// Lockers are separate processes (the ctdb-bench binary in worker mode):
// fcntl locks and libtdb handles belong to a process. Benchmarks run here,
// never as timed unit tests.
package bench
