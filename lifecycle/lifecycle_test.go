package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/raftlayer/raftmem"
)

// fakeEvents answers runs from per-event queues of result codes (OK when
// empty) and records the events in arrival order. A gated event waits
// until its gate opens or its context ends.
type fakeEvents struct {
	changed watch.Signal

	mu    sync.Mutex
	calls []string
	codes map[string][]int32
	gates map[string]chan struct{}
}

func newFakeEvents() *fakeEvents {
	return &fakeEvents{codes: map[string][]int32{}, gates: map[string]chan struct{}{}}
}

func (f *fakeEvents) Run(ctx context.Context, component, event string, args []string, timeout time.Duration, flags events.RunFlags) (events.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, event)
	code := events.ResultOK
	if q := f.codes[event]; len(q) > 0 {
		code, f.codes[event] = q[0], q[1:]
	}
	gate := f.gates[event]
	f.mu.Unlock()
	f.changed.Notify()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return events.Result{}, ctx.Err()
		}
	}
	return events.Result{Code: code}, nil
}

// queue makes the next runs of event return codes, in order.
func (f *fakeEvents) queue(event string, codes ...int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[event] = append(f.codes[event], codes...)
}

// gate makes event wait; the returned function opens the gate.
func (f *fakeEvents) gate(event string) func() {
	ch := make(chan struct{})
	f.mu.Lock()
	f.gates[event] = ch
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.gates, event)
		f.mu.Unlock()
		close(ch)
	}
}

func (f *fakeEvents) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeEvents) count(event string) int {
	n := 0
	for _, e := range f.events() {
		if e == event {
			n++
		}
	}
	return n
}

type fakeQuorum struct {
	inactive atomic.Bool
	changed  watch.Signal
}

func (q *fakeQuorum) Inactive() bool                   { return q.inactive.Load() }
func (q *fakeQuorum) InactiveChanged() <-chan struct{} { return q.changed.Changed() }

const incarnation = 0xfeed

type rig struct {
	t      *testing.T
	ev     *fakeEvents
	raft   *raftmem.Raft
	m      *Manager
	notify string // file the notification script appends to
}

// newRig builds the lifecycle of node 0 of a one-node cluster whose
// MonitorInterval is one second; joined says whether the node already
// took part in a recovery in this incarnation.
func newRig(t *testing.T, joined bool) *rig {
	t.Helper()
	st := raftlayer.BootstrapState("c", []raftlayer.NodeState{{PNN: 0, Addr: "127.0.0.1"}})
	if err := st.Apply(&raftlayer.CmdSetTunable{Name: "MonitorInterval", Value: 1}); err != nil {
		t.Fatal(err)
	}
	st.Nodes[0].Incarnation = incarnation
	if joined {
		st.View.Members = []raftlayer.Member{{PNN: 0, Incarnation: incarnation}}
	}
	dir := t.TempDir()
	r := &rig{t: t, ev: newFakeEvents(), raft: raftmem.New(st, 0), notify: filepath.Join(dir, "notified")}
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+r.notify+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Self: 0, Incarnation: incarnation, Base: dir, Events: r.ev, StartupRetry: 50 * time.Millisecond}, r.raft, &fakeQuorum{}, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	t.Cleanup(func() { m.Close(context.Background()) })
	return r
}

