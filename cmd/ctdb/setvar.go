package main

import "github.com/rctdb/rctdb/protocol"

// SetvarCmd is "ctdb setvar NAME VALUE": set a tunable on the addressed
// node, as the real tool does; with --cluster (rctdb only) on every node.
type SetvarCmd struct{ Args }

// Run follows control_setvar: the name must be listed; the value is a C
// number (trailing garbage ignored; a bad one fails silently with EINVAL or
// ERANGE as the status); a tunable the daemon calls obsolete is reported
// and counts as success.
func (c *SetvarCmd) Run(t *tool) error {
	if len(c.Args.Args) != 2 {
		return t.usage()
	}
	name := c.Args.Args[0]
	if err := t.checkTunable(name); err != nil {
		return err
	}
	v, errno := smbStrtoul(c.Args.Args[1])
	if errno != 0 {
		return exitCode(int(errno))
	}
	set, op := t.c.SetTunable, protocol.ControlSetTunable
	if t.opts.cluster {
		set, op = t.c.SetClusterTunable, protocol.ControlSetTunableCluster
	}
	ctx, cancel := t.tctx()
	obsolete, err := set(ctx, t.cmdPNN, name, uint32(v))
	cancel()
	if err != nil {
		return t.ctrlErr(op, t.cmdPNN, err)
	}
	if obsolete {
		t.eprintf("Control %s failed, ret=1\n", op)
		t.eprintf("Setting obsolete tunable variable '%s'\n", name)
	}
	if t.opts.json {
		return t.printJSON(struct {
			jsonTunable
			Obsolete bool `json:"obsolete"`
		}{jsonTunable{t.cmdPNN, name, uint32(v)}, obsolete})
	}
	return nil
}
