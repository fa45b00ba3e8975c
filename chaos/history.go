package chaos

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Kind is the workload an operation belongs to.
type Kind string

// The workloads.
const (
	// KindPersistent is a transaction on a persistent database that reads
	// a register and writes its successor.
	KindPersistent Kind = "persistent"
	// KindReplicated is the same transaction on a replicated database.
	KindReplicated Kind = "replicated"
	// KindVolatile is a fetch-lock increment of a volatile counter.
	KindVolatile Kind = "volatile"
	// KindGLock is a g_lock section: under the g_lock, a plain local read
	// of a persistent register and a transaction that only writes its
	// successor, so that only the g_lock keeps two writers apart.
	KindGLock Kind = "glock"
)

// Result is what a client learnt of its operation.
type Result string

// The results.
const (
	// ResultOK: the operation took effect and returned what it read.
	ResultOK Result = "ok"
	// ResultFailed: the operation failed before it could change anything.
	ResultFailed Result = "failed"
	// ResultUnknown: the operation may or may not have taken effect (a
	// timeout or a lost connection during the commit or the store, or a
	// worker that never reported back).
	ResultUnknown Result = "unknown"
)

// Op is one client operation. Times are CLOCK_MONOTONIC nanoseconds, the
// same clock in every process of the machine.
type Op struct {
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Node   int    `json:"node"`
	Key    string `json:"key"`
	Call   int64  `json:"call"`
	Return int64  `json:"return,omitempty"` // 0: never returned
	Result Result `json:"result,omitempty"` // "": still running
	// Read is the value the operation read ("" for none); Wrote what it
	// wrote (or tried to).
	Read  string `json:"read,omitempty"`
	Wrote string `json:"wrote,omitempty"`
	Err   string `json:"err,omitempty"`
}

// monoNow is the CLOCK_MONOTONIC time in nanoseconds.
func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for this clock
	return ts.Nano()
}

// register values are "n:id": the n-th write, made by operation id.
func registerValue(n int, id string) string { return strconv.Itoa(n) + ":" + id }

// registerSeq is the write number of a register value ("" is 0).
func registerSeq(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, _, ok := strings.Cut(v, ":")
	if !ok {
		return 0, fmt.Errorf("register value %q is not n:id", v)
	}
	return strconv.Atoi(n)
}

// registerWriter is the id of the operation that wrote v ("" for none).
func registerWriter(v string) string {
	_, id, _ := strings.Cut(v, ":")
	return id
}

// History collects the operations the workers report; safe for concurrent
// use.
type History struct {
	mu  sync.Mutex
	ops map[string]*Op
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{ops: map[string]*Op{}} }

// Record adds an operation's call, or completes it with its return.
func (h *History) Record(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.ops[op.ID]; ok && op.Result == "" {
		return // a call reported after its return changes nothing
	}
	o := op
	h.ops[op.ID] = &o
}

// Ops returns the operations sorted by call time; those that never
// returned are unknown.
func (h *History) Ops() []Op {
	h.mu.Lock()
	out := make([]Op, 0, len(h.ops))
	for _, o := range h.ops {
		op := *o
		if op.Result == "" {
			op.Result = ResultUnknown
			op.Err = "no return recorded (the worker died or was ended)"
		}
		out = append(out, op)
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })
	return out
}

// saveJSON writes v as indented JSON to path.
func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
