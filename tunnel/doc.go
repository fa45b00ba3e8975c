// Package tunnel routes CTDB 4.17's tunnels (TUNNEL_REGISTER,
// TUNNEL_DEREGISTER and REQ_TUNNEL): a client registers a tunnel id with
// its node, and the clients of nodes that hold the same id exchange opaque
// packets through their daemons. It owns the node's map from tunnel id to
// the one local client that holds it, and the rules of 4.17 for where a
// tunnel packet may go; the daemon reads neither the flags nor the data,
// answers nothing to the sender and drops what it cannot deliver.
//
// The server hands it the packets of its clients and of other nodes and
// tells it when a client goes; the router sends through a small Net the
// server implements, so that it can be tested without sockets or links.
package tunnel
