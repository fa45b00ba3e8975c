// Package client is a Go client of the CTDB client socket, for rctdb's
// ctdbd and for the real ctdbd alike: controls (to the local node or, by
// pnn, forwarded to another), messages, srvid registrations and the typed
// controls the ctdb tool uses.
//
// It writes packets the way CTDB's own client library does: padded to 8
// bytes, request ids counting up from 0x7FFFFF38. A Client is safe for
// concurrent use; replies are matched to requests by request id.
package client
