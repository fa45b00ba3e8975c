// Package sambatest runs a clustered Samba for tests: one Debian smbd 4.17
// per cluster node, each with its own smb.conf (clustering = yes, ctdbd
// socket = that node's socket) and its own directories, all serving one
// common directory as [share], which stands in for the cluster file system.
//
// A node's smbd either listens on one (loopback) address, or runs inside
// the node's network namespace (ip netns exec) listening on every address
// there, so that it serves the public addresses its daemon takes over.
//
// It owns the smb.conf it writes, the smbd processes it starts (each in its
// own process group, stopped or killed and reaped with their children),
// the wait until each smbd answers an SMB2 NEGOTIATE, a minimal SMB2 client
// (NEGOTIATE, ECHO) for tests that watch a connection live and die, and
// helpers that run Samba's command-line tools (smbclient, pdbedit, net,
// python3 with python3-samba) with one node's configuration, from any
// network namespace.
//
// It does not care which daemon is behind the sockets: rctdb's ctdbd or
// the real ctdbd 4.17 serve it alike, which is how tests compare the two.
package sambatest
