// Package raftlayer owns the Raft-replicated cluster state: cluster identity
// and membership, administrative node flags (banned with expiry, stopped,
// disabled, deleted), node capabilities, the runtime view the leader decides
// (generation, vnn map, disconnected and unhealthy nodes) and the tunables
// (cluster-wide values and each node's own).
//
// The state machine (State and its typed commands) is pure logic with no
// I/O, tested on its own. Node wraps hashicorp/raft around it: raft-boltdb
// for the log and stable store, file snapshots, Raft streams over the node
// transport, Apply from any node (forwarded to the leader), waits for a
// given index to be applied locally or on other nodes, and linearizable
// reads. A cluster is bootstrapped exactly once from the nodes file; a
// restart finds existing state and never bootstraps again.
package raftlayer
