// Package recovery owns database recovery: what makes the copies of the
// volatile databases agree when the set of active nodes changes.
//
// The election commits every new generation with Recovering set; from then
// until the view without it, each node keeps its volatile databases frozen
// (Participant.Install). The leader's Recover then, database by database,
// pulls the records of the nodes that held them in the last recovered
// generation, keeps the newest copy of each (volatile.Merge) and pushes the
// result to every node of the new generation, in one TDB transaction per
// node, naming itself dmaster so that every lmaster agrees where each
// record is. Pulls and pushes carry the generation and the view's sequence
// number: a node serves them only once it installed that view and while it
// is still recovering that generation, so a deposed leader cannot push over
// a newer recovery. A node that keeps failing recoveries is banned, as
// ctdbd bans it.
package recovery
