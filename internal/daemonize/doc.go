// Package daemonize owns ctdbd's process habits, those of CTDB 4.17's
// ctdbd: going into the background, the pid file held with a lock, and
// the check that no other daemon answers on the client socket.
//
// Go cannot fork, so Background starts this program again, detached (a
// new session, standard input and output on /dev/null), and waits on a
// pipe until the new process reports that it is ready (its pid file
// written and its socket listening) or why it could not start. The
// caller's process then exits, as ctdbd's parent does after fork, but only
// once the daemon can be used: a service manager that reads the pid file
// (systemd's Type=forking) finds it in place.
package daemonize
