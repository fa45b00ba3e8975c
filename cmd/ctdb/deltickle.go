package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// DeltickleCmd is "ctdb deltickle [SRC:PORT DST:PORT]": remove a recorded
// TCP connection from the addressed node, or every connection listed on
// standard input.
type DeltickleCmd struct{ Args }

// Run follows control_deltickle.
func (c *DeltickleCmd) Run(t *tool) error {
	return t.tickleCommand(c.Args.Args, tickleOp{
		send: t.c.TCPRemove, op: protocol.ControlTCPRemove,
		failedOne: "Failed to unregister connection\n", failedList: "Failed to remove %d tickles\n",
	})
}
