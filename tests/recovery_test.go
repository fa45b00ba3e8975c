package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/testutil"
)

// lockPairWorker is smbd holding a record of one database while it needs a
// record of another: it fetch-locks RCTDB_KEY_A in RCTDB_DB_A, says
// "locked a" on stderr, fetch-locks RCTDB_KEY_B in RCTDB_DB_B, writes both
// and lets both go. MaxLatency is how long it waited for the second.
func lockPairWorker() (workerResult, error) {
	var res workerResult
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, os.Getenv("RCTDB_SOCKET"))
	if err != nil {
		return res, err
	}
	defer c.Close()
	dbA, err := c.Attach(ctx, os.Getenv("RCTDB_DB_A"), 0)
	if err != nil {
		return res, err
	}
	defer dbA.Close()
	dbB, err := c.Attach(ctx, os.Getenv("RCTDB_DB_B"), 0)
	if err != nil {
		return res, err
	}
	defer dbB.Close()
	a, err := dbA.FetchLock(ctx, []byte(os.Getenv("RCTDB_KEY_A")))
	if err != nil {
		return res, fmt.Errorf("lock a: %w", err)
	}
	fmt.Fprintln(os.Stderr, "locked a")
	start := time.Now()
	b, err := dbB.FetchLock(ctx, []byte(os.Getenv("RCTDB_KEY_B")))
	if err != nil {
		a.Unlock()
		return res, fmt.Errorf("lock b while holding a: %w", err)
	}
	res.MaxLatency = time.Since(start)
	err = a.Store([]byte("a-written"))
	if err == nil {
		err = b.Store([]byte("b-written"))
	}
	b.Unlock()
	a.Unlock()
	res.Increments = 1
	return res, err
}

