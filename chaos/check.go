package chaos

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/rctdb/rctdb/protocol"
)

// Violation is one broken promise the checks found.
type Violation struct {
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

func (v Violation) String() string { return v.Check + ": " + v.Detail }

// registerInput is what porcupine sees of a register operation's input.
type registerInput struct {
	id      string
	wrote   string
	unknown bool // outcome unknown: it may have happened, its read is not known
}

// registerModel is a register whose every write builds on the value read
// in the same operation: an operation that read v and wrote w is a step
// from state v to w. An operation of unknown outcome reads nothing and may
// happen at any point after its call (or, by coming last, never).
var registerModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerInput)
		if in.unknown {
			return true, in.wrote
		}
		return output.(string) == state.(string), in.wrote
	},
	DescribeOperation: func(input, output any) string {
		in := input.(registerInput)
		if in.unknown {
			return fmt.Sprintf("%s: ? -> %s", in.id, in.wrote)
		}
		return fmt.Sprintf("%s: %q -> %s", in.id, output, in.wrote)
	},
}

// checkRegisters checks the register workloads (persistent, replicated,
// g_lock) for linearizability, one key at a time. An operation of unknown
// outcome that no successful operation ever read the value of is left out:
// placing it after every other operation is always a valid linearization,
// and leaving it out keeps porcupine's search small. It returns the
// violations and the number of operations checked.
//
// A g_lock section whose node a majority saw INACTIVE during the section
// may have lost its lock without knowing (g_lock.tdb is a volatile
// database: the lock record goes with the node, as in CTDB); its write is
// kept but what it read is not checked (it counts in lockLost).
func checkRegisters(ops []Op, inactive [][]window, timeout time.Duration) (out []Violation, checked, lockLost int) {
	type keyID struct {
		kind Kind
		key  string
	}
	observed := map[string]bool{}
	byKey := map[keyID][]Op{}
	for _, op := range ops {
		if op.Kind == KindVolatile || op.Result == ResultFailed {
			continue
		}
		if op.Result == ResultOK {
			observed[registerWriter(op.Read)] = true
		}
		k := keyID{op.Kind, op.Key}
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]keyID, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b keyID) int {
		if a.kind != b.kind {
			return cmp.Compare(string(a.kind), string(b.kind))
		}
		return cmp.Compare(a.key, b.key)
	})
	for _, k := range keys {
		var hist []porcupine.Operation
		for _, op := range byKey[k] {
			in := registerInput{id: op.ID, wrote: op.Wrote, unknown: op.Result == ResultUnknown}
			ret := op.Return
			if op.Kind == KindGLock && op.Result == ResultOK && overlapsAny(inactive[op.Node], op.Call, op.Return) {
				in.unknown = true
				lockLost++
			}
			if in.unknown {
				if !observed[op.ID] {
					continue
				}
				ret = math.MaxInt64
			}
			hist = append(hist, porcupine.Operation{ClientId: op.Node, Input: in, Call: op.Call, Output: op.Read, Return: ret})
		}
		checked += len(hist)
		switch porcupine.CheckOperationsTimeout(registerModel, hist, timeout) {
		case porcupine.Illegal:
			out = append(out, Violation{Check: "linearizability",
				Detail: fmt.Sprintf("%s key %s: history of %d operations is not linearizable%s", k.kind, k.key, len(hist), explainRegister(byKey[k]))})
		case porcupine.Unknown:
			out = append(out, Violation{Check: "linearizability",
				Detail: fmt.Sprintf("%s key %s: the check of %d operations did not finish in %s", k.kind, k.key, len(hist), timeout)})
		}
	}
	return out, checked, lockLost
}

// explainRegister names the simplest evidence of a broken register: two
// successful operations that built on the same value (a lost update), or
// one that read a value nobody wrote.
func explainRegister(ops []Op) string {
	readers := map[string]Op{}
	written := map[string]bool{"": true}
	for _, op := range ops {
		if op.Result != ResultFailed {
			written[op.Wrote] = true
		}
	}
	for _, op := range ops {
		if op.Result != ResultOK {
			continue
		}
		if !written[op.Read] {
			return fmt.Sprintf("; %s on node %d read %q, which no operation wrote", op.ID, op.Node, op.Read)
		}
		if prev, ok := readers[op.Read]; ok {
			return fmt.Sprintf("; lost update: %s (node %d, ended %s) and %s (node %d, called %s) both read %q and both committed",
				prev.ID, prev.Node, fmtMono(prev.Return), op.ID, op.Node, fmtMono(op.Call), op.Read)
		}
		readers[op.Read] = op
	}
	return ""
}

