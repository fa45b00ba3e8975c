package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// IfacesCmd is "ctdb ifaces": the addressed node's public interfaces, with
// their link state and the number of addresses on each.
type IfacesCmd struct{ Args }

// Run follows control_ifaces.
func (c *IfacesCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	ifaces, err := t.c.GetIfaces(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetIfaces, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(ifacesJSON(t.cmdPNN, ifaces))
	}
	t.print(formatIfaces(ifaces, t.cmdPNN, t.opts.machine, t.opts.sep))
	return nil
}

// formatIfaces renders control_ifaces's output.
func formatIfaces(ifaces []protocol.Iface, cmdPNN uint32, machine bool, sep string) string {
	if len(ifaces) == 0 {
		return fmt.Sprintf("No interfaces configured on node %d\n", cmdPNN)
	}
	var b strings.Builder
	if machine {
		fmt.Fprintf(&b, "%sName%sLinkStatus%sReferences%s\n", sep, sep, sep, sep)
	} else {
		fmt.Fprintf(&b, "Interfaces on node %d\n", cmdPNN)
	}
	for _, i := range ifaces {
		if machine {
			fmt.Fprintf(&b, "%s%s%s%d%s%d%s\n", sep, i.Name, sep, i.LinkState, sep, i.References, sep)
			continue
		}
		link := "down"
		if i.LinkState != 0 {
			link = "up"
		}
		fmt.Fprintf(&b, "name:%s link:%s references:%d\n", i.Name, link, i.References)
	}
	return b.String()
}

// jsonIface is an interface of the ifaces document.
type jsonIface struct {
	Name       string `json:"name"`
	LinkUp     bool   `json:"link_up"`
	References uint32 `json:"references"`
}

func ifacesJSON(cmdPNN uint32, ifaces []protocol.Iface) any {
	doc := struct {
		PNN        uint32      `json:"pnn"`
		Interfaces []jsonIface `json:"interfaces"`
	}{PNN: cmdPNN, Interfaces: []jsonIface{}}
	for _, i := range ifaces {
		doc.Interfaces = append(doc.Interfaces, jsonIface{Name: i.Name, LinkUp: i.LinkState != 0, References: i.References})
	}
	return doc
}
