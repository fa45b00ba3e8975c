// Package tests holds the multi-process tests: real ctdbd processes started
// with ctdb-local on their own loopback addresses, driven through their
// sockets by our client and by Debian's ctdb 4.17 tool. They build the
// binaries once per run and need the Debian ctdb package (make test
// installs it).
package tests
