// Package startsettings applies what ctdbd 4.17 gives a node at every
// start and rctdb keeps in Raft: the node's ctdb.tunables and ctdb.conf's
// [legacy] start as stopped / start as disabled. Once the node reaches a
// quorum it reads the cluster state linearizably and commits only what the
// state does not hold yet, retrying until every setting is in.
package startsettings
