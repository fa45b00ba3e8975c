package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// GetdbstatusCmd is "ctdb getdbstatus DB": a database's id, name, path,
// flags and health on the addressed node.
type GetdbstatusCmd struct{ Args }

// formatDBStatus renders control_getdbstatus.
func formatDBStatus(d dbStatus) string {
	yn := func(f uint8) string {
		if d.Flags&f != 0 {
			return "yes"
		}
		return "no"
	}
	health := "OK"
	if d.Health != nil {
		health = *d.Health
	}
	return fmt.Sprintf("dbid: 0x%08x\nname: %s\npath: %s\n", d.ID, d.Name, d.Path) +
		fmt.Sprintf("PERSISTENT: %s\nREPLICATED: %s\nSTICKY: %s\nREADONLY: %s\n",
			yn(protocol.DBFlagPersistent), yn(protocol.DBFlagReplicated),
			yn(protocol.DBFlagSticky), yn(protocol.DBFlagReadonly)) +
		fmt.Sprintf("HEALTH: %s\n", health)
}

// Run follows control_getdbstatus: find the database on our node, then
// GETDBPATH and DB_GET_HEALTH on the addressed node.
func (c *GetdbstatusCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, err := t.dbExists(c.Args.Args[0])
	if err != nil {
		return err
	}
	d, err := t.dbStatus(t.cmdPNN, ref.id, ref.flags, &ref.name)
	if err != nil {
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN uint32 `json:"pnn"`
			jsonDBStatus
		}{t.cmdPNN, dbStatusJSON(d.ID, d.Name, d.Flags, d.Path, d.Health)})
	}
	t.print(formatDBStatus(d))
	return nil
}
