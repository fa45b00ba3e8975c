package localcluster

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"github.com/rctdb/rctdb/config"
)

// AddNode lays out one more node, as an administrator adding a server
// does: the next free loopback address after the last node's, a line
// appended to the nodes file, the node's directory and configuration. It
// does not start the node (StartNode does) and does not tell the running
// nodes (`ctdb reloadnodes` does).
func (c *Cluster) AddNode() (uint32, error) {
	last, err := netip.ParseAddr(c.Nodes[len(c.Nodes)-1].Addr)
	if err != nil {
		return 0, fmt.Errorf("add node: %w", err)
	}
	addrs, err := pickAddrs(last.Next(), 1, c.Port)
	if err != nil {
		return 0, fmt.Errorf("add node: %w", err)
	}
	pnn := uint32(len(c.Nodes))
	err = c.editNodes(func(nodes []config.Node) []config.Node {
		return append(nodes, config.Node{PNN: pnn, Addr: addrs[0]})
	})
	if err != nil {
		return 0, err
	}
	if err := c.layOutNode(pnn, addrs[0]); err != nil {
		return 0, fmt.Errorf("add node: %w", err)
	}
	return pnn, c.Save()
}

// StartNode starts node pnn (a node added with AddNode, or one that was
// stopped) with its state.
func (c *Cluster) StartNode(pnn uint32) error {
	if int(pnn) >= len(c.Nodes) {
		return fmt.Errorf("no node %d (the cluster has %d)", pnn, len(c.Nodes))
	}
	if c.Alive(pnn) {
		return fmt.Errorf("node %d is running", pnn)
	}
	if err := c.start(pnn); err != nil {
		return err
	}
	return c.Save()
}

// RemoveNodeLine comments node pnn's line out of the nodes file ("#addr"),
// as an administrator removing the node does before `ctdb reloadnodes`.
func (c *Cluster) RemoveNodeLine(pnn uint32) error {
	return c.editNodes(func(nodes []config.Node) []config.Node {
		if int(pnn) < len(nodes) && !nodes[pnn].Deleted {
			nodes[pnn] = config.Node{PNN: pnn, Deleted: true, RemovedAddr: nodes[pnn].Addr}
		}
		return nodes
	})
}

// editNodes rewrites the nodes file with edit's result.
func (c *Cluster) editNodes(edit func([]config.Node) []config.Node) error {
	nodes, err := config.LoadNodes(c.nodesPath())
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := config.WriteNodes(&b, edit(nodes)); err != nil {
		return err
	}
	tmp := c.nodesPath() + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.nodesPath())
}
