package raftlayer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rctdb/rctdb/transport"
)

// stableKeyPNN is where the stable store records which node made it, so
// that a state directory is never reused under another pnn.
var stableKeyPNN = []byte("rctdb_pnn")

// surveyor is a transport that can tell what the other nodes said of
// themselves when this node connected; with it, a node without Raft state
// bootstraps only when no other node has formed the cluster yet, and
// otherwise waits to be added.
type surveyor interface {
	SetFormed(func() bool)
	Survey() map[uint32]transport.PeerStatus
}

// bootstrapLoop runs on a node that started without Raft state. It ends
// when the node has state: either a leader replicated the log to it (the
// node joined a running cluster, or another node bootstrapped first), or
// it bootstrapped the cluster itself once a majority of the nodes file's
// nodes answered and none of them had formed a cluster. A node that any
// other node reports formed, or that another node refuses, never
// bootstraps: it was added to a running cluster (or is about to be).
func (n *Node) bootstrapLoop(sv surveyor, conf raft.Configuration) {
	defer n.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	waitingLogged := false
	for {
		if n.raft.LastIndex() > 0 {
			n.formed.Store(true)
			n.log.Info("joined the cluster's raft group")
			return
		}
		survey := sv.Survey()
		fresh, formedBy := 1, -1
		for _, s := range conf.Servers {
			p, _ := strconv.ParseUint(string(s.ID), 10, 32)
			if uint32(p) == n.cfg.Self {
				continue
			}
			switch survey[uint32(p)] {
			case transport.PeerFresh:
				fresh++
			case transport.PeerFormed, transport.PeerRefusedUs:
				formedBy = int(p)
			}
		}
		switch {
		case formedBy >= 0:
			if !waitingLogged {
				n.log.Info("the cluster is already formed; waiting for its leader to add this node (run `ctdb reloadnodes` on a member once every nodes file lists this node)", "answered_by", formedBy)
				waitingLogged = true
			}
		case fresh > len(conf.Servers)/2:
			err := n.raft.BootstrapCluster(conf).Error()
			if err == nil || errors.Is(err, raft.ErrCantBootstrap) {
				n.formed.Store(true)
				n.log.Info("bootstrapped the raft group from the nodes file", "voters", len(conf.Servers), "fresh_nodes", fresh)
				return
			}
			n.log.Warn("bootstrap failed; will retry", "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
	}
}

// ReconcileMembers makes the Raft configuration follow the node list of the
// replicated state; only the leader calls it. New nodes join as non-voters
// and become voters once they have caught up, so that a node that is
// added but not yet running never counts towards the quorum; deleted nodes
// leave the configuration. It returns how soon to call again while a
// change is still under way (0: the configuration matches).
// addr gives a node's Raft address ("" while unknown); connected says
// whether its link is up, so that a node that is not running is not waited
// for.
func (n *Node) ReconcileMembers(ctx context.Context, st *State, addr func(pnn uint32) string, connected func(pnn uint32) bool) (time.Duration, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, fmt.Errorf("read raft configuration: %w", err)
	}
	have := map[raft.ServerID]raft.Server{}
	for _, s := range f.Configuration().Servers {
		have[s.ID] = s
	}
	want := map[raft.ServerID]bool{}
	var again time.Duration
	for _, ns := range st.Nodes {
		if ns.Deleted {
			continue
		}
		id := raft.ServerID(strconv.FormatUint(uint64(ns.PNN), 10))
		want[id] = true
		a := raft.ServerAddress(addr(ns.PNN))
		if a == "" {
			again = 200 * time.Millisecond // the transport does not know it yet
			continue
		}
		s, ok := have[id]
		switch {
		case !ok || s.Address != a:
			n.log.Info("adding node to the raft group as a non-voter", "pnn", ns.PNN, "addr", a)
			if err := n.await(ctx, n.raft.AddNonvoter(id, a, 0, 0)); err != nil {
				return 0, fmt.Errorf("add node %d to raft: %w", ns.PNN, err)
			}
			again = 200 * time.Millisecond
		case s.Suffrage == raft.Nonvoter:
			if !connected(ns.PNN) {
				again = 500 * time.Millisecond
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := n.WaitAppliedOn(wctx, n.AppliedIndex(), []uint32{ns.PNN})
			cancel()
			if err != nil {
				again = 500 * time.Millisecond
				continue
			}
			n.log.Info("node caught up: making it a raft voter", "pnn", ns.PNN)
			if err := n.await(ctx, n.raft.AddVoter(id, a, 0, 0)); err != nil {
				return 0, fmt.Errorf("make node %d a raft voter: %w", ns.PNN, err)
			}
		}
	}
	for id := range have {
		if !want[id] {
			n.log.Info("removing deleted node from the raft group", "id", id)
			if err := n.await(ctx, n.raft.RemoveServer(id, 0, 0)); err != nil {
				return 0, fmt.Errorf("remove node %s from raft: %w", id, err)
			}
		}
	}
	return again, nil
}

// Voters lists the pnns of the Raft configuration's voters and non-voters.
func (n *Node) Voters() (voters, nonvoters []uint32, err error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, err
	}
	for _, s := range f.Configuration().Servers {
		p, err := strconv.ParseUint(string(s.ID), 10, 32)
		if err != nil {
			continue
		}
		if s.Suffrage == raft.Voter {
			voters = append(voters, uint32(p))
		} else {
			nonvoters = append(nonvoters, uint32(p))
		}
	}
	return voters, nonvoters, nil
}
