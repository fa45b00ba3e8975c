package tests

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// fillVolatile writes n records straight into node pnn's file of a
// volatile database, as records that node holds (dmaster pnn, rsn 1), the
// way smbd writes records it has locked. Returns the file's path.
func fillVolatile(t *testing.T, c *localcluster.Cluster, pnn uint32, db string, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := connect(t, c, pnn)
	d, err := cl.Attach(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := d.Path
	r, err := cl.Control(ctx, protocol.CurrentNode, protocol.ControlDBOpenFlags, 0, 0, protocol.U32(d.ID))
	d.Close()
	if err != nil || r.Status != 0 {
		t.Fatalf("open flags: %v %+v", err, r)
	}
	f, err := tdb.Open(path, 0, int(binary.LittleEndian.Uint32(r.Data)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	h := protocol.LtdbHeader{RSN: 1, DMaster: pnn}
	for i := from; i < from+n; i++ {
		v := h.AppendTo(nil)
		v = binary.LittleEndian.AppendUint64(v, uint64(i))
		v = append(v, "sixteen bytes..."...)
		if err := f.Store([]byte(fmt.Sprintf("record-%08d", i)), v, tdb.Replace); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.TransactionCommit(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryOfManyRecords: node 2 is killed while a volatile database
// holds many records spread over nodes 0 and 1; the time from the kill
// until nodes 0 and 1 serve again (recovery complete, databases thawed) is
// measured, and every record survives. RCTDB_RECOVERY_RECORDS sets the
// count (default 10,000; the note measures 1,000,000).
func TestRecoveryOfManyRecords(t *testing.T) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("RCTDB_RECOVERY_RECORDS")); err == nil && v > 0 {
		n = v
	}
	c := cluster(t, 3)
	const db = "many_records.tdb"
	fillVolatile(t, c, 0, db, 0, n/2)
	fillVolatile(t, c, 1, db, n/2, n-n/2)
	killed := time.Now()
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// First the cluster notices, then it recovers.
	if err := c.WaitFlags(ctx, []uint32{0, 1}, func(m *protocol.NodeMap) error {
		if m.Nodes[2].Flags&protocol.NodeFlagDisconnected == 0 {
			return fmt.Errorf("node 2 not yet disconnected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesOK(ctx, []uint32{0, 1}, []uint32{0, 1}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	up := mustTool(t, c, 0, "uptime")
	_, dur, _ := strings.Cut(up, "Duration of last recovery/failover: ")
	t.Logf("%d records: kill of node 2 to nodes 0 and 1 OK and thawed %v (recovery itself %s)",
		n, took.Round(time.Millisecond), strings.TrimSpace(dur))
	// Every record has one dmaster among the survivors: a traverse of the
	// cluster (catdb) from either finds each key once, with its value.
	for _, p := range []uint32{0, 1} {
		out := mustTool(t, c, p, "catdb", db)
		if !strings.HasSuffix(out, fmt.Sprintf("Dumped %d records\n", n)) {
			t.Fatalf("node %d: catdb ends %q, want %d records", p, out[max(0, len(out)-40):], n)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			if k, ok := strings.CutPrefix(line, "key(15) = "); ok {
				if seen[k] {
					t.Fatalf("node %d: catdb lists %s twice", p, k)
				}
				seen[k] = true
			}
		}
		if len(seen) != n {
			t.Fatalf("node %d: catdb lists %d distinct keys, want %d", p, len(seen), n)
		}
	}
}
