package main

import "github.com/rctdb/rctdb/protocol"

// SetlmasterroleCmd is "ctdb setlmasterrole on|off": the addressed node's
// LMASTER capability, until it restarts (the configuration's "lmaster
// capability" is the value it starts with). A node without it is left out
// of the vnn map at the next recovery.
type SetlmasterroleCmd struct{ Args }

// Run sends SET_LMASTERROLE.
func (c *SetlmasterroleCmd) Run(t *tool) error {
	on, ok := parseRole(c.Args.Args)
	if !ok {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	err := t.c.SetLMasterRole(ctx, t.cmdPNN, on)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlSetLMasterRole, t.cmdPNN, err)
	}
	return nil
}
