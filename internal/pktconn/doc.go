// Package pktconn owns the write side of a packet connection: a send queue
// that writes on the caller's goroutine while the socket has room and falls
// back to a short-lived flusher goroutine when it does not, so that a slow or
// stopped peer never blocks the sender. Node links (transport) and client
// connections (server) share it.
package pktconn
