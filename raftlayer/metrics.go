package raftlayer

import (
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/raft"
)

type raftMetrics struct {
	applies       *metrics.Counter
	applyErrors   *metrics.Counter
	forwarded     *metrics.Counter
	applyDuration *metrics.Histogram
}

// registerMetrics adds the ctdb_raft_* metrics of n to set.
func registerMetrics(set *metrics.Set, n *Node) *raftMetrics {
	if set == nil {
		set = metrics.NewSet()
	}
	set.GetOrCreateGauge("ctdb_raft_is_leader", func() float64 {
		if n.raft.State() == raft.Leader {
			return 1
		}
		return 0
	})
	set.GetOrCreateGauge("ctdb_raft_state", func() float64 { return float64(n.raft.State()) })
	set.GetOrCreateGauge("ctdb_raft_term", func() float64 { return float64(n.raft.CurrentTerm()) })
	set.GetOrCreateGauge("ctdb_raft_commit_index", func() float64 { return float64(n.raft.CommitIndex()) })
	set.GetOrCreateGauge("ctdb_raft_applied_index", func() float64 { return float64(n.raft.AppliedIndex()) })
	set.GetOrCreateGauge("ctdb_raft_last_contact_seconds", func() float64 {
		lc := n.raft.LastContact()
		if lc.IsZero() {
			return -1
		}
		return time.Since(lc).Seconds()
	})
	return &raftMetrics{
		applies:       set.GetOrCreateCounter("ctdb_raft_applies_total"),
		applyErrors:   set.GetOrCreateCounter("ctdb_raft_apply_errors_total"),
		forwarded:     set.GetOrCreateCounter("ctdb_raft_applies_forwarded_total"),
		applyDuration: set.GetOrCreateHistogram("ctdb_raft_apply_duration_seconds"),
	}
}
