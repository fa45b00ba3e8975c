// Package databases owns a node's databases as clients see them, whichever
// their kind: it attaches the databases of the replicated state (Install),
// and serves the CTDB controls that attach, find, describe, freeze, thaw,
// wipe, detach, vacuum and commit to them, on top of package volatile (the
// volatile databases and record migration) and package persistent (the
// persistent and replicated ones, committed through Raft).
package databases
