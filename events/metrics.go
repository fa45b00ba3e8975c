package events

import (
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// knownEvents are the events ctdbd runs; any other name (the protocol
// accepts any string) is counted as "other", so that clients cannot grow
// the metric set without bound.
var knownEvents = map[string]bool{
	"init": true, "setup": true, "startup": true, "monitor": true,
	"startrecovery": true, "recovered": true, "takeip": true, "releaseip": true,
	"updateip": true, "ipreallocated": true, "shutdown": true,
}

// metricSet are the ctdb_events_* metrics, per component and event, and
// per event and script.
type metricSet struct {
	set *metrics.Set

	mu      sync.Mutex
	events  map[[2]string]*eventMetrics
	scripts map[[2]string]*scriptMetrics
}

type eventMetrics struct {
	runs, failures, timeouts, cancelled *metrics.Counter
	duration                            *metrics.Histogram
}

type scriptMetrics struct {
	runs, failures, timeouts *metrics.Counter
	duration                 *metrics.Histogram
}

func newMetrics(set *metrics.Set) *metricSet {
	if set == nil {
		set = metrics.NewSet()
	}
	return &metricSet{
		set:     set,
		events:  make(map[[2]string]*eventMetrics),
		scripts: make(map[[2]string]*scriptMetrics),
	}
}

func eventLabel(event string) string {
	if knownEvents[event] {
		return event
	}
	return "other"
}

// labelValue escapes a label value for a metric name.
func labelValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func (m *metricSet) event(component, event string) *eventMetrics {
	key := [2]string{component, eventLabel(event)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if em := m.events[key]; em != nil {
		return em
	}
	l := `{component="` + labelValue(key[0]) + `",event="` + key[1] + `"}`
	em := &eventMetrics{
		runs:      m.set.GetOrCreateCounter("ctdb_events_runs_total" + l),
		failures:  m.set.GetOrCreateCounter("ctdb_events_failures_total" + l),
		timeouts:  m.set.GetOrCreateCounter("ctdb_events_timeouts_total" + l),
		cancelled: m.set.GetOrCreateCounter("ctdb_events_cancelled_total" + l),
		duration:  m.set.GetOrCreateHistogram("ctdb_events_duration_seconds" + l),
	}
	m.events[key] = em
	return em
}

func (m *metricSet) script(event, script string) *scriptMetrics {
	key := [2]string{eventLabel(event), script}
	m.mu.Lock()
	defer m.mu.Unlock()
	if sm := m.scripts[key]; sm != nil {
		return sm
	}
	l := `{event="` + key[0] + `",script="` + labelValue(key[1]) + `"}`
	sm := &scriptMetrics{
		runs:     m.set.GetOrCreateCounter("ctdb_events_script_runs_total" + l),
		failures: m.set.GetOrCreateCounter("ctdb_events_script_failures_total" + l),
		timeouts: m.set.GetOrCreateCounter("ctdb_events_script_timeouts_total" + l),
		duration: m.set.GetOrCreateHistogram("ctdb_events_script_duration_seconds" + l),
	}
	m.scripts[key] = sm
	return sm
}

// observe counts one script run.
func (sm *scriptMetrics) observe(sr ScriptResult) {
	sm.runs.Inc()
	sm.duration.Update(sr.End.Sub(sr.Begin).Seconds())
	switch {
	case sr.Status == ScriptTimedOut:
		sm.timeouts.Inc()
	case sr.Status != 0:
		sm.failures.Inc()
	}
}
