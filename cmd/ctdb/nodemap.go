package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// The node map printing shared by status and nodestatus.

// flagsString is the real tool's pretty_print_flags.
func flagsString(flags uint32) string { return protocol.NodeFlagsString(flags) }

// withUnknown is get_nodemap_unknown: while the addressed node's runstate
// is at most FIRST_RECOVERY, the nodes other than it that are neither
// deleted nor disconnected are shown as UNKNOWN, their flags not being
// reliable yet.
func withUnknown(in *protocol.NodeMap, runstate protocol.Runstate, cmdPNN uint32) *protocol.NodeMap {
	out := &protocol.NodeMap{Nodes: make([]protocol.NodeInfo, len(in.Nodes))}
	for i, n := range in.Nodes {
		if n.Flags&protocol.NodeFlagDeleted == 0 &&
			runstate <= protocol.RunstateFirstRecovery &&
			n.Flags&protocol.NodeFlagDisconnected == 0 &&
			n.PNN != cmdPNN {
			n.Flags = protocol.NodeFlagUnknown
		}
		out.Nodes[i] = n
	}
	return out
}

// needsIfaceCheck reports whether the real tool asks a node for its
// interfaces to tell whether it is PARTIALLYONLINE: only nodes whose flags
// are all clear.
func needsIfaceCheck(n protocol.NodeInfo) bool {
	return n.Flags&protocol.NodeFlagDeleted == 0 && n.Flags == 0
}

// partiallyOnline is the result of the interface check: an interface
// whose link is down.
func partiallyOnline(ifaces []protocol.Iface) bool {
	for _, i := range ifaces {
		if i.LinkState == 0 {
			return true
		}
	}
	return false
}

// nodeStateString is a node's state as the plain node map shows it.
func nodeStateString(n protocol.NodeInfo, partially map[uint32]bool) string {
	if n.Flags == 0 && partially[n.PNN] {
		return "PARTIALLYONLINE"
	}
	return flagsString(n.Flags)
}

// formatNodemap renders print_nodemap: an optional "Number of nodes" header
// and a line per node that is not deleted. partially holds the nodes found
// PARTIALLYONLINE.
func formatNodemap(nm *protocol.NodeMap, mypnn uint32, partially map[uint32]bool, header bool) string {
	var b strings.Builder
	if header {
		deleted := 0
		for _, n := range nm.Nodes {
			if n.Flags&protocol.NodeFlagDeleted != 0 {
				deleted++
			}
		}
		if deleted == 0 {
			fmt.Fprintf(&b, "Number of nodes:%d\n", len(nm.Nodes))
		} else {
			fmt.Fprintf(&b, "Number of nodes:%d (including %d deleted nodes)\n", len(nm.Nodes), deleted)
		}
	}
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDeleted != 0 {
			continue
		}
		this := ""
		if n.PNN == mypnn {
			this = " (THIS NODE)"
		}
		fmt.Fprintf(&b, "pnn:%d %-16s %s%s\n", n.PNN, n.Addr, nodeStateString(n, partially), this)
	}
	return b.String()
}

// formatNodemapMachine renders print_nodemap_machine with separator sep.
func formatNodemapMachine(nm *protocol.NodeMap, mypnn uint32, partially map[uint32]bool, sep string) string {
	var b strings.Builder
	cols := []string{"Node", "IP", "Disconnected", "Unknown", "Banned", "Disabled",
		"Unhealthy", "Stopped", "Inactive", "PartiallyOnline", "ThisNode"}
	b.WriteString(sep)
	for _, c := range cols {
		b.WriteString(c + sep)
	}
	b.WriteString("\n")
	bit := func(flags, mask uint32) int {
		if flags&mask != 0 {
			return 1
		}
		return 0
	}
	for _, n := range nm.Nodes {
		f := n.Flags
		if f&protocol.NodeFlagDeleted != 0 {
			continue
		}
		this := 'N'
		if n.PNN == mypnn {
			this = 'Y'
		}
		po := 0
		if f == 0 && partially[n.PNN] {
			po = 1
		}
		fmt.Fprintf(&b, "%[1]s%[2]d%[1]s%[3]s%[1]s%[4]d%[1]s%[5]d%[1]s%[6]d%[1]s%[7]d%[1]s%[8]d%[1]s%[9]d%[1]s%[10]d%[1]s%[11]d%[1]s%[12]c%[1]s\n",
			sep, n.PNN, n.Addr,
			bit(f, protocol.NodeFlagDisconnected),
			bit(f, protocol.NodeFlagUnknown),
			bit(f, protocol.NodeFlagBanned),
			bit(f, protocol.NodeFlagPermanentlyDisabled),
			bit(f, protocol.NodeFlagUnhealthy),
			bit(f, protocol.NodeFlagStopped),
			bit(f, protocol.NodeFlagsInactive),
			po, this)
	}
	return b.String()
}

// jsonNode is a node in the JSON documents of status and nodestatus.
type jsonNode struct {
	PNN             uint32   `json:"pnn"`
	Address         string   `json:"address"`
	Flags           []string `json:"flags"`
	FlagsValue      uint32   `json:"flags_value"`
	PartiallyOnline bool     `json:"partially_online"`
	ThisNode        bool     `json:"this_node"`
}

// jsonNodes converts the nodes that are not deleted.
func jsonNodes(nm *protocol.NodeMap, mypnn uint32, partially map[uint32]bool) []jsonNode {
	nodes := []jsonNode{}
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDeleted != 0 {
			continue
		}
		nodes = append(nodes, jsonNode{
			PNN:             n.PNN,
			Address:         n.Addr.String(),
			Flags:           strings.Split(nodeStateString(n, partially), "|"),
			FlagsValue:      n.Flags,
			PartiallyOnline: n.Flags == 0 && partially[n.PNN],
			ThisNode:        n.PNN == mypnn,
		})
	}
	return nodes
}

// checkPartiallyOnline asks each node whose flags are clear for its
// interfaces, as print_nodemap does; failures count as "no" (after the
// client library's message).
func (t *tool) checkPartiallyOnline(nm *protocol.NodeMap) (map[uint32]bool, error) {
	res := map[uint32]bool{}
	for _, n := range nm.Nodes {
		if !needsIfaceCheck(n) {
			continue
		}
		ctx, cancel := t.tctx()
		ifaces, err := t.c.GetIfaces(ctx, n.PNN)
		cancel()
		if err != nil {
			if err := t.ctrlErr(protocol.ControlGetIfaces, n.PNN, err); fatal(err) {
				return nil, err
			}
			continue
		}
		res[n.PNN] = partiallyOnline(ifaces)
	}
	return res, nil
}

// nodemapUnknown fetches the addressed node's runstate and applies
// withUnknown, reporting a failure as get_nodemap_unknown does (on
// standard output, without a newline).
func (t *tool) nodemapUnknown(in *protocol.NodeMap) (*protocol.NodeMap, error) {
	ctx, cancel := t.tctx()
	rs, err := t.c.GetRunstate(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		if err := t.ctrlErr(protocol.ControlGetRunstate, t.cmdPNN, err); fatal(err) {
			return nil, err
		}
		t.printf("Unable to get runstate")
		return nil, exitCode(1)
	}
	return withUnknown(in, rs, t.cmdPNN), nil
}
