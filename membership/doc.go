// Package membership owns which nodes make up the cluster, as far as it
// goes beyond the Raft state itself: it follows the replicated node list
// (the node links dial added nodes and cut removed ones off; the nodes
// file is rewritten when this node was away while the list changed),
// turns `ctdb reloadnodes` into the Raft command that changes the list,
// and lets the leader keep the Raft group in step with it.
package membership
