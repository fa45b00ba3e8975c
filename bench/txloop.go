package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// The transaction loop: one process per node commits transactions on one
// persistent (or replicated) database, each incrementing its node's
// counter in one shared record of one u64 per node, as ctdb's
// transaction_loop does. A transaction's latency runs from asking for the
// database's g_lock to the commit's answer.

type txSpec struct {
	Socket   string        `json:"socket"`
	DB       string        `json:"db"`
	Flags    uint8         `json:"flags"`
	Key      string        `json:"key"`
	Index    int           `json:"index"`
	Nodes    int           `json:"nodes"`
	Duration time.Duration `json:"duration"`
}

func (s txSpec) session() (string, string, uint8, time.Duration) {
	return s.Socket, s.DB, s.Flags, s.Duration
}

func init() { roles["txloop"] = sessionRole(txLoopWorker) }

// txCounters decodes the shared record, one u64 per node, into n
// counters (missing ones are 0: a node that has not committed yet).
func txCounters(b []byte, n int) []uint64 {
	out := make([]uint64, n)
	for i := 0; i < n && len(b) >= 8; i, b = i+1, b[8:] {
		out[i] = binary.LittleEndian.Uint64(b)
	}
	return out
}

// txLoopWorker commits transactions until the spec's duration is over.
// Every counter a transaction reads must be at least what this worker saw
// before (no counter goes backwards), and its own must be exactly what it
// last committed (no commit of its own lost).
func txLoopWorker(ctx context.Context, s txSpec, sess *session) (any, error) {
	var res loopResult
	seen := make([]uint64, s.Nodes)
	start := time.Now()
	end := start.Add(s.Duration)
	for time.Now().Before(end) {
		t0 := time.Now()
		if err := txIncrement(ctx, sess.db, []byte(s.Key), s.Index, seen); err != nil {
			return res, err
		}
		res.Latency.Add(time.Since(t0))
		res.Ops++
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// txIncrement is one transaction of the loop; seen is updated.
func txIncrement(ctx context.Context, db *client.DB, key []byte, idx int, seen []uint64) error {
	tx, err := db.Transaction(ctx, false)
	if err != nil {
		return fmt.Errorf("transaction start: %w", err)
	}
	v, err := tx.Fetch(key)
	if err != nil {
		tx.Cancel(ctx)
		return fmt.Errorf("transaction fetch: %w", err)
	}
	cur := txCounters(v, len(seen))
	for i := range cur {
		if cur[i] < seen[i] || (i == idx && cur[i] != seen[i]) {
			tx.Cancel(ctx)
			return fmt.Errorf("counter of node %d is %d, this worker saw %d before: monotonicity broken", i, cur[i], seen[i])
		}
		seen[i] = cur[i]
	}
	cur[idx]++
	out := make([]byte, 0, 8*len(cur))
	for _, x := range cur {
		out = binary.LittleEndian.AppendUint64(out, x)
	}
	if err := tx.Store(key, out); err != nil {
		tx.Cancel(ctx)
		return fmt.Errorf("transaction store: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("transaction commit: %w", err)
	}
	seen[idx] = cur[idx]
	return nil
}

// TxLoop runs the transaction loop on every node of sockets for
// p.Duration, on a persistent database or (replicated) a replicated one.
// Shares are per node. Afterwards every node's local copy of the record
// must be the same and hold each node's confirmed commits.
func TxLoop(ctx context.Context, sockets []string, p Params, replicated bool) Outcome {
	o := Outcome{}
	dbName, flags := "bench_txloop.tdb", protocol.DBFlagPersistent
	if replicated {
		dbName, flags = "bench_txloop_replicated.tdb", protocol.DBFlagReplicated
	}
	key := "counters_" + runID()
	var specs []any
	var names []string
	for i, s := range sockets {
		specs = append(specs, txSpec{Socket: s, DB: dbName, Flags: flags, Key: key, Index: i, Nodes: len(sockets), Duration: p.Duration})
		names = append(names, fmt.Sprintf("transaction loop on node %d", i))
	}
	outs, err := runEach[loopResult](ctx, p, "txloop", names, specs, nil)
	want := make([]uint64, len(outs))
	for i, r := range outs {
		o.add(&r)
		want[i] = r.Ops
	}
	if err != nil {
		o.Err = err.Error()
		return o
	}
	o.Checks = append(o.Checks, "no counter went backwards")
	// Every node's local copy must be the same and hold each node's commits.
	runCheck(ctx, p, "check-replicas", replicasSpec{Sockets: sockets, DB: dbName, Flags: flags, Key: key, Want: want}, &o)
	return o
}

type replicasSpec struct {
	Sockets []string `json:"sockets"`
	DB      string   `json:"db"`
	Flags   uint8    `json:"flags"`
	Key     string   `json:"key"`
	Want    []uint64 `json:"want"`
}

func init() { roles["check-replicas"] = checkRole(compareReplicas) }

// compareReplicas is checkReplicas in the worker.
func compareReplicas(ctx context.Context, s replicasSpec, o *Outcome) error {
	var first []byte
	for i, sock := range s.Sockets {
		c, err := client.Connect(ctx, sock)
		if err != nil {
			return fmt.Errorf("check replicas: %w", err)
		}
		db, err := c.Attach(ctx, s.DB, s.Flags)
		if err != nil {
			c.Close()
			return fmt.Errorf("check replicas: %w", err)
		}
		_, data, err := db.FetchLocal([]byte(s.Key))
		db.Close()
		c.Close()
		if err != nil {
			return fmt.Errorf("check replicas: node %d: %w", i, err)
		}
		if i == 0 {
			first = data
			got := txCounters(data, len(s.Want))
			for n := range s.Want {
				if got[n] != s.Want[n] {
					o.fail("node %d's counter is %d after %d confirmed commits", n, got[n], s.Want[n])
				}
			}
		} else if !bytes.Equal(data, first) {
			o.fail("node %d's copy of the record differs from node 0's", i)
		}
	}
	if o.Failed == "" {
		o.Checks = append(o.Checks, fmt.Sprintf("every node's copy holds each node's confirmed commits (%v)", s.Want))
	}
	return nil
}
