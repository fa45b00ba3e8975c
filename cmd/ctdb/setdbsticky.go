package main

import "github.com/rctdb/rctdb/protocol"

// SetdbstickyCmd is "ctdb setdbsticky DB": enable sticky records on a
// volatile database.
type SetdbstickyCmd struct{ Args }

// Run follows control_setdbsticky: SET_DB_STICKY to the addressed node.
func (c *SetdbstickyCmd) Run(t *tool) error {
	return t.setDBFlag(c.Args.Args, "STICKY", protocol.ControlSetDBSticky, "SET_DB_STICKY")
}
