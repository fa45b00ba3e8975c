// Package traverse owns the traverses of a database across the cluster,
// as CTDB runs them for `ctdb catdb` and Samba's dbwrap traverses: the
// node whose client asked coordinates, every active node walks its copy
// and streams the records to it (TRAVERSE_DATA), and the coordinator
// passes them to the client as messages, ending with an empty record once
// every node ended.
//
// A walk pauses after every batch until the coordinator's client has
// taken most of what is queued for it (the node-to-node control
// noderpc.OpTraversePace), so that a traverse of any size streams at the
// client's pace instead of overflowing its queue.
package traverse
