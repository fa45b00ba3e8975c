package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// SetifacelinkCmd is "ctdb setifacelink IFACE up|down": mark a public
// interface of the addressed node up or down (10.interface's monitor
// does this from the real link state).
type SetifacelinkCmd struct{ Args }

// Run follows control_setifacelink: the interface must be one the node
// lists, and the state word is checked only once it is found.
func (c *SetifacelinkCmd) Run(t *tool) error {
	if len(c.Args.Args) != 2 {
		return t.usage()
	}
	name, state := c.Args.Args[0], c.Args.Args[1]
	if len(name) > protocol.IfaceNameSize {
		t.eprintf("Interface name '%s' too long\n", name)
		return exitCode(1)
	}
	ctx, cancel := t.tctx()
	ifaces, err := t.c.GetIfaces(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlGetIfaces, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Failed to get interface information from node %d\n", t.cmdPNN)
		}
		return err
	}
	var iface *protocol.Iface
	for i := range ifaces {
		if ifaces[i].Name == name {
			iface = &ifaces[i]
			break
		}
	}
	if iface == nil {
		t.printf("Interface %s not configured on node %d\n", name, t.cmdPNN)
		return exitCode(1)
	}
	switch state {
	case "up":
		iface.LinkState = 1
	case "down":
		iface.LinkState = 0
	default:
		return t.usage()
	}
	iface.References = 0
	ctx, cancel = t.tctx()
	err = t.c.SetIfaceLinkState(ctx, t.cmdPNN, *iface)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlSetIfaceLinkState, t.cmdPNN, err)
	}
	return t.done(true)
}
