// Package migration holds the rules by which the records of a volatile
// database move between nodes, as a state machine without I/O: calls from
// local clients and other nodes, redirection through the lmaster, the hand
// over of a record (REQ_DMASTER, REPLY_DMASTER), fetch collapse, requests
// that follow a record in flight, the pin that gives local clients their
// turn, generation checks and read-only delegations with their revocation.
//
// A Core serves one database on one node. Its driver (package volatile)
// holds the key's hash chain, reads the key's record from the file and
// feeds the Core one Event with it; the Core decides and returns Actions
// (send a packet, store the record, answer a client, start a revocation,
// run calls again later), which the driver carries out in order before it
// lets the chain go. Everything the Core knows of the world comes in
// through events, the record passed with them and Env (the generation, the
// vnn map, reqids), so the same rules run unchanged in the daemon and in
// the scenario and fuzz tests of this package, which drive several Cores
// over an in-memory network.
//
// The Core does not lock: its driver serialises Steps (the database
// mutex) and holds the key's chain for every Step that names a key.
package migration
