// Package persistent owns the persistent and replicated databases: their
// local TDB files, and the path by which a client's TRANS3_COMMIT becomes
// one Raft command that every node's state machine applies to its own file.
//
// The Raft log (with its snapshots) is the durable copy of these databases;
// the TDB files are what smbd reads, rebuilt from the log. So the Store
// wipes a file when it first opens it in a run, and the state machine's
// snapshot restore and log replay fill it again. This is also how a node
// that was away, or a new one, catches up: from the log or a snapshot,
// never from another node's file.
//
// Writes reach a file only through Store.ApplyData, called by the Raft
// state machine in log order, so every node applies the same changes in
// the same order and ends with the same records (headers included).
// Committer turns a client's record buffer into such a command and waits
// until every active node has applied it, so that a read on any node after
// the reply sees the write.
package persistent
