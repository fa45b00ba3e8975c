package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// DelipCmd is "ctdb delip IP": remove a public address from the addressed
// node. An address the node hosts stays until the next takeover run moves
// it away; the tool does not ask for one.
type DelipCmd struct{ Args }

// Run follows control_delip: nothing to do (status 0) when the node does
// not know the address.
func (c *DelipCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	arg := c.Args.Args[0]
	addr, ok := parseSockAddr(arg, false)
	if !ok {
		t.eprintf("Invalid IP address %s\n", arg)
		return exitCode(1)
	}
	ips, err := t.publicIPs(t.cmdPNN)
	if err != nil {
		if fatal(err) {
			return err
		}
		t.eprintf("Failed to get Public IPs from node %d\n", t.cmdPNN)
		return exitCode(1)
	}
	action := jsonIPAction{jsonAction{t.name, t.cmdPNN, false}, sockAddrString(addr, false), ""}
	if !knowsIP(ips, addr) {
		t.eprintf("Node does not know about IP address %s\n", sockAddrString(addr, false))
		return t.ipDone(action)
	}
	ctx, cancel := t.tctx()
	err = t.c.DelPublicIP(ctx, t.cmdPNN, protocol.AddrInfo{Addr: addr})
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlDelPublicIP, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Failed to delete public IP from node %d\n", t.cmdPNN)
		}
		return err
	}
	action.Changed = true
	return t.ipDone(action)
}