func fmtMono(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s" }

// window is a stretch of CLOCK_MONOTONIC time [From, To].
type window struct{ From, To int64 }

// recoveryWindows are the stretches in which some node's generation
// changed: between its last sample with the old one and its first with
// the new one.
func recoveryWindows(samples []Sample) []window {
	last := map[int]Sample{}
	var out []window
	for _, s := range samples {
		if p, ok := last[s.Node]; ok && p.Generation != s.Generation {
			out = append(out, window{p.At, s.At})
		}
		last[s.Node] = s
	}
	slices.SortFunc(out, func(a, b window) int { return cmp.Compare(a.From, b.From) })
	return out
}

// checkVolatile checks the volatile counters. Upper bound: a value read
// never exceeds the increments that had locked the record by the time the
// read returned. Lower bound (no lost confirmed increment): an increment
// that returned ok before another one started is seen by it (the value
// read is at least the value written), unless a recovery overlapped the
// stretch from the increment's call to the reader's return: a
// recovery that drops a node keeps the newest copy among the remaining
// nodes, and volatile records mastered by the dropped node fall back to an
// older copy in CTDB by design. It returns the violations and the number
// of operations checked.
func checkVolatile(ops []Op, recoveries []window) ([]Violation, int) {
	byKey := map[string][]Op{}
	for _, op := range ops {
		if op.Kind == KindVolatile && op.Result != ResultFailed {
			byKey[op.Key] = append(byKey[op.Key], op)
		}
	}
	// lastEnd[i] is the latest end of recoveries[:i+1] (sorted by start).
	lastEnd := make([]int64, len(recoveries))
	for i, w := range recoveries {
		lastEnd[i] = w.To
		if i > 0 {
			lastEnd[i] = max(lastEnd[i], lastEnd[i-1])
		}
	}
	var out []Violation
	checked := 0
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		list := byKey[key] // by call time
		checked += len(list)
		calls := make([]int64, len(list))
		for i, op := range list {
			calls[i] = op.Call
		}
		for _, b := range list {
			if b.Result != ResultOK {
				continue
			}
			read, _ := strconv.ParseUint(b.Read, 10, 64)
			// Every increment called before b returned may have counted.
			attempted, _ := slices.BinarySearch(calls, b.Return+1)
			if read >= uint64(attempted) {
				out = append(out, Violation{Check: "volatile", Detail: fmt.Sprintf(
					"key %s: %s on node %d read %d, but only %d increments (its own included) had started", key, b.ID, b.Node, read, attempted)})
			}
			// An increment counts unless a recovery that had begun by the
			// time b returned ended after the increment was called.
			since := int64(math.MinInt64)
			if i, _ := slices.BinarySearchFunc(recoveries, b.Return+1, func(w window, t int64) int { return cmp.Compare(w.From, t) }); i > 0 {
				since = lastEnd[i-1]
			}
			for _, a := range list {
				if a.Call > b.Call {
					break
				}
				if a.Result != ResultOK || a.Return >= b.Call || a.Call <= since {
					continue
				}
				wrote, _ := strconv.ParseUint(a.Wrote, 10, 64)
				if read < wrote {
					out = append(out, Violation{Check: "volatile", Detail: fmt.Sprintf(
						"key %s: lost confirmed increment: %s on node %d wrote %d and returned at %s; %s on node %d called at %s read %d",
						key, a.ID, a.Node, wrote, fmtMono(a.Return), b.ID, b.Node, fmtMono(b.Call), read)})
					break
				}
			}
		}
	}
	return out, checked
}

