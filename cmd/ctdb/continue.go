package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// ContinueCmd is "ctdb continue": restart a stopped node.
type ContinueCmd struct{ Args }

// Run sends CONTINUE_NODE to the node.
func (c *ContinueCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	return t.changeFlags(flagChange{
		desc: "stopped", flag: protocol.NodeFlagStopped, set: false,
		op: protocol.ControlContinueNode, failMsg: "Failed to continue stopped node %d\n",
		control: func(ctx context.Context) error { return t.c.ContinueNode(ctx, t.cmdPNN) },
	})
}
