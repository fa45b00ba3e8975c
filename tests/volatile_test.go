package tests

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

func connect(t *testing.T, c *localcluster.Cluster, pnn uint32) *client.Client {
	t.Helper()
	return dialSocket(t, c.Nodes[pnn].Socket)
}

func attachDB(t *testing.T, c *localcluster.Cluster, pnn uint32, name string) *client.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := connect(t, c, pnn).Attach(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func TestFetchLockAcrossNodes(t *testing.T) {
	c := cluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbs := []*client.DB{attachDB(t, c, 0, "fl.tdb"), attachDB(t, c, 1, "fl.tdb"), attachDB(t, c, 2, "fl.tdb")}
	for round, p := range []int{0, 2, 1, 0} {
		rec, err := dbs[p].FetchLock(ctx, []byte("key"))
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if round > 0 {
			want = fmt.Sprintf("written by %d", []int{0, 2, 1, 0}[round-1])
		}
		if string(rec.Data) != want {
			t.Fatalf("round %d on node %d: data %q, want %q", round, p, rec.Data, want)
		}
		if rec.Header.DMaster != uint32(p) {
			t.Fatalf("locked record's dmaster %d on node %d", rec.Header.DMaster, p)
		}
		if err := rec.Store([]byte(fmt.Sprintf("written by %d", p))); err != nil {
			t.Fatal(err)
		}
	}
	// An unlocked read through the daemon (FETCH_FUNC) sees the last write.
	data, ok, err := dbs[2].Fetch(ctx, []byte("key"))
	if err != nil || !ok || string(data) != "written by 0" {
		t.Fatalf("fetch: %q %v %v", data, ok, err)
	}
}

// contention runs workers on every node incrementing counters and checks
// that nothing was lost.
type contention struct {
	nodes, perNode int
	keys           []string
	duration       time.Duration
	hold           time.Duration
	record         bool
}

func (ct contention) run(t *testing.T, c *localcluster.Cluster, db string) []workerResult {
	t.Helper()
	var envs []map[string]string
	for p := 0; p < ct.nodes; p++ {
		for w := 0; w < ct.perNode; w++ {
			env := map[string]string{
				"RCTDB_WORKER": "increment", "RCTDB_SOCKET": c.Nodes[p].Socket, "RCTDB_DB": db,
				"RCTDB_KEYS": strings.Join(ct.keys, ","), "RCTDB_DURATION": ct.duration.String(),
				"RCTDB_HOLD": ct.hold.String(),
			}
			if ct.record {
				env["RCTDB_RECORD_TIMES"] = "1"
			}
			envs = append(envs, env)
		}
	}
	res, err := runWorkers(envs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkCounters reads every key through node 0 and compares with the sum of
// the workers' increments.
func checkCounters(t *testing.T, c *localcluster.Cluster, db string, keys []string, res []workerResult) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := attachDB(t, c, 0, db)
	defer d.Close() // libtdb opens a file once per process
	total := 0
	for _, k := range keys {
		made := 0
		for _, r := range res {
			made += r.PerKey[k]
		}
		rec, err := d.FetchLock(ctx, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		got := u64(rec.Data)
		rec.Unlock()
		if int(got) != made {
			t.Errorf("key %q: counter %d, increments made %d", k, got, made)
		}
		total += made
	}
	for i, r := range res {
		if r.Increments == 0 {
			t.Errorf("worker %d made no progress", i)
		}
	}
	return total
}

func maxHopcount(t *testing.T, c *localcluster.Cluster) uint32 {
	t.Helper()
	var max uint32
	for p := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := connect(t, c, uint32(p)).Statistics(ctx, protocol.CurrentNode)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.MaxHopCount > max {
			max = st.MaxHopCount
		}
	}
	return max
}

// jain is Jain's fairness index of the workers' shares (1 = perfectly fair).
func jain(res []workerResult) float64 {
	var sum, sq float64
	for _, r := range res {
		x := float64(r.Increments)
		sum += x
		sq += x * x
	}
	return sum * sum / (float64(len(res)) * sq)
}

func summary(res []workerResult) string {
	var inc []int
	var maxLat time.Duration
	for _, r := range res {
		inc = append(inc, r.Increments)
		maxLat = max(maxLat, r.MaxLatency)
	}
	sort.Ints(inc)
	return fmt.Sprintf("per client min %d max %d, Jain %.3f, max lock latency %v", inc[0], inc[len(inc)-1], jain(res), maxLat.Round(time.Millisecond))
}

// TestContentionOneCounter: 3 nodes, 4 clients per node, one counter, 20 s.
func TestContentionOneCounter(t *testing.T) {
	const port = 19380
	c := clusterWith(t, localcluster.Options{N: 3, MetricsPort: port})
	ct := contention{nodes: 3, perNode: 4, keys: []string{"counter"}, duration: 20 * time.Second}
	res := ct.run(t, c, "contend.tdb")
	total := checkCounters(t, c, "contend.tdb", ct.keys, res)
	hops := maxHopcount(t, c)
	var migrations, resent float64
	for p := range c.Nodes {
		m := scrape(t, c, uint32(p), port)
		migrations += m["ctdb_volatile_migrations_in_total"]
		resent += m["ctdb_volatile_calls_resent_total"]
	}
	t.Logf("one counter, 12 clients, %v: %d increments (%.0f/s), %.0f migrations (%.0f/s), %s, max hopcount %d, calls resent %.0f",
		ct.duration, total, float64(total)/ct.duration.Seconds(), migrations, migrations/ct.duration.Seconds(), summary(res), hops, resent)
	if hops >= 10 {
		t.Errorf("max hopcount %d", hops)
	}
	// A call is sent again only when it got no answer for CallTimeout: in
	// a healthy cluster that means a request was lost.
	if resent != 0 {
		t.Errorf("%.0f calls were sent again after getting no answer", resent)
	}
}

// TestContentionManyKeysWithExternalLock: 100 keys; in the middle an
// external process holds one key's chain lock on node 0 for 2 s, and other
// keys and another database keep flowing meanwhile. The held key has
// clients of its own on every node (they wait out the lock); the other
// clients use the other 99 keys, so that they measure the traffic that must
// not stop (a client that picked the held key would rightly wait too).
func TestContentionManyKeysWithExternalLock(t *testing.T) {
	c := cluster(t, 3)
	const held = "k-17"
	var keys []string
	for i := 0; i < 100; i++ {
		if k := fmt.Sprintf("k-%d", i); k != held {
			keys = append(keys, k)
		}
	}
	ct := contention{nodes: 3, perNode: 4, keys: keys, duration: 8 * time.Second, record: true}
	hot := contention{nodes: 3, perNode: 1, keys: []string{held}, duration: 8 * time.Second}
	// Attach both databases, and close them again: checkCounters attaches
	// them in this process later, and libtdb opens a file once per process.
	d := attachDB(t, c, 0, "many.tdb")
	path := d.Path
	d.Close()
	attachDB(t, c, 0, "other.tdb").Close()

	done, hotDone := make(chan []workerResult, 1), make(chan []workerResult, 1)
	go func() { done <- ct.run(t, c, "many.tdb") }()
	go func() { hotDone <- hot.run(t, c, "many.tdb") }()
	time.Sleep(3 * time.Second) // the middle of the run
	holder := worker(map[string]string{"RCTDB_WORKER": "holdlock", "RCTDB_PATH": path, "RCTDB_KEY": held, "RCTDB_DURATION": "2s"})
	var stderr bytes.Buffer
	holder.Stderr = &stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	// Another database, meanwhile, on every node.
	other := contention{nodes: 3, perNode: 1, keys: []string{"x"}, duration: 1500 * time.Millisecond}
	otherRes := other.run(t, c, "other.tdb")
	holder.Wait()
	var lockedMS, unlockedMS int64
	if _, err := fmt.Sscanf(stderr.String(), "locked at %d\nunlocked at %d", &lockedMS, &unlockedMS); err != nil {
		t.Fatalf("lock holder: %v: %s", err, stderr.String())
	}
	res, hotRes := <-done, <-hotDone
	total := checkCounters(t, c, "many.tdb", keys, res)
	hotTotal := checkCounters(t, c, "many.tdb", hot.keys, hotRes)
	checkCounters(t, c, "other.tdb", other.keys, otherRes)

	// Completions of the other keys while the chain was held, as the
	// holder itself timed it (its start under load is no measure).
	from, to := time.UnixMilli(lockedMS), time.UnixMilli(unlockedMS)
	var during []time.Time
	for _, r := range res {
		for _, ms := range r.Completions {
			if at := time.UnixMilli(ms); at.After(from) && at.Before(to) {
				during = append(during, at)
			}
		}
	}
	slices.SortFunc(during, time.Time.Compare)
	gap, prev := time.Duration(0), from
	for _, at := range append(during, to) {
		gap, prev = max(gap, at.Sub(prev)), at
	}
	window := to.Sub(from)
	rateDuring := float64(len(during)) / window.Seconds()
	rateAll := float64(total) / ct.duration.Seconds()
	hops := maxHopcount(t, c)
	outcome := fmt.Sprintf("99 keys, 12 clients: %d increments (%.0f/s), during the %v external lock %.0f/s (longest pause %v); held key, 3 clients: %d increments; other db %d increments; %s; max hopcount %d",
		total, rateAll, window, rateDuring, gap.Round(time.Millisecond), hotTotal, otherRes[0].Increments+otherRes[1].Increments+otherRes[2].Increments, summary(res), hops)
	t.Log(outcome)
	// A request that loops between nodes gains a hop every few hundred
	// microseconds; one that chases a record through honest migrations
	// gains one per move it missed, and on a starved 2-core machine
	// (three make test runs at once) that reached 8. 4.17 only starts to
	// log a call's hopcount above 95.
	if hops >= 50 {
		t.Errorf("a call was forwarded %d times: %s", hops, outcome)
	}
	// A node blocked behind the held chain stops every client of the
	// other keys until the lock goes, a pause as long as the hold. The
	// rate is no measure on a 2-core machine: a neighbour's load and the
	// other database's traffic, which starts with the hold, swung it from
	// 83 % of the average to 5 %.
	if gap > window*3/4 {
		t.Errorf("no client of the other keys got through for %v of the %v that one chain was held elsewhere: %s", gap.Round(time.Millisecond), window, outcome)
	}
}

// vacuumUntilGone runs full vacuum passes of db on every node until no
// node holds key any more: records that non-lmasters hand over are deleted
// by their lmaster in a later pass.
func vacuumUntilGone(t *testing.T, c *localcluster.Cluster, db, key string) {
	t.Helper()
	vacuumUntilGoneOn(t, c, others(len(c.Nodes)), db, key)
}

// vacuumUntilGoneOn vacuums db on the nodes until none holds key.
func vacuumUntilGoneOn(t *testing.T, c *localcluster.Cluster, nodes []uint32, db, key string) {
	t.Helper()
	v := protocol.DBVacuum{DBID: protocol.DBID(db), FullVacuumRun: true}
	waitUntil(t, 20*time.Second, key+" vacuumed away on every node", func() error {
		for _, p := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r, err := connect(t, c, p).Control(ctx, protocol.CurrentNode, protocol.ControlDBVacuum, 0, 0, v.Marshal())
			cancel()
			if err != nil || r.Status != 0 {
				t.Fatalf("vacuum on node %d: %+v %v", p, r, err)
			}
		}
		for _, p := range nodes {
			if out := mustTool(t, c, p, "cattdb", db); strings.Contains(out, fmt.Sprintf("key(%d) = %q", len(key), key)) {
				return fmt.Errorf("node %d holds %s", p, key)
			}
		}
		return nil
	})
}

// TestDeletedRecordNeverComesBack: a deleted record is vacuumed away
// everywhere, and neither a stale copy nor a restarted node brings it back.
func TestDeletedRecordNeverComesBack(t *testing.T) {
	c := cluster(t, 3)
	mustTool(t, c, 0, "attach", "del.tdb")
	mustTool(t, c, 1, "writekey", "del.tdb", "gone", "soon")
	mustTool(t, c, 0, "readkey", "del.tdb", "gone") // node 1 keeps a stale copy
	mustTool(t, c, 2, "writekey", "del.tdb", "kept", "yes")
	mustTool(t, c, 2, "deletekey", "del.tdb", "gone")
	vacuumUntilGone(t, c, "del.tdb", "gone")
	check := func(when string) {
		t.Helper()
		for p := range c.Nodes {
			if out := mustTool(t, c, uint32(p), "cattdb", "del.tdb"); strings.Contains(out, "soon") {
				t.Errorf("%s: node %d holds the deleted data:\n%s", when, p, out)
			}
		}
		// readkey leaves an empty record behind, as with ctdbd.
		if out := mustTool(t, c, 1, "readkey", "del.tdb", "gone"); out != "Data: size:0 ptr:[]\n" {
			t.Errorf("%s: deleted record reads %q", when, out)
		}
		if out := mustTool(t, c, 0, "readkey", "del.tdb", "kept"); out != "Data: size:3 ptr:[yes]\n" {
			t.Errorf("%s: kept record reads %q", when, out)
		}
	}
	check("after vacuuming")
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "node 1 back", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: 0, 2: 0})
		return err
	})
	check("after restarting node 1")
}

