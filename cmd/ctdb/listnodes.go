package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// ListnodesCmd is "ctdb listnodes": the addresses of the nodes file, read
// locally ($CTDB_BASE/nodes, else /etc/ctdb/nodes); no daemon is needed.
type ListnodesCmd struct{ Args }

// nodesEntry is a line of the nodes file.
type nodesEntry struct {
	pnn     uint32
	addr    netip.Addr
	deleted bool // a commented out line: the pnn is kept, the node is gone
}

// nodesFilePath is where the real tool reads the nodes file.
func (t *tool) nodesFilePath() string {
	base, ok := t.getenv("CTDB_BASE")
	if !ok {
		base = "/etc/ctdb"
	}
	return base + "/nodes"
}

// parseNodesFile parses a nodes file as ctdb_read_nodes_file does: lines
// end at '\n' (or at a '\r'), trailing blank lines are dropped, blanks
// around an address are ignored, empty lines are skipped, and a line
// starting with '#' is a deleted node. msg is the error the real tool
// prints, "" when the file is valid.
func parseNodesFile(data []byte) (nodes []nodesEntry, msg string) {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if j := strings.IndexAny(l, "\r\x00"); j >= 0 {
			lines[i] = l[:j]
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		l = strings.TrimLeft(l, " \t")
		for len(l) > 1 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
			l = l[:len(l)-1]
		}
		if l == "" {
			continue
		}
		e := nodesEntry{pnn: uint32(len(nodes))}
		if l[0] == '#' {
			e.deleted = true
			e.addr = netip.IPv4Unspecified()
		} else {
			a, ok := parseNodeAddr(l)
			if !ok {
				return nil, fmt.Sprintf("Invalid IP address %s\n", l)
			}
			e.addr = a
		}
		nodes = append(nodes, e)
	}
	return nodes, ""
}

// parseNodeAddr parses an address as ctdb_sock_addr_from_string does
// without a port: IPv4 dotted quad or IPv6 (no zone); an IPv4-mapped IPv6
// address becomes IPv4.
func parseNodeAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// readNodesFile reads and parses the nodes file, reporting failures as the
// real tool does.
func (t *tool) readNodesFile() ([]nodesEntry, error) {
	path := t.nodesFilePath()
	data, err := os.ReadFile(path)
	msg := ""
	var nodes []nodesEntry
	if err == nil {
		nodes, msg = parseNodesFile(data)
		t.eprintf("%s", msg)
	}
	if err != nil || msg != "" {
		t.eprintf("Failed to read nodes file \"%s\"\n", path)
		return nil, errors.New("cannot read nodes file")
	}
	return nodes, nil
}

// formatListnodes renders control_listnodes: the addresses of the nodes
// that are not deleted, or, machine readable, their pnns and addresses.
func formatListnodes(nodes []nodesEntry, machine bool, sep string) string {
	var b strings.Builder
	for _, n := range nodes {
		if n.deleted {
			continue
		}
		if machine {
			fmt.Fprintf(&b, "%s%d%s%s%s\n", sep, n.pnn, sep, n.addr, sep)
		} else {
			fmt.Fprintf(&b, "%s\n", n.addr)
		}
	}
	return b.String()
}

type jsonListedNode struct {
	PNN     uint32 `json:"pnn"`
	Address string `json:"address"`
}

// Run reads the nodes file.
func (c *ListnodesCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	nodes, err := t.readNodesFile()
	if err != nil {
		return exitCode(1)
	}
	if t.opts.json {
		list := []jsonListedNode{}
		for _, n := range nodes {
			if !n.deleted {
				list = append(list, jsonListedNode{n.pnn, n.addr.String()})
			}
		}
		return t.printJSON(struct {
			Nodes []jsonListedNode `json:"nodes"`
		}{list})
	}
	t.print(formatListnodes(nodes, t.opts.machine, t.opts.sep))
	return nil
}
