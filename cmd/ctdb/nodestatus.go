package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// NodestatusCmd is "ctdb nodestatus [all|PNN-LIST]": the addressed node,
// every node or the listed ones, with the OR of their flags as the exit
// status.
type NodestatusCmd struct{ Args }

// selectNodes is parse_nodestring: no argument is the addressed node, "all"
// every node, else a comma separated list of pnns (numbers in C syntax,
// empty items skipped). msg is the error the real tool prints.
func selectNodes(nm *protocol.NodeMap, arg *string, cmdPNN uint32) (sel *protocol.NodeMap, msg string) {
	sel = &protocol.NodeMap{}
	switch {
	case arg == nil:
		if n, ok := nm.Node(cmdPNN); ok {
			sel.Nodes = append(sel.Nodes, n)
		}
	case *arg == "all":
		sel.Nodes = append(sel.Nodes, nm.Nodes...)
	default:
		for _, tok := range strings.Split(*arg, ",") {
			if tok == "" {
				continue
			}
			v, errno := smbStrtoul(tok)
			if errno != 0 {
				return nil, "Invalid node " + tok + "\n"
			}
			pnn := uint32(v)
			n, ok := nm.Node(pnn)
			if !ok {
				return nil, fmt.Sprintf("Node %d does not exist\n", pnn)
			}
			sel.Nodes = append(sel.Nodes, n)
		}
	}
	return sel, ""
}

// nodestatusCode is the exit status: the OR of the flags of the nodes shown.
func nodestatusCode(nm *protocol.NodeMap) int {
	code := uint32(0)
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDeleted == 0 {
			code |= n.Flags
		}
	}
	return int(code)
}

// formatNodestatus renders nodestatus's output (plain: the header only for
// "all").
func formatNodestatus(nm *protocol.NodeMap, mypnn uint32, partially map[uint32]bool, all, machine bool, sep string) string {
	if machine {
		return formatNodemapMachine(nm, mypnn, partially, sep)
	}
	return formatNodemap(nm, mypnn, partially, all)
}

// Run follows control_nodestatus.
func (c *NodestatusCmd) Run(t *tool) error {
	if len(c.Args.Args) > 1 {
		return t.usage()
	}
	var arg *string
	if len(c.Args.Args) == 1 {
		arg = &c.Args.Args[0]
	}
	all := arg != nil && *arg == "all"
	nm, err := t.getNodemap(false)
	if err != nil {
		return err
	}
	sel, msg := selectNodes(nm, arg, t.cmdPNN)
	if msg != "" {
		t.eprintf("%s", msg)
		return exitCode(1)
	}
	if sel, err = t.nodemapUnknown(sel); err != nil {
		return err
	}
	partially, err := t.checkPartiallyOnline(sel)
	if err != nil {
		return err
	}
	if t.opts.json {
		if err := t.printJSON(struct {
			Nodes []jsonNode `json:"nodes"`
		}{jsonNodes(sel, t.cmdPNN, partially)}); err != nil {
			return err
		}
	} else {
		t.print(formatNodestatus(sel, t.cmdPNN, partially, all, t.opts.machine, t.opts.sep))
	}
	if code := nodestatusCode(sel); code != 0 {
		return exitCode(code)
	}
	return nil
}
