package main

import "github.com/rctdb/rctdb/protocol"

// SetlmasterroleCmd is "ctdb setlmasterrole on|off": the addressed node's
// LMASTER capability, until it restarts (the configuration's "lmaster
// capability" is the value it starts with). A node without it is left out
// of the vnn map at the next recovery.
type SetlmasterroleCmd struct{ Args }

// Run sends SET_LMASTERROLE.
func (c *SetlmasterroleCmd) Run(t *tool) error {
	return t.roleCommand(c.Args.Args, protocol.ControlSetLMasterRole, t.c.SetLMasterRole)
}
