package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// AddipCmd is "ctdb addip ADDR/BITS IFACE": add a public address to the
// addressed node and ask the leader to move addresses onto it.
type AddipCmd struct{ Args }

// Run follows control_addip: nothing to do (status 0) when the node already
// knows the address; ADD_PUBLIC_IP up to five times, with a pause after
// each failure; then a REBALANCE_NODE message to every connected node.
func (c *AddipCmd) Run(t *tool) error {
	if len(c.Args.Args) != 2 {
		return t.usage()
	}
	arg, ifname := c.Args.Args[0], c.Args.Args[1]
	addr, mask, ok := parseAddrMask(arg)
	if !ok {
		t.eprintf("Invalid IP/Mask %s\n", arg)
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
	action := jsonIPAction{jsonAction{t.name, t.cmdPNN, false}, sockAddrString(addr, false), ifname}
	if knowsIP(ips, addr) {
		t.eprintf("Node already knows about IP %s\n", sockAddrString(addr, false))
		return t.ipDone(action)
	}
	info := protocol.AddrInfo{Addr: addr, Mask: mask, Iface: ifname}
	for range moveipAttempts {
		ctx, cancel := t.tctx()
		err = t.c.AddPublicIP(ctx, t.cmdPNN, info)
		cancel()
		if err == nil {
			break
		}
		if err = t.ctrlErr(protocol.ControlAddPublicIP, t.cmdPNN, err); fatal(err) {
			return err
		}
		if serr := t.sleep(retryDelay()); serr != nil {
			return serr
		}
	}
	if err != nil {
		t.eprintf("Failed to add public IP to node %d. Giving up\n", t.cmdPNN)
		return err
	}
	if err := t.c.RebalanceNode(protocol.BroadcastConnected, t.cmdPNN); err != nil {
		return errDisconnected
	}
	action.Changed = true
	return t.ipDone(action)
}

// ipDone prints the JSON document of an IP action, when asked for.
func (t *tool) ipDone(a jsonIPAction) error {
	if !t.opts.json {
		return nil
	}
	return t.printJSON(a)
}