// TestDeletedRecordStaysDeletedAfterStopContinue: node 1 holds a record
// when it is stopped; the record is deleted and vacuumed away on the
// others; when node 1 continues, its copy does not come back.
func TestDeletedRecordStaysDeletedAfterStopContinue(t *testing.T) {
	c := cluster(t, 3)
	mustTool(t, c, 0, "attach", "stopdel.tdb")
	mustTool(t, c, 1, "writekey", "stopdel.tdb", "gone", "soon")
	mustTool(t, c, 1, "stop")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitNodesOK(ctx, []uint32{0, 2}, []uint32{0, 2}); err != nil {
		t.Fatal(err)
	}
	// The stop's recovery kept node 1's record for the others.
	if out := mustTool(t, c, 2, "readkey", "stopdel.tdb", "gone"); out != "Data: size:4 ptr:[soon]\n" {
		t.Fatalf("record of the stopped node: %q", out)
	}
	mustTool(t, c, 2, "deletekey", "stopdel.tdb", "gone")
	vacuumUntilGoneOn(t, c, []uint32{0, 2}, "stopdel.tdb", "gone")
	mustTool(t, c, 1, "continue")
	if err := c.WaitNodesOK(ctx, []uint32{0, 1, 2}, []uint32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	for p := range c.Nodes {
		if out := mustTool(t, c, uint32(p), "cattdb", "stopdel.tdb"); strings.Contains(out, "soon") {
			t.Errorf("node %d holds the deleted data after node 1 continued:\n%s", p, out)
		}
	}
	if out := mustTool(t, c, 1, "readkey", "stopdel.tdb", "gone"); out != "Data: size:0 ptr:[]\n" {
		t.Errorf("deleted record reads %q through the continued node", out)
	}
}

func TestRealToolVolatileCommands(t *testing.T) {
	c := cluster(t, 3)
	if out := mustTool(t, c, 0, "attach", "sample_volatile.tdb"); out != "" {
		t.Errorf("attach printed %q", out)
	}
	mustTool(t, c, 1, "attach", "sample_volatile.tdb")
	id := protocol.DBID("sample_volatile.tdb")
	wantMap := fmt.Sprintf("Number of databases:1\ndbid:0x%08x name:sample_volatile.tdb path:%s\n", id,
		c.Nodes[2].Dir+"/volatile/sample_volatile.tdb.2")
	if got := mustTool(t, c, 2, "getdbmap"); got != wantMap {
		t.Errorf("getdbmap:\n%s\nwant:\n%s", got, wantMap)
	}
	mustTool(t, c, 0, "writekey", "sample_volatile.tdb", "vkey1", "vvalue1")
	if got := mustTool(t, c, 2, "readkey", "sample_volatile.tdb", "vkey1"); got != "Data: size:7 ptr:[vvalue1]\n" {
		t.Errorf("readkey: %q", got)
	}
	mustTool(t, c, 1, "writekey", "sample_volatile.tdb", "vkey2", "vvalue2")
	catdb := mustTool(t, c, 2, "catdb", "sample_volatile.tdb")
	re := regexp.MustCompile(`key\(5\) = "vkey\d"\ndmaster: \d\nrsn: \d+\nflags: 0x[0-9a-f]{8}[A-Z_ ]*\ndata\(7\) = "vvalue\d"\n\n`)
	if n := len(re.FindAllString(catdb, -1)); n != 2 || !strings.HasSuffix(catdb, "Dumped 2 records\n") {
		t.Errorf("catdb:\n%s", catdb)
	}
	if got := mustTool(t, c, 0, "getdbseqnum", "sample_volatile.tdb"); got != "0x0\n" {
		t.Errorf("getdbseqnum: %q", got)
	}
	stats := mustTool(t, c, 0, "dbstatistics", "sample_volatile.tdb")
	if !strings.HasPrefix(stats, "DB Statistics sample_volatile.tdb\n db_ro_delegations") || !strings.Contains(stats, " Num Hot Keys:     10\n") {
		t.Errorf("dbstatistics:\n%s", stats)
	}
	if out := mustTool(t, c, 0, "catdb", "sample_volatile.tdb"); !strings.HasSuffix(out, "Dumped 2 records\n") {
		t.Errorf("catdb on node 0:\n%s", out)
	}
	mustTool(t, c, 2, "wipedb", "sample_volatile.tdb")
	if out := mustTool(t, c, 1, "catdb", "sample_volatile.tdb"); out != "Dumped 0 records\n" {
		t.Errorf("catdb after wipedb: %q", out)
	}
}

// TestTraverseManyRecords: a traverse across the cluster returns every
// record once, without holding the database for its duration.
func TestTraverseManyRecords(t *testing.T) {
	c := cluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const n = 3000
	dbs := []*client.DB{attachDB(t, c, 0, "trav.tdb"), attachDB(t, c, 1, "trav.tdb"), attachDB(t, c, 2, "trav.tdb")}
	for i := 0; i < n; i++ {
		rec, err := dbs[i%3].FetchLock(ctx, []byte(fmt.Sprintf("rec-%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		rec.Store([]byte(fmt.Sprintf("value-%d", i)))
	}
	start := time.Now()
	seen := map[string]bool{}
	err := connect(t, c, 1).Traverse(ctx, protocol.DBID("trav.tdb"), false, func(k []byte, h protocol.LtdbHeader, d []byte) bool {
		if seen[string(k)] {
			t.Errorf("%q twice", k)
		}
		seen[string(k)] = true
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("traverse of %d records across 3 nodes took %v", n, time.Since(start).Round(time.Millisecond))
	if len(seen) != n {
		t.Fatalf("traverse saw %d records, want %d", len(seen), n)
	}

	// Walks of more than a batch (1 MiB) pause for the coordinator's
	// client between batches, over the node links.
	const more = 30_000
	for _, d := range dbs {
		d.Close() // libtdb opens a file once per process
	}
	fillVolatile(t, c, 0, "trav.tdb", n, more)
	fillVolatile(t, c, 2, "trav.tdb", n+more, more)
	start = time.Now()
	count := 0
	err = connect(t, c, 1).Traverse(ctx, protocol.DBID("trav.tdb"), false, func([]byte, protocol.LtdbHeader, []byte) bool {
		count++
		return true
	})
	if err != nil || count != n+2*more {
		t.Fatalf("the traverse saw %d records (%v), want %d", count, err, n+2*more)
	}
	t.Logf("traverse of %d records, paced in batches, took %v", count, time.Since(start).Round(time.Millisecond))

	// A recovery keeps every record (the leader ends up dmaster of all).
	mustTool(t, c, 2, "recover")
	count = 0
	err = connect(t, c, 0).Traverse(ctx, protocol.DBID("trav.tdb"), false, func([]byte, protocol.LtdbHeader, []byte) bool {
		count++
		return true
	})
	if err != nil || count != n+2*more {
		t.Fatalf("after a recovery the traverse saw %d records (%v), want %d", count, err, n+2*more)
	}
	up := mustTool(t, c, 0, "uptime")
	t.Logf("recovery of %d records: %s", n+2*more, up[strings.LastIndex(up, "Duration"):])
}
