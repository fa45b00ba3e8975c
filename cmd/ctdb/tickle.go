package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/protocol"
)

// TickleCmd is "ctdb tickle SRC:PORT DST:PORT": send one TCP ACK (seq 0,
// ack 0, window 1234) from DST to SRC on a raw socket of this host, without
// the daemon; or, without arguments, one for every "SRC:PORT DST:PORT" line
// of standard input. SRC is the side that answers the ACK: for a client
// connected to a public address, "ctdb tickle CLIENT:PORT PUBLIC:PORT" run
// on the address's new holder makes the client answer, be reset, and
// reconnect at once.
type TickleCmd struct{ Args }

// Run follows control_tickle: the same parsing, messages and exit status;
// the segment is sent from the second address to the first.
func (c *TickleCmd) Run(t *tool) error {
	args := c.Args.Args
	switch len(args) {
	case 0:
		return t.tickleList()
	case 2:
	default:
		return t.usage()
	}
	conn, err := t.connArgs(args)
	if err != nil {
		return err
	}
	if !t.tickle(conn) {
		t.eprintf("Failed to send tickle ack\n")
		return exitCode(1)
	}
	return t.tickleSent(1)
}

// tickleList is control_tickle's standard-input form: every connection is
// tickled, failures are counted. A malformed line (or one that mixes
// families) ends the tool silently with its errno as the status, before
// anything is sent.
func (t *tool) tickleList() error {
	conns, errno := readConnections(t.in)
	if errno != 0 {
		return exitCode(int(errno))
	}
	failed := 0
	for _, c := range conns {
		if !t.tickle(c) {
			failed++
		}
	}
	if failed > 0 {
		t.eprintf("Failed to send %d tickles\n", failed)
		return exitCode(1)
	}
	return t.tickleSent(len(conns))
}

// tickle sends the tickle ACK of c, from c.Dst to c.Src, and reports a
// failure on standard error as the real tool's ctdb_sys_send_tcp logs it.
func (t *tool) tickle(c protocol.Connection) bool {
	from, to := c.Dst.AddrPort(), c.Src.AddrPort()
	if c.Src.Family != c.Dst.Family {
		// The real tool opens a socket of the sender's family and
		// sendto() refuses the other family's destination.
		t.eprintf("Failed sendto (%s)\n", strerror(syscall.EAFNOSUPPORT))
		return false
	}
	if err := linuxhost.SendTickleACK(from, to); err != nil {
		t.eprintf("%s", tickleFailure(from, err))
		return false
	}
	return true
}

// tickleFailure is the line the real tool logs when sending a tickle from
// `from` failed with err (an error of linuxhost.SendTickleACK). The real
// tool names the failed step: opening the raw socket (with the function's
// name, as its DBG_ERR does; for IPv6 without the reason) or sendto.
// Addresses linuxhost refuses to use (unspecified, multicast), which the
// real tool would send to anyway, are reported with linuxhost's reason.
func tickleFailure(from netip.AddrPort, err error) string {
	var errno syscall.Errno
	switch {
	case !errors.As(err, &errno):
		return fmt.Sprintf("%v\n", err)
	case strings.Contains(err.Error(), "open raw socket"):
		if from.Addr().Is4() {
			return fmt.Sprintf("ctdb_sys_send_tcp: Failed to open raw socket (%s)\n", strerror(errno))
		}
		return "ctdb_sys_send_tcp: Failed to open sending socket\n"
	default:
		return fmt.Sprintf("Failed sendto (%s)\n", strerror(errno))
	}
}

// tickleSent prints tickle's JSON document, when asked for: n tickle ACKs
// sent.
func (t *tool) tickleSent(n int) error {
	if !t.opts.json {
		return nil
	}
	return t.printJSON(struct {
		Command string `json:"command"`
		Sent    int    `json:"sent"`
	}{t.name, n})
}