// TestRecoveryTwoDatabaseDeadlock: a client holds a record of database A
// and waits for a record of database B that must migrate from a node where
// smbd holds it for a moment, while a third node leaves. The recovery
// freezes each database on its own: B is recovered and thawed, the client
// gets its record and lets A go, and A is recovered; no deadlock until the
// recovery timeout, and nobody banned.
func TestRecoveryTwoDatabaseDeadlock(t *testing.T) {
	c := cluster(t, 3)
	const dbA, dbB, keyA, keyB = "deadlock_a.tdb", "deadlock_b.tdb", "record-a", "record-b"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// record-b lives on node 1.
	b1, err := connect(t, c, 1).Attach(ctx, dbB, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := b1.FetchLock(ctx, []byte(keyB))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Store([]byte("b-initial")); err != nil {
		t.Fatal(err)
	}
	rec.Unlock()
	pathB := b1.Path
	b1.Close()
	attachDB(t, c, 0, dbA).Close()

	// smbd on node 1 holds record-b for 3 s.
	holder := worker(map[string]string{"RCTDB_WORKER": "holdlock", "RCTDB_PATH": pathB, "RCTDB_KEY": keyB, "RCTDB_DURATION": "3s"})
	holderErr, err := holder.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waitLine(t, holderErr, "locked")

	pair := worker(map[string]string{"RCTDB_WORKER": "lockpair", "RCTDB_SOCKET": c.Nodes[0].Socket,
		"RCTDB_DB_A": dbA, "RCTDB_KEY_A": keyA, "RCTDB_DB_B": dbB, "RCTDB_KEY_B": keyB})
	var out strings.Builder
	pair.Stdout = &out
	pairErr, err := pair.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.Start(); err != nil {
		t.Fatal(err)
	}
	waitLine(t, pairErr, "locked a")
	// The client now holds record-a and waits for record-b. Node 2 leaves.
	killed := time.Now()
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	pairDone := make(chan error, 1)
	go func() { pairDone <- pair.Wait() }()
	select {
	case err := <-pairDone:
		if err != nil {
			t.Fatalf("lock pair worker: %v (%s)", err, out.String())
		}
	case <-time.After(20 * time.Second):
		pair.Process.Kill()
		t.Fatal("the client holding record-a never got record-b: recovery deadlocked")
	}
	holder.Wait()
	var res workerResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil || res.Err != "" {
		t.Fatalf("lock pair worker: %v %s", err, res.Err)
	}
	if err := c.WaitNodesOK(ctx, []uint32{0, 1}, []uint32{0, 1}); err != nil {
		t.Fatal(err)
	}
	t.Logf("client waited %v for record-b; nodes 0 and 1 OK again %v after node 2 was killed",
		res.MaxLatency.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	for p := uint32(0); p < 2; p++ {
		st := mustTool(t, c, p, "status")
		if strings.Contains(st, "BANNED") {
			t.Fatalf("a node was banned:\n%s", st)
		}
	}
	for _, kv := range [][2]string{{dbA, keyA}, {dbB, keyB}} {
		want := strings.TrimPrefix(kv[1], "record-") + "-written"
		if got := readKey(t, c, 1, kv[0], kv[1]); got != want {
			t.Errorf("%s %s = %q after the recovery, want %q", kv[0], kv[1], got, want)
		}
	}
}

// waitLine waits until r yields a line containing want.
func waitLine(t *testing.T, r interface{ Read([]byte) (int, error) }, want string) {
	t.Helper()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				found <- true
				for sc.Scan() { // keep draining so the writer never blocks
				}
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("worker ended without saying %q", want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("worker did not say %q", want)
	}
}

// readKey reads a volatile record through Debian's ctdb readkey.
func readKey(t *testing.T, c *localcluster.Cluster, pnn uint32, db, key string) string {
	t.Helper()
	out := mustTool(t, c, pnn, "readkey", db, key)
	_, v, ok := strings.Cut(out, "ptr:[")
	if !ok {
		t.Fatalf("readkey %s %s: %q", db, key, out)
	}
	return strings.TrimSuffix(v, "]\n")
}

// TestKillRestartCycles: cycles of killing and restarting a random node
// under a contended fetch-lock load (two clients per node on keys of their
// own node). After each cycle every node is OK, nobody healthy was banned,
// and no update is lost on the records of surviving nodes; the killed
// node's records lose at most what only it held since the last recovery.
// RCTDB_CYCLES sets the number of cycles (default 5; the note measures 20).
func TestKillRestartCycles(t *testing.T) {
	cycles := 5
	if v, err := strconv.Atoi(os.Getenv("RCTDB_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	const n, perNode = 3, 2
	c := cluster(t, n)
	const db = "cycles.tdb"
	attachDB(t, c, 0, db).Close()
	keysOf := func(p int) []string {
		return []string{fmt.Sprintf("n%d-a", p), fmt.Sprintf("n%d-b", p), fmt.Sprintf("n%d-c", p)}
	}
	// want is each key's value as of the end of the last cycle.
	want := map[string]uint64{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	start := time.Now()
	for cycle := 1; cycle <= cycles; cycle++ {
		victim := uint32(rng.IntN(n))
		var envs []map[string]string
		var ready []string
		for p := 0; p < n; p++ {
			for w := 0; w < perNode; w++ {
				ready = append(ready, filepath.Join(t.TempDir(), "ready"))
				envs = append(envs, map[string]string{
					"RCTDB_WORKER": "increment", "RCTDB_SOCKET": c.Nodes[p].Socket, "RCTDB_DB": db,
					"RCTDB_KEYS": strings.Join(keysOf(p), ","), "RCTDB_DURATION": "1500ms",
					"RCTDB_READY": ready[len(ready)-1],
				})
			}
		}
		done := make(chan []workerResult, 1)
		go func() {
			res, _ := runWorkers(envs) // the victim's workers fail; checked below
			done <- res
		}()
		// The kill comes under load, once every worker has incremented
		// each of its keys: a node's keys are then that node's, and the
		// previous cycle's reads through the next node left none behind
		// on it (a record whose only current copy dies with its node goes
		// back to an older copy, as in CTDB; that is the victim's loss).
		testutil.WaitFor(t, 30*time.Second, "every worker under way", func() error {
			for _, f := range ready {
				if _, err := os.Stat(f); err != nil {
					return err
				}
			}
			return nil
		})
		if err := c.Kill(victim); err != nil {
			t.Fatal(err)
		}
		res := <-done
		if err := c.Restart(victim); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := c.WaitNodesOK(ctx, others(n), others(n)); err != nil {
			cancel()
			t.Fatalf("cycle %d (killed node %d): %v", cycle, victim, err)
		}
		cancel()
		for i, r := range res {
			p := uint32(i / perNode)
			if p != victim && r.Err != "" {
				t.Fatalf("cycle %d: worker on surviving node %d failed: %s", cycle, p, r.Err)
			}
		}
		for p := 0; p < n; p++ {
			for _, k := range keysOf(p) {
				made := uint64(0)
				for w := 0; w < perNode; w++ {
					made += uint64(res[p*perNode+w].PerKey[k])
				}
				got := readCounter(t, c, uint32((p+1)%n), db, k)
				switch {
				case uint32(p) != victim && got != want[k]+made:
					t.Fatalf("cycle %d (killed node %d): %s = %d, want %d (%d before the cycle, %d made in it): an update of a surviving node was lost",
						cycle, victim, k, got, want[k]+made, want[k], made)
				case uint32(p) == victim && (got < want[k] || got > want[k]+made+perNode):
					t.Fatalf("cycle %d: %s of the killed node = %d, outside [%d, %d]", cycle, k, got, want[k], want[k]+made+perNode)
				}
				want[k] = got
			}
		}
		if st := mustTool(t, c, 0, "status"); strings.Contains(st, "BANNED") {
			t.Fatalf("cycle %d: a node was banned:\n%s", cycle, st)
		}
	}
	t.Logf("%d kill/restart cycles under load in %v, every node OK after each, no update of a surviving node lost",
		cycles, time.Since(start).Round(time.Millisecond))
}

// readCounter reads a little-endian u64 record through node pnn.
func readCounter(t *testing.T, c *localcluster.Cluster, pnn uint32, db, key string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := connect(t, c, pnn).Attach(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close() // libtdb opens a file once per process
	rec, err := d.FetchLock(ctx, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Unlock()
	return u64(rec.Data)
}
