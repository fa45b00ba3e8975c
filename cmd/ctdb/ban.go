package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// BanCmd is "ctdb ban BANTIME": ban the addressed node for BANTIME seconds.
type BanCmd struct{ Args }

// Run sends SET_BAN_STATE {pnn, time} to the node.
func (c *BanCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	var secs uint32
	return t.changeFlags(flagChange{
		desc: "banned", flag: protocol.NodeFlagBanned, set: true,
		op: protocol.ControlSetBanState, failMsg: "Failed to ban node %d\n",
		prepare: func() error { return t.parseBanTime(c.Args.Args[0], &secs) },
		control: func(ctx context.Context) error { return t.c.SetBanState(ctx, t.cmdPNN, secs) },
	})
}
