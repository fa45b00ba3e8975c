package tests

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// The transaction loop: one worker per node commits transactions on a
// persistent database, each incrementing its own node's counter in one
// shared record, while the leader is killed and restarted.

const (
	txDB  = "txloop.tdb"
	txKey = "counters"
)

// txCounters decodes the shared record: one u64 per node.
func txCounters(b []byte, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		if len(b) >= 8*(i+1) {
			out[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
	return out
}

// txLoopWorker runs transactions through RCTDB_SOCKET for RCTDB_DURATION,
// incrementing counter RCTDB_INDEX of RCTDB_NODES. It reconnects when its
// node goes away. Increments counts commits that were confirmed, InDoubt
// those that failed after being sent (they may have landed). Every value a
// transaction reads must be at least what the worker read before: counters
// never go backwards.
func txLoopWorker() (workerResult, error) {
	var res workerResult
	d, _ := time.ParseDuration(os.Getenv("RCTDB_DURATION"))
	idx, _ := strconv.Atoi(os.Getenv("RCTDB_INDEX"))
	n, _ := strconv.Atoi(os.Getenv("RCTDB_NODES"))
	socket := os.Getenv("RCTDB_SOCKET")
	end := time.Now().Add(d)
	seen := make([]uint64, n)
	var lastErr error
	for time.Now().Before(end) {
		ctx, cancel := context.WithDeadline(context.Background(), end.Add(30*time.Second))
		err := txSession(ctx, socket, idx, n, end, seen, &res)
		cancel()
		var back *backwardsError
		if errors.As(err, &back) {
			return res, err
		}
		if err != nil {
			lastErr = err
			res.Migrations++ // reconnects
			time.Sleep(50 * time.Millisecond)
		}
	}
	if res.Increments == 0 {
		return res, fmt.Errorf("no transaction committed; last error: %v", lastErr)
	}
	return res, nil
}

type backwardsError struct{ msg string }

func (e *backwardsError) Error() string { return e.msg }

// txSession is one connection's worth of transactions.
func txSession(ctx context.Context, socket string, idx, n int, end time.Time, seen []uint64, res *workerResult) error {
	c, err := client.Connect(ctx, socket)
	if err != nil {
		return err
	}
	defer c.Close()
	db, err := c.Attach(ctx, txDB, protocol.DBFlagPersistent)
	if err != nil {
		return err
	}
	defer db.Close()
	for time.Now().Before(end) {
		start := time.Now()
		tx, err := db.Transaction(ctx, false)
		if err != nil {
			return err
		}
		v, err := tx.Fetch([]byte(txKey))
		if err != nil {
			tx.Cancel(ctx)
			return err
		}
		cur := txCounters(v, n)
		for i := range cur {
			if cur[i] < seen[i] {
				tx.Cancel(ctx)
				return &backwardsError{fmt.Sprintf("counter %d went back from %d to %d", i, seen[i], cur[i])}
			}
			seen[i] = cur[i]
		}
		cur[idx]++
		out := make([]byte, 0, 8*n)
		for _, x := range cur {
			out = binary.LittleEndian.AppendUint64(out, x)
		}
		if err := tx.Store([]byte(txKey), out); err != nil {
			tx.Cancel(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			res.PerKey = addInDoubt(res.PerKey)
			return err
		}
		seen[idx] = cur[idx]
		res.Increments++
		if l := time.Since(start); l > res.MaxLatency {
			res.MaxLatency = l
		}
	}
	return nil
}

// addInDoubt counts a commit whose outcome is unknown under PerKey["in-doubt"].
func addInDoubt(m map[string]int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m["in-doubt"]++
	return m
}

// TestPersistentTransactionLoopWithNodeRestart: transactions on all three
// nodes while node 2 is killed and restarted. No confirmed increment is
// lost, no counter goes backwards, and afterwards every node's file is the
// same.
func TestPersistentTransactionLoopWithNodeRestart(t *testing.T) {
	const n, duration = 3, 8 * time.Second
	c := cluster(t, n)
	mustTool(t, c, 0, "attach", txDB, "persistent")
	var envs []map[string]string
	for p := 0; p < n; p++ {
		envs = append(envs, map[string]string{
			"RCTDB_WORKER": "txloop", "RCTDB_SOCKET": c.Nodes[p].Socket, "RCTDB_DURATION": duration.String(),
			"RCTDB_INDEX": strconv.Itoa(p), "RCTDB_NODES": strconv.Itoa(n),
		})
	}
	done := make(chan []workerResult, 1)
	errs := make(chan error, 1)
	go func() {
		res, err := runWorkers(envs)
		done <- res
		errs <- err
	}()
	time.Sleep(2 * time.Second) // transactions are flowing
	// The Raft leader: its last commits may be in the log without being
	// applied anywhere yet, the hardest case.
	out := strings.TrimSpace(mustTool(t, c, 0, "leader"))
	victim64, err := strconv.ParseUint(out, 10, 32)
	if err != nil {
		t.Fatalf("ctdb leader: %q", out)
	}
	victim := uint32(victim64)
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // they go on without node 2
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	res, err := <-done, <-errs
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitNodesOK(ctx, []uint32{0, 1, 2}, []uint32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	db, err := connect(t, c, 1).Attach(ctx, txDB, protocol.DBFlagPersistent)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := db.Fetch(ctx, []byte(txKey))
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	final := txCounters(v, n)
	total := 0
	var shares []string
	for p, r := range res {
		confirmed, doubt := uint64(r.Increments), uint64(r.PerKey["in-doubt"])
		if final[p] < confirmed || final[p] > confirmed+doubt {
			t.Errorf("node %d's counter is %d; its worker had %d commits confirmed and %d in doubt", p, final[p], confirmed, doubt)
		}
		total += int(final[p])
		shares = append(shares, fmt.Sprintf("node %d: %d (%d reconnects, max latency %v)", p, final[p], r.Migrations, r.MaxLatency.Round(time.Millisecond)))
	}
	t.Logf("%d transactions in %v (%.0f/s) on 3 nodes, node %d (the leader) killed at 2 s and restarted at 4 s; %s",
		total, duration, float64(total)/duration.Seconds(), victim, strings.Join(shares, "; "))
	sameOnAllNodes(t, c, txDB)
}
