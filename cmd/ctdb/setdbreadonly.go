package main

import "github.com/rctdb/rctdb/protocol"

// SetdbreadonlyCmd is "ctdb setdbreadonly DB": enable read-only records
// (delegations) on a volatile database.
type SetdbreadonlyCmd struct{ Args }

// Run follows control_setdbreadonly: SET_DB_READONLY to the addressed node.
func (c *SetdbreadonlyCmd) Run(t *tool) error {
	return t.setDBFlag(c.Args.Args, "READONLY", protocol.ControlSetDBReadonly, "SET_DB_READONY")
}

// setDBFlag is control_setdbreadonly and control_setdbsticky: find the
// database (volatile only) and send op to the addressed node; the client
// library names the control opName in its messages.
func (t *tool) setDBFlag(args []string, what string, op protocol.Opcode, opName string) error {
	if len(args) != 1 {
		return t.usage()
	}
	ref, err := t.dbExists(args[0])
	if err != nil {
		return err
	}
	if !ref.volatile() {
		t.eprintf("%s can be set only on volatile DB\n", what)
		return exitCode(1)
	}
	if _, err := t.control(op, t.cmdPNN, protocol.U32(ref.id)); err != nil {
		return t.ctrlErrName(opName, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(t.dbCommandJSON(t.cmdPNN, ref.id, ref.name, ref.flags))
	}
	return nil
}
