package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// SetleaderroleCmd is "ctdb setleaderrole on|off": the addressed node's
// LEADER capability, until it restarts (the configuration's "leader
// capability" is the value it starts with). A leader that loses it hands
// Raft leadership to a node that has it.
type SetleaderroleCmd struct{ Args }

// Run sends SET_RECMASTERROLE.
func (c *SetleaderroleCmd) Run(t *tool) error {
	return t.roleCommand(c.Args.Args, protocol.ControlSetRecMasterRole, t.c.SetLeaderRole)
}

// roleCommand is setleaderrole and setlmasterrole: the on|off argument
// (anything else, or another number of arguments, is a usage error), then
// the control that sets the role.
func (t *tool) roleCommand(args []string, op protocol.Opcode, set func(ctx context.Context, dest uint32, on bool) error) error {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	err := set(ctx, t.cmdPNN, args[0] == "on")
	cancel()
	if err != nil {
		return t.ctrlErr(op, t.cmdPNN, err)
	}
	return t.done(true)
}
