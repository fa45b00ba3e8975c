package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// GratarpCmd is "ctdb gratarp IP IFACE": make the addressed node announce
// an address on an interface (gratuitous ARP, or unsolicited neighbour
// advertisement for IPv6). The daemon answers at once and sends the
// announcements afterwards.
type GratarpCmd struct{ Args }

// Run follows control_gratarp.
func (c *GratarpCmd) Run(t *tool) error {
	if len(c.Args.Args) != 2 {
		return t.usage()
	}
	arg, ifname := c.Args.Args[0], c.Args.Args[1]
	addr, ok := parseSockAddr(arg, false)
	if !ok {
		t.eprintf("Invalid IP address %s\n", arg)
		return exitCode(1)
	}
	ctx, cancel := t.tctx()
	err := t.c.SendGratuitousARP(ctx, t.cmdPNN, protocol.AddrInfo{Addr: addr, Iface: ifname})
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlSendGratuitousARP, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Unable to send gratuitous arp from node %d\n", t.cmdPNN)
		}
		return err
	}
	return t.ipDone(jsonIPAction{jsonAction{t.name, t.cmdPNN, true}, sockAddrString(addr, false), ifname})
}
