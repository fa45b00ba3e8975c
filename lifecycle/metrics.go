package lifecycle

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

type lifeMetrics struct {
	healthChanges *metrics.Counter
	timeoutsInRow atomic.Uint32
}

func newMetrics(set *metrics.Set, m *Manager) *lifeMetrics {
	lm := &lifeMetrics{healthChanges: set.NewCounter("ctdb_events_health_changes_total")}
	set.NewGauge("ctdb_events_healthy", func() float64 {
		if m.Healthy() {
			return 1
		}
		return 0
	})
	set.NewGauge("ctdb_events_monitor_timeouts_in_row", func() float64 { return float64(lm.timeoutsInRow.Load()) })
	set.NewGauge("ctdb_events_runstate", func() float64 { return float64(m.Runstate()) })
	return lm
}
