package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Monitor cadence, as 4.17 schedules it: the interval doubles after each
// monitor up to MonitorInterval, restarts at healthChangeInterval when
// the verdict changes; the first monitor runs as soon as startup passed
// (4.17 waits firstInterval for it: rctdb does not, so that a started
// node serves its addresses two seconds earlier), and a cancelled monitor
// leaves the interval as it was (4.17 doubles it).
const (
	firstInterval        = 2 * time.Second
	healthChangeInterval = 5 * time.Second
	reportRetry          = 500 * time.Millisecond
	reportTimeout        = 5 * time.Second
)

// outcome is a finished event run.
type outcome struct {
	event string
	res   events.Result
	err   error
}

// loop is the lifecycle's goroutine and everything only it touches.
type loop struct {
	m   *Manager
	ctx context.Context
	// done receives the outcomes of the events and health reports the
	// loop started.
	done chan outcome

	// lane holds the lifecycle events (setup, startrecovery, recovered,
	// startup) still to run: they run one at a time in this order, so
	// that startup follows the recovered of the first recovery. A monitor
	// runs beside them; the runner cancels it when one of them arrives.
	lane     []string
	laneBusy bool

	recovering bool
	// stageQueued is set while the event of the current start-up stage
	// (init, setup or startup) is queued or runs; after a failure it runs
	// again at stageAt.
	stageQueued bool
	stageAt     time.Time

	monitorRunning bool
	monitorAt      time.Time // zero: none scheduled
	interval       time.Duration
	timeouts       uint32
	// concluded is set once a monitor reached a verdict: health is
	// reported from then on.
	concluded bool

	reporting bool
	reportAt  time.Time
}

func newLoop(m *Manager, ctx context.Context, retryAt time.Time) *loop {
	return &loop{m: m, ctx: ctx, done: make(chan outcome, 4), stageAt: retryAt}
}

// stageEvents are the events that move a node through start-up, by the
// run state they run in; each is retried until it passes.
var stageEvents = map[protocol.Runstate]string{
	protocol.RunstateInit:    "init",
	protocol.RunstateSetup:   "setup",
	protocol.RunstateStartup: "startup",
}

func (l *loop) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		watch, quorum := l.m.raft.Watch(), l.m.quorum.InactiveChanged()
		st, _ := l.m.raft.Current()
		l.step(st, time.Now())
		timer.Reset(l.nextWake(time.Now()))
		select {
		case <-l.ctx.Done():
			return
		case <-watch:
		case <-quorum:
		case o := <-l.done:
			l.finished(o, time.Now())
		case <-timer.C:
		}
	}
}

// step starts what is due in state st.
func (l *loop) step(st *raftlayer.State, now time.Time) {
	m := l.m
	rs := m.Runstate()
	inactive := m.quorum.Inactive() || st.Flags(m.cfg.Self)&protocol.NodeFlagsInactive != 0
	if rs >= protocol.RunstateFirstRecovery && rs != protocol.RunstateShutdown && !inactive && st.View.Recovering != l.recovering {
		l.recovering = st.View.Recovering
		if l.recovering {
			l.lane = append(l.lane, "startrecovery")
		} else {
			l.lane = append(l.lane, "recovered")
		}
	}
	if rs == protocol.RunstateFirstRecovery && !inactive && l.joined(st) {
		m.setRunstate(protocol.RunstateStartup)
		rs = protocol.RunstateStartup
	}
	if ev, ok := stageEvents[rs]; ok && !l.stageQueued && !now.Before(l.stageAt) {
		l.stageQueued = true
		l.lane = append(l.lane, ev)
	}
	l.startLane()
	if rs == protocol.RunstateRunning && !l.monitorRunning && !l.monitorAt.IsZero() && !now.Before(l.monitorAt) {
		if l.recovering || inactive || l.laneBusy {
			// 4.17 skips the monitor while the node recovers or cannot
			// serve, and a lifecycle event would cancel it anyway.
			l.monitorAt = now.Add(l.interval)
		} else {
			l.monitorAt = time.Time{}
			l.monitorRunning = true
			l.launch("monitor")
		}
	}
	l.report(st, rs, now)
}

// joined reports whether this node took part in a completed recovery in
// its current run: 4.17's first recovery, after which startup runs.
func (l *loop) joined(st *raftlayer.State) bool {
	return st.Initialized() && !st.View.Recovering && st.View.IsMember(l.m.cfg.Self, l.m.cfg.Incarnation)
}

// startLane starts the next lifecycle event if none runs.
func (l *loop) startLane() {
	if l.laneBusy || len(l.lane) == 0 {
		return
	}
	ev := l.lane[0]
	l.lane = l.lane[1:]
	l.laneBusy = true
	l.launch(ev)
}

