package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// IpinfoCmd is "ctdb ipinfo IP": what the addressed node knows about one
// public address.
type IpinfoCmd struct{ Args }

// Run follows control_ipinfo. An address the node does not know is
// reported on standard output, after the client library's message.
func (c *IpinfoCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	arg := c.Args.Args[0]
	addr, ok := parseSockAddr(arg, false)
	if !ok {
		t.eprintf("Invalid IP address %s\n", arg)
		return exitCode(1)
	}
	ctx, cancel := t.tctx()
	info, err := t.c.GetPublicIPInfo(ctx, t.cmdPNN, addr)
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlGetPublicIPInfo, t.cmdPNN, err)
		if err == exitCode(-1) {
			t.printf("Node %d does not know about IP %s\n", t.cmdPNN, arg)
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(ipinfoJSON(t.cmdPNN, info))
	}
	t.print(formatIPInfo(info, t.cmdPNN))
	return nil
}

// ipinfoName is an interface name as control_ipinfo prints it: cut to
// CTDB_IFACE_SIZE bytes.
func ipinfoName(n string) string {
	if len(n) > protocol.IfaceNameSize {
		return n[:protocol.IfaceNameSize]
	}
	return n
}

// formatIPInfo renders control_ipinfo's output (the same with -X).
func formatIPInfo(info *protocol.PublicIPInfo, cmdPNN uint32) string {
	var b strings.Builder
	addr := sockAddrString(info.IP.Addr, false)
	fmt.Fprintf(&b, "Public IP[%s] info on node %d\n", addr, cmdPNN)
	fmt.Fprintf(&b, "IP:%s\nCurrentNode:%d\nNumInterfaces:%d\n", addr, info.IP.PNN, len(info.Ifaces))
	for i, iface := range info.Ifaces {
		link := "up"
		if iface.LinkState == 0 {
			link = "down"
		}
		active := ""
		if uint32(i) == info.ActiveIdx {
			active = " (active)"
		}
		fmt.Fprintf(&b, "Interface[%d]: Name:%s Link:%s References:%d%s\n", i+1, ipinfoName(iface.Name), link, iface.References, active)
	}
	return b.String()
}

// jsonIPInfoIface is an interface of the ipinfo document.
type jsonIPInfoIface struct {
	Name       string `json:"name"`
	LinkUp     bool   `json:"link_up"`
	References uint32 `json:"references"`
	Active     bool   `json:"active"`
}

func ipinfoJSON(cmdPNN uint32, info *protocol.PublicIPInfo) any {
	doc := struct {
		PNN         uint32            `json:"pnn"`
		Address     string            `json:"address"`
		CurrentNode *uint32           `json:"current_node"`
		Interfaces  []jsonIPInfoIface `json:"interfaces"`
	}{PNN: cmdPNN, Address: sockAddrString(info.IP.Addr, false), CurrentNode: optPNN(info.IP.PNN), Interfaces: []jsonIPInfoIface{}}
	for i, iface := range info.Ifaces {
		doc.Interfaces = append(doc.Interfaces, jsonIPInfoIface{
			Name: ipinfoName(iface.Name), LinkUp: iface.LinkState != 0,
			References: iface.References, Active: uint32(i) == info.ActiveIdx,
		})
	}
	return doc
}