func (r *rig) start() {
	r.t.Helper()
	if err := r.m.Init(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.m.Start()
}

func (r *rig) waitRunstate(want protocol.Runstate) {
	r.t.Helper()
	testutil.WaitFor(r.t, 10*time.Second, "runstate "+want.String(), holds(func() bool { return r.m.Runstate() == want }))
}

// waitReported waits until the replicated state shows node 0's health.
func (r *rig) waitReported(healthy bool) {
	r.t.Helper()
	testutil.WaitFor(r.t, 10*time.Second, "health reported through Raft", holds(func() bool {
		st, _ := r.raft.Current()
		return st.Healthy(0) == healthy && r.m.Healthy() == healthy
	}))
}

func (r *rig) notified() []string {
	b, _ := os.ReadFile(r.notify)
	return strings.Fields(string(b))
}

func TestLifeFromInitToHealthy(t *testing.T) {
	r := newRig(t, true)
	r.start()
	r.waitRunstate(protocol.RunstateRunning)
	r.waitReported(true)
	got := r.ev.events()
	if want := []string{"init", "setup", "startup", "monitor"}; !slices.Equal(got[:4], want) {
		t.Fatalf("events %v, want %v first", got, want)
	}
	testutil.WaitFor(t, 5*time.Second, "notifications", holds(func() bool { return len(r.notified()) == 4 }))
	if got, want := r.notified(), []string{"init", "setup", "startup", "healthy"}; !slices.Equal(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
	if err := r.m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.m.Runstate() != protocol.RunstateShutdown || r.ev.events()[len(r.ev.events())-1] != "shutdown" {
		t.Fatalf("after Stop: runstate %v, events %v", r.m.Runstate(), r.ev.events())
	}
}

func TestStartupWaitsForFirstRecoveryAndRetries(t *testing.T) {
	r := newRig(t, false)
	r.ev.queue("startup", events.ResultFailed, events.ResultTimedOut)
	r.start()
	r.waitRunstate(protocol.RunstateFirstRecovery)
	// Not a member of a completed recovery yet: no startup.
	r.raft.Update(func(st *raftlayer.State) { st.View.Recovering = true })
	testutil.WaitFor(t, 5*time.Second, "startrecovery", holds(func() bool { return r.ev.count("startrecovery") == 1 }))
	if r.ev.count("startup") != 0 || r.m.Runstate() != protocol.RunstateFirstRecovery {
		t.Fatalf("startup before the first recovery ended: %v, runstate %v", r.ev.events(), r.m.Runstate())
	}
	r.raft.Update(func(st *raftlayer.State) {
		st.View.Recovering = false
		st.View.Members = []raftlayer.Member{{PNN: 0, Incarnation: incarnation}}
	})
	r.waitRunstate(protocol.RunstateRunning)
	testutil.WaitFor(t, 5*time.Second, "the first monitor", holds(func() bool { return r.ev.count("monitor") > 0 }))
	got := r.ev.events()
	if want := []string{"init", "setup", "startrecovery", "recovered", "startup", "startup", "startup", "monitor"}; !slices.Equal(got[:len(want)], want) {
		t.Fatalf("events %v, want %v first (startup retried after a failure and a timeout)", got, want)
	}
}

func TestFailedStagesRetry(t *testing.T) {
	r := newRig(t, true)
	r.ev.queue("init", events.ResultFailed)
	r.ev.queue("setup", events.ResultTimedOut, events.ResultFailed)
	if err := r.m.Init(context.Background()); err != nil {
		t.Fatalf("Init with a failing init event: %v (the node must come up all the same)", err)
	}
	if r.m.Runstate() != protocol.RunstateInit {
		t.Fatalf("runstate %v after a failed init", r.m.Runstate())
	}
	r.m.Start()
	r.waitReported(true)
	got := r.ev.events()
	if want := []string{"init", "init", "setup", "setup", "setup", "startup", "monitor"}; !slices.Equal(got[:len(want)], want) {
		t.Fatalf("events %v, want %v first", got, want)
	}
}

func TestShutdownEventOnlyAfterInit(t *testing.T) {
	r := newRig(t, true)
	r.ev.queue("init", events.ResultFailed)
	if err := r.m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Stop(context.Background()); err != nil || r.ev.count("shutdown") != 0 {
		t.Fatalf("Stop after a failed init: %v, events %v (no shutdown event expected)", err, r.ev.events())
	}
}

func TestMonitorFailureAndRecovery(t *testing.T) {
	r := newRig(t, true)
	r.start()
	r.waitReported(true)
	r.ev.queue("monitor", events.ResultFailed)
	r.waitReported(false)
	r.waitReported(true)
	testutil.WaitFor(t, 5*time.Second, "notifications", holds(func() bool { return len(r.notified()) == 6 }))
	if got, want := r.notified()[3:], []string{"healthy", "unhealthy", "healthy"}; !slices.Equal(got, want) {
		t.Fatalf("notifications %v, want ... %v", r.notified(), want)
	}
}

func TestMonitorTimeoutsCountUntilTheLimit(t *testing.T) {
	r := newRig(t, true)
	if _, err := r.raft.Apply(context.Background(), &raftlayer.CmdSetTunable{Name: "MonitorTimeoutCount", Value: 3}); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.waitReported(true)
	before := r.ev.count("monitor")
	r.ev.queue("monitor", events.ResultTimedOut, events.ResultTimedOut)
	testutil.WaitFor(t, 10*time.Second, "two timed-out monitors", holds(func() bool { return r.ev.count("monitor") >= before+3 }))
	if !r.m.Healthy() {
		t.Fatal("two timeouts in a row (limit 3) made the node unhealthy")
	}
	r.ev.queue("monitor", events.ResultTimedOut, events.ResultTimedOut, events.ResultTimedOut)
	r.waitReported(false)
	r.waitReported(true)
}

func TestCancelledMonitorChangesNothing(t *testing.T) {
	r := newRig(t, true)
	r.start()
	r.waitReported(true)
	r.ev.queue("monitor", events.ResultCanceled, events.ResultCanceled)
	before := r.ev.count("monitor")
	testutil.WaitFor(t, 10*time.Second, "cancelled monitors", holds(func() bool { return r.ev.count("monitor") >= before+3 }))
	st, _ := r.raft.Current()
	if !r.m.Healthy() || !st.Healthy(0) {
		t.Fatal("a cancelled monitor changed the node's health")
	}
}

// A cancelled monitor keeps the cadence where it was: a node starting
// while the others turn healthy (each of their takeover runs cancels its
// monitor) is not pushed back 2, 4, 8 s more each time before it may serve.
func TestCancelledMonitorKeepsTheCadence(t *testing.T) {
	r := newRig(t, true)
	r.raft.Update(func(st *raftlayer.State) {
		if err := st.Apply(&raftlayer.CmdSetTunable{Name: "MonitorInterval", Value: 15}); err != nil {
			t.Fatal(err)
		}
	})
	l := newLoop(r.m, context.Background(), time.Time{})
	now := time.Unix(1000, 0)
	l.interval = firstInterval
	for i := 0; i < 3; i++ {
		l.monitored(outcome{event: "monitor", res: events.Result{Code: events.ResultCanceled}}, now)
		if l.monitorAt != now.Add(firstInterval) || l.interval != firstInterval {
			t.Fatalf("after cancelled monitor %d: next in %v, interval %v; want both %v", i+1, l.monitorAt.Sub(now), l.interval, firstInterval)
		}
	}
	// A verdict that changes nothing (the node is not healthy yet) ramps up.
	l.monitored(outcome{event: "monitor", res: events.Result{Code: events.ResultFailed}}, now)
	if l.monitorAt != now.Add(firstInterval) || l.interval != 2*firstInterval {
		t.Fatalf("after a failing monitor: next in %v, interval %v; want %v and %v", l.monitorAt.Sub(now), l.interval, firstInterval, 2*firstInterval)
	}
}

func TestMonitorSkippedWhileRecovering(t *testing.T) {
	r := newRig(t, true)
	r.start()
	r.waitReported(true)
	r.raft.Update(func(st *raftlayer.State) { st.View.Recovering = true })
	testutil.WaitFor(t, 5*time.Second, "startrecovery", holds(func() bool { return r.ev.count("startrecovery") == 1 }))
	n := r.ev.count("monitor")
	// Three monitor intervals (MonitorInterval is 1s) pass without one.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if r.ev.count("monitor") != n {
			t.Fatalf("a monitor ran during a recovery: %v", r.ev.events())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.raft.Update(func(st *raftlayer.State) { st.View.Recovering = false })
	testutil.WaitFor(t, 5*time.Second, "monitor after the recovery", holds(func() bool { return r.ev.count("monitor") > n }))
	got := r.ev.events()
	i := slices.Index(got, "startrecovery")
	if got[i+1] != "recovered" {
		t.Fatalf("events %v: recovered does not follow startrecovery", got)
	}
}

func TestHealthReportWaitsForItsIncarnation(t *testing.T) {
	r := newRig(t, true)
	r.raft.Update(func(st *raftlayer.State) { st.Nodes[0].Incarnation = 1 }) // an earlier run's
	r.start()
	testutil.WaitFor(t, 10*time.Second, "locally healthy", holds(r.m.Healthy))
	r.raft.Update(func(st *raftlayer.State) { st.View.Members = []raftlayer.Member{{PNN: 0, Incarnation: 1}} })
	if st, _ := r.raft.Current(); st.Nodes[0].HealthyIncarnation != 0 {
		t.Fatal("health reported for another incarnation")
	}
	r.raft.Update(func(st *raftlayer.State) { st.Nodes[0].Incarnation = incarnation })
	r.waitReported(true)
}

func TestHealthReportRetriesAfterAFailedCommit(t *testing.T) {
	r := newRig(t, true)
	r.raft.FailApply(errors.New("no leader"))
	r.start()
	testutil.WaitFor(t, 10*time.Second, "locally healthy", holds(r.m.Healthy))
	r.raft.FailApply(nil)
	r.waitReported(true)
}

func TestRunEventMapsResultsAs417(t *testing.T) {
	r := newRig(t, true)
	cases := []struct {
		event string
		code  int32
		ok    bool
	}{
		{"takeip", events.ResultOK, true},
		{"takeip", events.ResultTimedOut, true},
		{"releaseip", events.ResultTimedOut, true},
		{"updateip", events.ResultTimedOut, false},
		{"ipreallocated", events.ResultTimedOut, false},
		{"takeip", events.ResultFailed, false},
		{"takeip", events.ResultNoDir, true},
		{"takeip", events.ResultCanceled, false},
	}
	for _, c := range cases {
		r.ev.queue(c.event, c.code)
		err := r.m.RunEvent(context.Background(), c.event, "eth0", "10.0.0.1", "24")
		if (err == nil) != c.ok {
			t.Errorf("%s with result %d: err %v, want ok=%v", c.event, c.code, err, c.ok)
		}
	}
}

// holds turns a condition into what testutil.WaitFor waits on.
func holds(cond func() bool) func() error {
	return func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	}
}
