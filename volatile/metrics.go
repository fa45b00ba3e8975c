package volatile

import "github.com/VictoriaMetrics/metrics"

// volatileMetrics are the ctdb_volatile_* metrics.
type volatileMetrics struct {
	attached      *metrics.Counter
	clientCalls   *metrics.Counter
	collapsed     *metrics.Counter
	fetches       *metrics.Counter
	callsSent     *metrics.Counter
	redirects     *metrics.Counter
	deferred      *metrics.Counter
	migrationsIn  *metrics.Counter
	migrationsOut *metrics.Counter
	staleDropped  *metrics.Counter
	inconsistent  *metrics.Counter
	// oldNotices counts notices of a hand-over that reached this lmaster
	// after a newer one (they travel on different links).
	oldNotices    *metrics.Counter
	resent        *metrics.Counter
	sendErrors    *metrics.Counter
	lockCalls     *metrics.Counter
	lockFailed    *metrics.Counter
	lockCurrent   *metrics.Counter // waiters blocked in the kernel
	lockPending   *metrics.Counter // operations queued for busy chains
	lockWait      *metrics.Histogram
	callLatency   *metrics.Histogram
	fetchLatency  *metrics.Histogram
	vacuumed      *metrics.Counter
	vacuumRuns    *metrics.Counter
	vacuumLatency *metrics.Histogram
	// recoveredRecords counts records stored by recovery pushes;
	// pendingWritten the pending copies written after a thaw.
	recoveredRecords *metrics.Counter
	pendingWritten   *metrics.Counter
	// delegations counts read-only copies given, revokes the
	// revocations of read-only copies started.
	delegations *metrics.Counter
	revokes     *metrics.Counter
	// pinEnded counts how pins with requests waiting ended.
	pinEnded [pinEndReasons]*metrics.Counter
}

// Why a pin with requests waiting on it ended.
const (
	pinTurn     = iota // a local process held the chain and let it go
	pinWrite           // the only client wrote the record
	pinDeadline        // Pin ran out
	pinEndReasons
)

func (v *volatileMetrics) pinEnds(reason int) *metrics.Counter { return v.pinEnded[reason] }

func newMetrics(set *metrics.Set, m *Manager) *volatileMetrics {
	set.GetOrCreateGauge("ctdb_volatile_databases", func() float64 { return float64(len(m.DBs())) })
	set.GetOrCreateGauge("ctdb_volatile_calls_pending", func() float64 {
		m.callsMu.Lock()
		defer m.callsMu.Unlock()
		return float64(len(m.calls))
	})
	set.GetOrCreateGauge("ctdb_volatile_pending_copies", func() float64 { return float64(m.Pending()) })
	pinEnded := func(reason string) *metrics.Counter {
		return set.GetOrCreateCounter(`ctdb_volatile_pin_ends_total{reason="` + reason + `"}`)
	}
	return &volatileMetrics{
		pinEnded:      [pinEndReasons]*metrics.Counter{pinEnded("turn"), pinEnded("write"), pinEnded("deadline")},
		attached:      set.GetOrCreateCounter("ctdb_volatile_attaches_total"),
		clientCalls:   set.GetOrCreateCounter("ctdb_volatile_client_calls_total"),
		collapsed:     set.GetOrCreateCounter("ctdb_volatile_calls_collapsed_total"),
		fetches:       set.GetOrCreateCounter("ctdb_volatile_fetches_total"),
		callsSent:     set.GetOrCreateCounter("ctdb_volatile_calls_sent_total"),
		redirects:     set.GetOrCreateCounter("ctdb_volatile_calls_redirected_total"),
		deferred:      set.GetOrCreateCounter("ctdb_volatile_calls_deferred_total"),
		migrationsIn:  set.GetOrCreateCounter("ctdb_volatile_migrations_in_total"),
		migrationsOut: set.GetOrCreateCounter("ctdb_volatile_migrations_out_total"),
		staleDropped:  set.GetOrCreateCounter("ctdb_volatile_stale_packets_dropped_total"),
		inconsistent:  set.GetOrCreateCounter("ctdb_volatile_dmaster_inconsistencies_total"),
		oldNotices:    set.GetOrCreateCounter("ctdb_volatile_old_notices_total"),
		resent:        set.GetOrCreateCounter("ctdb_volatile_calls_resent_total"),
		sendErrors:    set.GetOrCreateCounter("ctdb_volatile_send_errors_total"),
		lockCalls:     set.GetOrCreateCounter("ctdb_volatile_lock_calls_total"),
		lockFailed:    set.GetOrCreateCounter("ctdb_volatile_lock_failures_total"),
		lockCurrent:   set.GetOrCreateCounter("ctdb_volatile_lock_waiters"),
		lockPending:   set.GetOrCreateCounter("ctdb_volatile_lock_operations_queued"),
		lockWait:      set.GetOrCreateHistogram("ctdb_volatile_lock_wait_seconds"),
		callLatency:   set.GetOrCreateHistogram("ctdb_volatile_call_duration_seconds"),
		fetchLatency:  set.GetOrCreateHistogram("ctdb_volatile_fetch_duration_seconds"),
		vacuumed:      set.GetOrCreateCounter("ctdb_volatile_records_vacuumed_total"),
		vacuumRuns:    set.GetOrCreateCounter("ctdb_volatile_vacuum_runs_total"),
		vacuumLatency: set.GetOrCreateHistogram("ctdb_volatile_vacuum_lock_seconds"),

		recoveredRecords: set.GetOrCreateCounter("ctdb_volatile_recovered_records_total"),
		pendingWritten:   set.GetOrCreateCounter("ctdb_volatile_pending_copies_written_total"),
		delegations:      set.GetOrCreateCounter("ctdb_volatile_readonly_delegations_total"),
		revokes:          set.GetOrCreateCounter("ctdb_volatile_readonly_revocations_total"),
	}
}