// inactiveWindows returns, per node, the stretches in which a majority of
// the other nodes may have seen it INACTIVE (disconnected, banned,
// stopped): from the first to the last sample of a run of samples in
// which their latest views (up to 2 s old) said so. It excuses what a
// node cut off may do (a g_lock section's read); surelyInactiveWindows
// is the strict one that convicts.
func inactiveWindows(samples []Sample, nodes int) [][]window {
	inactive := make([][]window, nodes)
	latest := make([]Sample, nodes)
	have := make([]bool, nodes)
	first, last := make([]int64, nodes), make([]int64, nodes)
	for k := range first {
		first[k] = -1
	}
	for _, s := range samples {
		latest[s.Node], have[s.Node] = s, true
		for k := range nodes {
			votes := 0
			for o := range nodes {
				// A view older than 2 s (a paused or dead observer) counts
				// for nothing.
				if o != k && have[o] && s.At-latest[o].At <= int64(2*time.Second) &&
					latest[o].Flags[k]&protocol.NodeFlagsInactive != 0 {
					votes++
				}
			}
			switch {
			case votes > nodes/2:
				if first[k] < 0 {
					first[k] = s.At
				}
				last[k] = s.At
			case first[k] >= 0:
				inactive[k] = append(inactive[k], window{first[k], last[k]})
				first[k] = -1
			}
		}
	}
	for k := range nodes {
		if first[k] >= 0 {
			inactive[k] = append(inactive[k], window{first[k], last[k]})
		}
	}
	return inactive
}

// surelyInactiveWindows returns, per node, the stretches in which a
// majority of the other nodes surely saw it INACTIVE: each observer's own
// runs of samples showing it so, from the first to the last sample of the
// run, where more than half the observers' runs overlap. Unlike
// inactiveWindows, an observer's view counts only up to its last sample
// that showed it, not until its next sample: between two samples its view
// may already have changed (observers answer slowly while the cluster
// recovers, 0.6 s apart, and a node back in the cluster commits at once).
func surelyInactiveWindows(samples []Sample, nodes int) [][]window {
	samples = slices.Clone(samples)
	slices.SortStableFunc(samples, func(a, b Sample) int { return cmp.Compare(a.At, b.At) })
	type edge struct {
		at    int64
		delta int
	}
	edges := make([][]edge, nodes)
	from, to := make([][]int64, nodes), make([][]int64, nodes)
	for o := range nodes {
		from[o], to[o] = make([]int64, nodes), make([]int64, nodes)
		for k := range nodes {
			from[o][k] = -1
		}
	}
	endRun := func(o, k int) {
		if from[o][k] >= 0 {
			edges[k] = append(edges[k], edge{from[o][k], +1}, edge{to[o][k], -1})
			from[o][k] = -1
		}
	}
	for _, s := range samples {
		for k := range nodes {
			switch {
			case k == s.Node || k >= len(s.Flags):
			case s.Flags[k]&protocol.NodeFlagsInactive != 0:
				if from[s.Node][k] < 0 {
					from[s.Node][k] = s.At
				}
				to[s.Node][k] = s.At
			default:
				endRun(s.Node, k)
			}
		}
	}
	out := make([][]window, nodes)
	for k := range nodes {
		for o := range nodes {
			endRun(o, k)
		}
		// Starts before ends at one instant: runs that touch overlap.
		slices.SortFunc(edges[k], func(a, b edge) int {
			return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(b.delta, a.delta))
		})
		count, start := 0, int64(-1)
		for _, e := range edges[k] {
			count += e.delta
			switch {
			case count > nodes/2 && start < 0:
				start = e.at
			case count <= nodes/2 && start >= 0:
				out[k] = append(out[k], window{start, e.at})
				start = -1
			}
		}
	}
	return out
}

// overlapsAny tells whether [from, to] meets one of ws.
func overlapsAny(ws []window, from, to int64) bool {
	for _, w := range ws {
		if w.From <= to && from <= w.To {
			return true
		}
	}
	return false
}

// checkInactiveCommits finds register operations that committed on a node
// while a majority of the nodes surely saw it INACTIVE during the whole
// operation (inactive: surelyInactiveWindows).
func checkInactiveCommits(ops []Op, inactive [][]window) []Violation {
	var out []Violation
	for _, op := range ops {
		if op.Result != ResultOK || op.Kind == KindVolatile {
			continue
		}
		for _, w := range inactive[op.Node] {
			if w.From <= op.Call && op.Return <= w.To {
				out = append(out, Violation{Check: "inactive-commit", Detail: fmt.Sprintf(
					"%s %s key %s committed on node %d between %s and %s, while a majority saw the node inactive from %s to %s",
					op.Kind, op.ID, op.Key, op.Node, fmtMono(op.Call), fmtMono(op.Return), fmtMono(w.From), fmtMono(w.To))})
				break
			}
		}
	}
	return out
}
