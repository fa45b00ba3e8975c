package main

import "github.com/rctdb/rctdb/protocol"

// SetleaderroleCmd is "ctdb setleaderrole on|off": the addressed node's
// LEADER capability, until it restarts (the configuration's "leader
// capability" is the value it starts with). A leader that loses it hands
// Raft leadership to a node that has it.
type SetleaderroleCmd struct{ Args }

// Run sends SET_RECMASTERROLE.
func (c *SetleaderroleCmd) Run(t *tool) error {
	on, ok := parseRole(c.Args.Args)
	if !ok {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	err := t.c.SetLeaderRole(ctx, t.cmdPNN, on)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlSetRecMasterRole, t.cmdPNN, err)
	}
	return nil
}

// parseRole reads the on|off argument of the role commands; anything else
// (or another number of arguments) is a usage error.
func parseRole(args []string) (on, ok bool) {
	if len(args) != 1 {
		return false, false
	}
	switch args[0] {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}
