// Package access decides what a local process may ask of the daemon
// through the client socket, by the uid SO_PEERCRED gives for it: root may
// do everything; any other process may only read the cluster's status and
// tunables and keep its own message registrations (an allowlist, so that
// a control added later needs root until it is judged harmless). The
// server asks it about each packet before dispatching it.
package access
