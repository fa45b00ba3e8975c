package raftlayer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
)

// checkLogCovered refuses a state whose log was compacted past every
// snapshot that can be read (a snapshot directory lost, or its metadata
// damaged): Raft would start from an empty state and replay only the
// entries that are left, or stop the process when it finds the first one
// missing. A node must rather refuse to start, naming the gap.
func checkLogCovered(logs raft.LogStore, snaps raft.SnapshotStore, dir string) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("read the raft log in %s: %w", dir, err)
	}
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list raft snapshots in %s: %w", dir, err)
	}
	damaged := unreadableSnapshots(dir, list)
	switch {
	case first == 0 && len(list) == 0 && len(damaged) > 0:
		// The whole log went into snapshots none of which can be read.
	case first > 1 && !coveredUpTo(list, first-1):
	default:
		return nil
	}
	gap := "the log is empty"
	if first > 1 {
		gap = fmt.Sprintf("the log starts at entry %d", first)
	}
	return fmt.Errorf("raft state in %s: %s but no readable snapshot holds the entries before it (unreadable: %s): refusing to start without them; restore the snapshots or remove the node's raft state so that it joins again",
		dir, gap, strings.Join(damaged, ", "))
}

func coveredUpTo(list []*raft.SnapshotMeta, index uint64) bool {
	for _, s := range list {
		if s.Index >= index {
			return true
		}
	}
	return false
}

// unreadableSnapshots lists the snapshot directories the store did not
// list (their metadata cannot be read); none for a store in memory.
func unreadableSnapshots(dir string, list []*raft.SnapshotMeta) []string {
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if dir == "" || err != nil {
		return nil
	}
	listed := make(map[string]bool, len(list))
	for _, s := range list {
		listed[s.ID] = true
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") && !listed[e.Name()] {
			out = append(out, filepath.Join(dir, "snapshots", e.Name()))
		}
	}
	return out
}
