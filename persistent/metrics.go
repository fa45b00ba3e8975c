package persistent

import "github.com/VictoriaMetrics/metrics"

// metricSet are the ctdb_persistent_* metrics.
type metricSet struct {
	applied      *metrics.Counter
	records      *metrics.Counter
	refused      *metrics.Counter
	commits      *metrics.Counter
	commitErrors *metrics.Counter
	commitTime   *metrics.Histogram
	snapshotTime *metrics.Histogram
	restoreTime  *metrics.Histogram
}

func newMetrics(set *metrics.Set) *metricSet {
	if set == nil {
		set = metrics.NewSet()
	}
	return &metricSet{
		applied:      set.GetOrCreateCounter("ctdb_persistent_applied_total"),
		records:      set.GetOrCreateCounter("ctdb_persistent_records_written_total"),
		refused:      set.GetOrCreateCounter("ctdb_persistent_commits_refused_total"),
		commits:      set.GetOrCreateCounter("ctdb_persistent_commits_total"),
		commitErrors: set.GetOrCreateCounter("ctdb_persistent_commit_errors_total"),
		commitTime:   set.GetOrCreateHistogram("ctdb_persistent_commit_seconds"),
		snapshotTime: set.GetOrCreateHistogram("ctdb_persistent_snapshot_seconds"),
		restoreTime:  set.GetOrCreateHistogram("ctdb_persistent_restore_seconds"),
	}
}
