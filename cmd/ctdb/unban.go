package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// UnbanCmd is "ctdb unban": lift the addressed node's ban.
type UnbanCmd struct{ Args }

// Run sends SET_BAN_STATE {pnn, 0} to the node.
func (c *UnbanCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	return t.changeFlags(flagChange{
		desc: "banned", flag: protocol.NodeFlagBanned, set: false,
		op: protocol.ControlSetBanState, failMsg: "Failed to unban node %d\n",
		control: func(ctx context.Context) error { return t.c.SetBanState(ctx, t.cmdPNN, 0) },
	})
}
