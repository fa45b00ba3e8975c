package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// ReloadnodesCmd is "ctdb reloadnodes": after the nodes file was edited on
// every node (new lines appended, removed nodes commented out), check that
// the files agree and make the cluster take the new list. rctdb commits
// the list through Raft: added nodes join the Raft group, removed ones
// leave it for good.
type ReloadnodesCmd struct{ Args }

// Run checks every connected node's nodes file against the local one and
// sends RELOAD_NODES_FILE to them, bracketed by disabled recoveries, as
// the real tool does.
func (c *ReloadnodesCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	nm, err := t.getNodemap(false)
	if err != nil {
		return err
	}
	file, err := t.readNodesFile()
	if err != nil {
		return exitCode(1)
	}
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDisconnected != 0 {
			continue
		}
		ctx, cancel := t.tctx()
		remote, err := t.c.GetNodesFile(ctx, n.PNN)
		cancel()
		if err != nil {
			if _, ferr := t.errCode(err); ferr != nil {
				return ferr
			}
			t.eprintf("ERROR: Failed to get nodes file from node %d\n", n.PNN)
			return exitCode(1)
		}
		if !sameNodesFile(file, remote) {
			t.eprintf("ERROR: Nodes file on node %d differs from current node (%d)\n", n.PNN, t.pnn)
			return exitCode(1)
		}
	}
	reload, ok := t.checkNodeFileChanges(nm, file)
	if !ok {
		return exitCode(1)
	}
	if !reload {
		t.eprintf("No change in nodes file, skipping unnecessary reload\n")
		return nil
	}
	var pnns []uint32
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDisconnected == 0 {
			pnns = append(pnns, n.PNN)
		}
	}
	if err := t.disableRecoveries(pnns, uint32(2*t.opts.timelimit.Seconds())); err != nil {
		t.eprintf("Failed to disable recoveries\n")
		return err
	}
	failed := false
	for _, p := range pnns {
		ctx, cancel := t.tctx()
		err := t.c.ReloadNodesFile(ctx, p)
		cancel()
		if err != nil {
			if _, ferr := t.errCode(err); ferr != nil {
				return ferr
			}
			t.eprintf("Node %d failed to reload nodes\n", p)
			failed = true
		}
	}
	if failed {
		t.eprintf("You MUST fix failed nodes manually!\n")
	}
	if err := t.disableRecoveries(pnns, 0); err != nil {
		t.eprintf("Failed to enable recoveries\n")
		return err
	}
	return nil
}

// disableRecoveries asks pnns to hold recoveries for timeout seconds and
// waits for their answers within the -t limit.
func (t *tool) disableRecoveries(pnns []uint32, timeout uint32) error {
	ctx, cancel := t.tctx()
	defer cancel()
	err := t.c.DisableRecoveries(ctx, pnns, timeout)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && t.ctx.Err() == nil:
		t.eprintf("Timed out waiting to disable recoveries\n")
		return exitCode(errnoETIMEDOUT)
	}
	if _, ferr := t.errCode(err); ferr != nil {
		return ferr
	}
	return exitCode(1)
}

// sameNodesFile is the real tool's nodemap_identical between the local
// nodes file and a node's GET_NODES_FILE answer.
func sameNodesFile(file []nodesEntry, remote *protocol.NodeMap) bool {
	if len(file) != len(remote.Nodes) {
		return false
	}
	for i, f := range file {
		r := remote.Nodes[i]
		var flags uint32
		if f.deleted {
			flags = protocol.NodeFlagDeleted
		}
		if r.PNN != f.pnn || r.Flags != flags || r.Addr.AddrPort().Addr().Unmap() != f.addr.Unmap() {
			return false
		}
	}
	return true
}

// checkNodeFileChanges compares the cluster's node map with the nodes
// file as the real tool does, printing what changes; ok is false when the
// change is refused (a node missing from the file, an address changed, a
// node to delete that is still connected).
func (t *tool) checkNodeFileChanges(nm *protocol.NodeMap, file []nodesEntry) (reload, ok bool) {
	ok = true
	i := 0
	for ; i < len(nm.Nodes); i++ {
		n := nm.Nodes[i]
		addr := n.Addr.AddrPort().Addr().Unmap()
		if i >= len(file) {
			t.eprintf("Node %d (%s) missing from nodes file\n", n.PNN, addr)
			ok = false
			continue
		}
		f := file[i]
		deleted := n.Flags&protocol.NodeFlagDeleted != 0
		switch {
		case deleted && f.deleted:
		case !deleted && !f.deleted:
			if addr != f.addr.Unmap() {
				t.eprintf("Node %d has changed IP address (was %s, now %s)\n", n.PNN, addr, f.addr)
				ok = false
			} else if n.Flags&protocol.NodeFlagDisconnected != 0 {
				t.eprintf("WARNING: Node %d is disconnected. You MUST fix this node manually!\n", n.PNN)
			}
		case f.deleted:
			t.printf("Node %d is DELETED\n", n.PNN)
			reload = true
			if n.Flags&protocol.NodeFlagDisconnected == 0 {
				t.eprintf("ERROR: Node %d is still connected\n", n.PNN)
				ok = false
			}
		default:
			t.printf("Node %d is UNDELETED\n", n.PNN)
			reload = true
		}
	}
	if !ok {
		t.eprintf("ERROR: Nodes will not be reloaded due to previous error\n")
		return false, false
	}
	for ; i < len(file); i++ {
		t.printf("Node %d is NEW\n", file[i].pnn)
		reload = true
	}
	return reload, true
}
