package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// StopCmd is "ctdb stop": stop the addressed node.
type StopCmd struct{ Args }

// Run sends STOP_NODE to the node.
func (c *StopCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	return t.changeFlags(flagChange{
		desc: "stopped", flag: protocol.NodeFlagStopped, set: true,
		op: protocol.ControlStopNode, failMsg: "Failed to stop node %d\n",
		control: func(ctx context.Context) error { return t.c.StopNode(ctx, t.cmdPNN) },
	})
}
