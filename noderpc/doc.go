// Package noderpc owns the control channel between nodes: request ids,
// matching replies to requests, timeouts, failing the calls pending on a
// node that went away, and serving the node-to-node controls of rctdb's
// own subsystems.
//
// A subsystem that serves a control registers a Handler for its opcode
// (Register); one that needs another node calls Call. The opcodes of
// rctdb's own controls are all declared in opcodes.go, far above CTDB's,
// and clients may not send them. CTDB's own controls travel the same way
// (Go, for the daemon's forwarding of a client's control to another node)
// but are served by the daemon's control table, not registered here.
//
// An Endpoint sits on a node transport; it owns no connection. The daemon
// passes it the REQ_CONTROL and REPLY_CONTROL packets that arrive
// (HandlePacket) and the link events (PeerDisconnected). Over
// transport.MemNetwork two Endpoints make an in-memory RPC for tests.
package noderpc
