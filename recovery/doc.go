// Package recovery owns database recovery: what makes the copies of the
// volatile databases agree when the set of active nodes changes, and when
// a node must keep them frozen.
//
// The election commits every new generation with Recovering set; from then
// until the view without it, each node keeps its volatile databases frozen
// (Participant.Install applies the freeze policy, MustFreeze, to every
// state the node applies). The Leader runs on its own goroutine on every
// node and acts while its node leads: it notices the view that asks for a
// recovery (PlanFor), recovers, and commits the view that ends it; a
// leader that dies midway leaves the flag set, and the next one recovers
// again. Recover, every database on its own and in parallel, pulls the
// records of the nodes page by page (ranges of hash chains, packed by
// libtdb in C), plans per record which copy is the newest and where it
// lives from now on (volatile.Planner) and pushes each active node only
// what it must change, in one TDB transaction per node; copies a new
// lmaster needs only to route calls are kept in memory and written after
// the thaw. Pulling, planning and pushing overlap as a pipeline. Pulls and
// pushes carry the generation and the view's sequence number: a node
// serves them only once it installed that view and while it is still
// recovering that generation, so a deposed leader cannot push over a newer
// recovery. A node that keeps failing recoveries is banned, as ctdbd bans
// it.
package recovery
