// Package server wires the subsystems of one node together and owns the
// client Unix socket through which smbd, the ctdb tool and other clients
// reach the cluster.
//
// It accepts client connections (learning each client's pid from
// SO_PEERCRED), frames their packets, keeps the srvid registry and delivers
// messages to the clients that registered them, keeps the tunnel holders
// and routes tunnel packets between nodes (tunnel.go), routes messages and
// controls to other nodes over the transport, dispatches controls to their
// handlers, and serves the node-to-node controls other nodes and the Raft
// layer send. Node has Start and Shutdown(ctx), like net/http's Server.
//
// Every malformed packet closes the connection it came on, with a log line;
// it never takes the daemon down.
package server
