package failover

import "github.com/VictoriaMetrics/metrics"

// failoverMetrics are the ctdb_failover_* metrics.
type failoverMetrics struct {
	runs            *metrics.Counter
	runFailures     *metrics.Counter
	runDuration     *metrics.Histogram
	takes           *metrics.Counter
	releases        *metrics.Counter
	reconcileErrors *metrics.Counter
	held            *metrics.Gauge
}

func newMetrics(set *metrics.Set, m *Manager) *failoverMetrics {
	return &failoverMetrics{
		runs:            set.GetOrCreateCounter("ctdb_failover_takeover_runs_total"),
		runFailures:     set.GetOrCreateCounter("ctdb_failover_takeover_run_failures_total"),
		runDuration:     set.GetOrCreateHistogram("ctdb_failover_takeover_run_duration_seconds"),
		takes:           set.GetOrCreateCounter("ctdb_failover_addresses_taken_total"),
		releases:        set.GetOrCreateCounter("ctdb_failover_addresses_released_total"),
		reconcileErrors: set.GetOrCreateCounter("ctdb_failover_reconcile_errors_total"),
		held:            set.GetOrCreateGauge("ctdb_failover_addresses_held", nil),
	}
}
