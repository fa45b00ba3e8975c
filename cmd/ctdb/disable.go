package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// DisableCmd is "ctdb disable": disable the addressed node permanently.
type DisableCmd struct{ Args }

// Run sends DISABLE_NODE to the node.
func (c *DisableCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	return t.changeFlags(flagChange{
		desc: "disabled", flag: protocol.NodeFlagPermanentlyDisabled, set: true,
		op: protocol.ControlDisableNode, failMsg: "Failed to disable node %d\n",
		control: func(ctx context.Context) error { return t.c.DisableNode(ctx, t.cmdPNN) },
	})
}
