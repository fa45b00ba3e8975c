package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// EnableCmd is "ctdb enable": enable a disabled node.
type EnableCmd struct{ Args }

// Run sends ENABLE_NODE to the node.
func (c *EnableCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	return t.changeFlags(flagChange{
		desc: "disabled", flag: protocol.NodeFlagPermanentlyDisabled, set: false,
		op: protocol.ControlEnableNode, failMsg: "Failed to enable node %d\n",
		control: func(ctx context.Context) error { return t.c.EnableNode(ctx, t.cmdPNN) },
	})
}