// launch runs an event on a goroutine of its own.
func (l *loop) launch(event string) {
	m := l.m
	timeout := m.eventTimeout()
	m.wg.Go(func() {
		res, err := m.ev.Run(l.ctx, Component, event, nil, timeout, 0)
		select {
		case l.done <- outcome{event: event, res: res, err: err}:
		case <-l.ctx.Done():
		}
	})
}

// report commits this node's health when the state shows another.
func (l *loop) report(st *raftlayer.State, rs protocol.Runstate, now time.Time) {
	m := l.m
	self := m.cfg.Self
	if !l.concluded || l.reporting || rs != protocol.RunstateRunning || now.Before(l.reportAt) || m.quorum.Inactive() ||
		int(self) >= len(st.Nodes) || st.Nodes[self].Incarnation != m.cfg.Incarnation {
		return
	}
	want := m.Healthy()
	if st.Healthy(self) == want {
		return
	}
	l.reporting = true
	m.wg.Go(func() {
		ctx, cancel := context.WithTimeout(l.ctx, reportTimeout)
		defer cancel()
		_, err := m.raft.Apply(ctx, &raftlayer.CmdSetHealth{PNN: self, Incarnation: m.cfg.Incarnation, Healthy: want})
		select {
		case l.done <- outcome{event: "", err: err}:
		case <-l.ctx.Done():
		}
	})
}

// finished handles an event's outcome (event "" is a health report).
func (l *loop) finished(o outcome, now time.Time) {
	m := l.m
	switch o.event {
	case "":
		l.reporting = false
		if o.err != nil {
			m.log.Debug("reporting this node's health failed; will retry", "err", o.err)
			l.reportAt = now.Add(reportRetry)
		}
		return
	case "monitor":
		l.monitorRunning = false
		l.monitored(o, now)
		return
	}
	l.laneBusy = false
	if o.err != nil {
		return // the loop is stopping
	}
	err := verdict(o.event, o.res.Code)
	switch o.event {
	case "init", "setup", "startup":
		l.stageQueued = false
		if err != nil {
			// 4.17 exits when init or setup fail; rctdb stays up, holds
			// no address (it is not RUNNING, so never healthy) and tries
			// again, so that the administrator can see and fix why.
			m.log.Error(o.event+" event failed; retrying", "err", err, "in", m.cfg.StartupRetry)
			l.stageAt = now.Add(m.cfg.StartupRetry)
			return
		}
		m.passedStage(o.event)
		if o.event == "startup" {
			l.interval = firstInterval
			l.monitorAt = now
		}
	default:
		if err != nil {
			m.log.Warn("event failed", "event", o.event, "err", err)
		}
	}
}

// monitored applies a monitor's verdict and schedules the next one.
func (l *loop) monitored(o outcome, now time.Time) {
	m := l.m
	st, _ := m.raft.Current()
	maxInterval := time.Duration(max(st.TunablesOf(m.cfg.Self).MonitorInterval, 1)) * time.Second
	if o.err != nil {
		return // the loop is stopping
	}
	err := verdict("monitor", o.res.Code)
	if errors.Is(err, errCanceled) {
		// 4.17 doubles the interval after a cancelled monitor too; a
		// node that starts while others turn healthy then has its first
		// monitors cancelled by their takeover runs and waits 2, 4, 8 s
		// longer each time before it may serve. The cadence only ramps
		// up on monitors that reached a verdict.
		l.monitorAt = now.Add(min(l.interval, maxInterval))
		return
	}
	defer func() {
		l.monitorAt = now.Add(min(l.interval, maxInterval))
		l.interval = min(2*l.interval, maxInterval)
	}()
	switch {
	case o.res.Code == events.ResultTimedOut:
		l.timeouts++
		m.met.timeoutsInRow.Store(l.timeouts)
		limit := max(st.TunablesOf(m.cfg.Self).MonitorTimeoutCount, 1)
		if l.timeouts < limit {
			m.log.Warn("monitor event timed out", "count", l.timeouts, "limit", limit)
			return
		}
		m.log.Error("monitor event timed out too often in a row", "count", l.timeouts, "limit", limit)
	default:
		l.timeouts = 0
		m.met.timeoutsInRow.Store(0)
	}
	l.concluded = true
	ok := err == nil
	if ok != m.Healthy() {
		l.interval = healthChangeInterval
	}
	if !ok && !m.Healthy() {
		m.log.Warn("monitor event failed", "err", err)
	}
	m.setHealthy(ok)
}

// nextWake is how long the loop may sleep before something is due.
func (l *loop) nextWake(now time.Time) time.Duration {
	next := time.Hour
	for _, at := range []time.Time{l.monitorAt, l.stageAt, l.reportAt} {
		if !at.IsZero() && at.After(now) {
			next = min(next, at.Sub(now))
		}
	}
	return max(next, time.Millisecond)
}
