// Package volatile owns CTDB's volatile databases on one node: the TDB
// files smbd shares with the daemon (locking.tdb, brlock.tdb, g_lock.tdb,
// the smbXsrv databases), record migration between nodes, and vacuuming.
//
// Every record carries CTDB's 24-byte ltdb header naming its dmaster, the
// node holding the authoritative copy. A client that wants a record it does
// not hold asks its daemon (REQ_CALL); the call goes to the dmaster it
// believes in, is redirected through the key's lmaster (chosen by hashing
// the key over the vnn map) to the real dmaster, and the record travels to
// the requester: straight from the dmaster (REPLY_DMASTER) with a notice to
// the lmaster, or through the lmaster when one of the two is the lmaster.
// Every packet carries the generation of the vnn map; packets of another
// generation are dropped and the calls they belonged to are sent again.
//
// The rules of migration are package migration's, a state machine without
// I/O (calls.go drives it): this package holds the files, the chain locks,
// the pin watch and the timers, and carries out what the rules decide.
//
// Locking. The daemon holds each database open once (libtdb allows one
// handle per file and process) and serialises its use with a mutex. It
// takes hash chain locks as OFD locks (package tdb): an operation on a
// record whose chain is free runs at once; otherwise it waits in the
// chain's queue, and one waiter per chain blocks in the kernel until smbd
// releases the lock, with at most LockWaitersPerDB such waiters per
// database. Nothing blocks the node, nothing is forked per lock, and many
// queued operations cost one map entry per chain.
//
// A node that asked for a record and is about to become its dmaster queues
// other nodes' requests for it instead of sending them around again, so a
// record in flight is never bounced between nodes, and local requests for a
// record already requested join the pending one (fetch collapse).
//
// Read-only delegations (readonly.go). On a database marked READONLY a
// node may ask for a read-only copy instead of the record: the dmaster
// keeps the record and hands out copies marked HAVE_READONLY, which smbd
// reads locally; a write revokes every copy before the record moves.
//
// Recovery. Every new generation starts with a recovery (recovery.go): the
// node freezes its databases until the cluster declares the recovery over;
// the leader pulls the records of the nodes that held them, plans which
// copy of each is the newest and which node is its dmaster from now on
// (recoveryplan.go: a record stays where it was when it can) and pushes
// each node only its changes, so that every lmaster knows where each
// record is. Copies an lmaster lacked are kept in memory and written after
// the thaw (pending.go). Calls in flight are sent again at the thaw.
package volatile
