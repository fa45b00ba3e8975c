package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Target is a cluster under test: its name ("rctdb", "ctdbd") and the
// client sockets of its nodes in pnn order.
type Target struct {
	Name    string
	Sockets []string
}

// Params are the parameters of the workloads. A comparison gives both
// daemons the same Params, so that their numbers differ by the daemon
// alone.
type Params struct {
	// Duration of one run of one workload.
	Duration time.Duration
	// Clients is the number of locking processes per node (contention).
	Clients int
	// Keys is the number of records the lockers share (contention).
	Keys int
	// Hold is how long a locker keeps a record locked before updating it.
	Hold time.Duration
	// Zipf is the exponent s (> 1) of the skewed key choice: key k is
	// chosen with a weight of 1/(1+k)^s.
	Zipf float64
	// FloorAddr is the first loopback address of the floor's forwarders,
	// which listen on consecutive addresses.
	FloorAddr string
	// Exe is the ctdb-bench binary started for worker processes (empty:
	// this executable).
	Exe string
}

// DefaultParams are the standard set's parameters.
func DefaultParams() Params {
	return Params{
		Duration: 5 * time.Second, Clients: 4, Keys: 16, Hold: 100 * time.Microsecond,
		Zipf: 1.2, FloorAddr: "127.83.0.1",
	}
}

// Outcome is one run of one workload against one target. Err is set when
// the run failed (the numbers are then partial), Failed when it ran but a
// correctness check did not hold; Checks say what was verified.
type Outcome struct {
	Workload string        `json:"workload"`
	Target   string        `json:"target"`
	Ops      uint64        `json:"ops"`
	Duration time.Duration `json:"duration"`
	Latency  Hist          `json:"latency"`
	// Shares are the operations of each client (or node), for fairness.
	Shares []uint64 `json:"shares,omitempty"`
	// MaxHop is the highest hop count the daemons' statistics report
	// (contention only; HasHop says whether it was read).
	MaxHop uint32   `json:"max_hop,omitempty"`
	HasHop bool     `json:"has_hop,omitempty"`
	Checks []string `json:"checks,omitempty"`
	Failed string   `json:"failed,omitempty"`
	Err    string   `json:"err,omitempty"`
}

// Rate is operations per second.
func (o *Outcome) Rate() float64 {
	if o.Duration <= 0 {
		return 0
	}
	return float64(o.Ops) / o.Duration.Seconds()
}

// OK reports whether the run completed and passed its checks.
func (o *Outcome) OK() bool { return o.Err == "" && o.Failed == "" }

// fail records a broken correctness check.
func (o *Outcome) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.Failed != "" {
		o.Failed += "; "
	}
	o.Failed += msg
}

// Workload is one benchmark: how to run it against a target and which
// rows of the comparison it yields.
type Workload struct {
	Name string
	// Unit of the rate, e.g. "locks/s".
	Unit string
	// What it does, for the report.
	Desc string
	// Floor marks the no-daemon workload: it runs in each daemon's turn
	// and gets no ratio, its two columns show the machine's noise.
	Floor bool
	// Metrics are the rows after the rate row.
	Metrics []Metric
	Run     func(ctx context.Context, t Target, p Params) Outcome
}

// Workloads is the standard set, in report order.
func Workloads() []Workload {
	return []Workload{
		{Name: "floor", Unit: "msgs/s", Floor: true, Metrics: ringMetrics, Run: FloorRing,
			Desc: "message ring over raw Unix+TCP loopback forwarders, no daemon logic (the machine's limit)"},
		{Name: "message-ring", Unit: "msgs/s", Metrics: ringMetrics, Run: messageRingRun,
			Desc: "one message each way around the nodes (ctdb message_ring)"},
		{Name: "fetch-ring", Unit: "steps/s", Metrics: ringMetrics, Run: fetchRingRun,
			Desc: "one record fetch-locked, incremented and passed on around the nodes (ctdb fetch_ring)"},
		{Name: "contention-uniform", Unit: "locks/s", Metrics: contentionMetrics, Run: contentionRun(false),
			Desc: "lockers on every node fetch-lock random keys, hold, increment"},
		{Name: "contention-zipf", Unit: "locks/s", Metrics: contentionMetrics, Run: contentionRun(true),
			Desc: "as contention-uniform, keys chosen by a Zipf law (hot keys)"},
		{Name: "txloop-persistent", Unit: "tx/s", Metrics: loopMetrics, Run: txLoopRun(false),
			Desc: "every node commits transactions incrementing its own counter in one shared record"},
		{Name: "txloop-replicated", Unit: "tx/s", Metrics: loopMetrics, Run: txLoopRun(true),
			Desc: "as txloop-persistent, on a replicated database"},
		{Name: "glock-loop", Unit: "locks/s", Metrics: loopMetrics, Run: GLockLoop,
			Desc: "every node takes a g_lock, increments a counter only it protects, releases"},
	}
}

// The Run functions of the workloads whose own functions take sockets.

func messageRingRun(ctx context.Context, t Target, p Params) Outcome {
	return MessageRing(ctx, t.Sockets, p.Duration)
}

func fetchRingRun(ctx context.Context, t Target, p Params) Outcome {
	return FetchRing(ctx, t.Sockets, "bench_fetch_ring.tdb", p)
}

func contentionRun(zipf bool) func(context.Context, Target, Params) Outcome {
	return func(ctx context.Context, t Target, p Params) Outcome { return Contention(ctx, t.Sockets, p, zipf) }
}

func txLoopRun(replicated bool) func(context.Context, Target, Params) Outcome {
	return func(ctx context.Context, t Target, p Params) Outcome { return TxLoop(ctx, t.Sockets, p, replicated) }
}

// runID names the records of one run, so that every run starts from
// fresh counters in databases that live as long as the cluster.
func runID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
