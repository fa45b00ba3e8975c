package raftlayer

import (
	"errors"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/config"
)

// Config configures a Raft node.
type Config struct {
	// Raft holds the settings of the [raft] section: DataDir (raft.db, the
	// log and stable store, and snapshots/) and hashicorp/raft's timing.
	config.Raft
	// InMemory keeps log, stable store and snapshots in memory (tests only).
	InMemory bool
	// ClusterID is fixed at bootstrap; a data directory of another cluster
	// is refused.
	ClusterID string
	// Self is this node's pnn.
	Self uint32
	// Nodes is the bootstrap membership from the nodes file, index = pnn.
	Nodes []NodeState
	// ApplyTimeout bounds one Apply on the leader.
	ApplyTimeout time.Duration
	// Data, if set, holds the replicated data kept outside State.
	Data Data
	// WaitInstalled makes WaitAppliedOn (and the peers' side of it) wait
	// until each node's owner reported the state installed (Node.Installed),
	// not only applied.
	WaitInstalled bool
}

// Data is replicated state that lives outside State, in files of its own
// (the persistent databases). The FSM calls it from its one goroutine, in
// log order; it must be deterministic, so that every node ends with the
// same files.
type Data interface {
	// ApplyData applies a CmdData payload committed at index; st is the
	// state as of that entry, read-only. An error is the command's result
	// (a refusal), the same on every node.
	ApplyData(index uint64, payload []byte, st *State) error
	// SnapshotData returns the data as of now, for a snapshot.
	SnapshotData() ([]byte, error)
	// RestoreData replaces the data with a snapshot's; body is nil when
	// the snapshot has none (taken before any data existed).
	RestoreData(body []byte) error
}

func (c *Config) setDefaults() {
	c.Raft.SetDefaults()
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 10 * time.Second
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.DataDir == "" && !c.InMemory {
		return errors.New("raft config: DataDir: required")
	}
	if c.ClusterID == "" {
		return errors.New("raft config: ClusterID: required")
	}
	if int(c.Self) >= len(c.Nodes) || c.Nodes[c.Self].Deleted {
		return fmt.Errorf("raft config: Self: node %d is not an active node of the nodes list", c.Self)
	}
	for i, n := range c.Nodes {
		if n.PNN != uint32(i) {
			return fmt.Errorf("raft config: Nodes: entry %d has pnn %d", i, n.PNN)
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return errors.New("raft config: LeaderLeaseTimeout: must not exceed HeartbeatTimeout")
	}
	return nil
}
