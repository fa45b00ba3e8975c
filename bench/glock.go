package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// The g_lock loop: one process per node takes a write g_lock in
// g_lock.tdb (as ctdb's g_lock_loop and Samba's g_lock users do), then,
// under it alone, reads a counter record with one fetch lock and writes
// it back incremented with another, and releases the g_lock. The record
// locks do not protect the read-modify-write; only the g_lock does, so a
// lost increment shows a broken g_lock. Latency is the wait for the
// g_lock.

const glockCounterDB = "bench_glock.tdb"

type glockSpec struct {
	Socket   string        `json:"socket"`
	Lock     string        `json:"lock"`
	Key      string        `json:"key"`
	Duration time.Duration `json:"duration"`
}

func (s glockSpec) session() (string, string, uint8, time.Duration) {
	return s.Socket, glockCounterDB, 0, s.Duration
}

func init() { roles["glock"] = sessionRole(glockWorker) }

func glockWorker(ctx context.Context, s glockSpec, sess *session) (any, error) {
	c, db := sess.c, sess.db
	var res loopResult
	start := time.Now()
	end := start.Add(s.Duration)
	key := []byte(s.Key)
	for time.Now().Before(end) {
		t0 := time.Now()
		l, err := c.GLock(ctx, s.Lock, 1, true)
		if err != nil {
			return res, fmt.Errorf("g_lock lock: %w", err)
		}
		res.Latency.Add(time.Since(t0))
		rec, err := db.FetchLock(ctx, key)
		if err != nil {
			return res, fmt.Errorf("fetch lock counter: %w", err)
		}
		v := counter(rec.Data)
		rec.Unlock()
		if rec, err = db.FetchLock(ctx, key); err != nil {
			return res, fmt.Errorf("fetch lock counter again: %w", err)
		}
		if err := rec.Store(binary.LittleEndian.AppendUint64(nil, v+1)); err != nil {
			return res, fmt.Errorf("store counter: %w", err)
		}
		if err := l.Unlock(ctx); err != nil {
			return res, fmt.Errorf("g_lock unlock: %w", err)
		}
		res.Ops++
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// GLockLoop runs the g_lock loop on every node of t for p.Duration. Shares
// are per node. Afterwards the counter, read through node 0, must equal
// the increments of all workers.
func GLockLoop(ctx context.Context, t Target, p Params) Outcome {
	o := Outcome{}
	id := runID()
	key := "glock_counter_" + id
	var specs []any
	var names []string
	for i, s := range t.Sockets {
		specs = append(specs, glockSpec{Socket: s, Lock: "bench_glock_" + id, Key: key, Duration: p.Duration})
		names = append(names, fmt.Sprintf("g_lock loop on node %d", i))
	}
	outs, err := runEach[loopResult](ctx, p, "glock", names, specs, nil)
	for _, r := range outs {
		o.add(&r)
	}
	if err != nil {
		o.Err = err.Error()
		return o
	}
	checkCounters(ctx, p, t.Sockets[0], glockCounterDB, []string{key}, []uint64{o.Ops}, &o)
	return o
}
