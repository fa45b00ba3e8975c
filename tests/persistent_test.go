package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/localcluster"
)

// Persistent databases through Debian's ctdb tool: its pstore, ptrans and
// pdelete take the client library's g_lock on g_lock.tdb and send
// TRANS3_COMMIT; backupdb, wipedb and restoredb freeze, wipe and push.

const pdb = "sample_persistent.tdb"

// tdbdump returns node pnn's file of a persistent database as tdbdump
// prints it. Every node writes the same records with the same headers, so
// the dumps of all nodes must be equal.
func tdbdump(t *testing.T, c *localcluster.Cluster, pnn uint32, name string) string {
	t.Helper()
	path := filepath.Join(c.Nodes[pnn].Dir, "persistent", fmt.Sprintf("%s.%d", name, pnn))
	out, err := exec.Command("tdbdump", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tdbdump %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// sameOnAllNodes requires equal dumps everywhere and returns node 0's.
func sameOnAllNodes(t *testing.T, c *localcluster.Cluster, name string) string {
	t.Helper()
	want := tdbdump(t, c, 0, name)
	for p := range c.Nodes[1:] {
		if got := tdbdump(t, c, uint32(p+1), name); got != want {
			t.Fatalf("node %d's %s differs from node 0's:\n%s\nnode 0:\n%s", p+1, name, got, want)
		}
	}
	return want
}

func TestPersistentRealTool(t *testing.T) {
	c := cluster(t, 3)
	mustTool(t, c, 0, "attach", pdb, "persistent")
	if out := mustTool(t, c, 0, "getdbmap"); !strings.Contains(out, "name:"+pdb+" path:"+filepath.Join(c.Nodes[0].Dir, "persistent", pdb+".0")+" PERSISTENT") {
		t.Fatalf("getdbmap:\n%s", out)
	}
	start := time.Now()
	mustTool(t, c, 0, "pstore", pdb, "key1", "value1")
	t.Logf("pstore through node 0 took %v", time.Since(start).Round(time.Microsecond))
	// Right after pstore returns, every node has the value.
	for p := uint32(0); p < 3; p++ {
		if out := mustTool(t, c, p, "pfetch", pdb, "key1"); out != "value1\n" {
			t.Fatalf("pfetch through node %d right after pstore: %q", p, out)
		}
	}
	if out := mustTool(t, c, 1, "pfetch", pdb, "no-such-key"); out != "\n" {
		t.Fatalf("pfetch of a missing key: %q", out)
	}
	ptrans := exec.Command(realCtdb(t), "ptrans", pdb)
	ptrans.Env = append(ptrans.Environ(), "CTDB_SOCKET="+c.Nodes[1].Socket)
	ptrans.Stdin = strings.NewReader("\"key2\" \"value2\"\n\"key3\" \"value with spaces\"\n\"key1\" \"value1-updated-by-ptrans\"\n")
	if out, err := ptrans.CombinedOutput(); err != nil {
		t.Fatalf("ptrans: %v\n%s", err, out)
	}
	mustTool(t, c, 1, "pdelete", pdb, "key2")
	for p := uint32(0); p < 3; p++ {
		if out := mustTool(t, c, p, "getdbseqnum", pdb); out != "0x3\n" {
			t.Fatalf("getdbseqnum through node %d: %q", p, out)
		}
	}
	// The records, headers included, as ctdb 4.17 shows them after the
	// same steps (reference/ctdb-4.17-output/samples-persistent.txt).
	want := referenceSection(t, "samples-persistent.txt", "ctdb-node.sh 0 catdb sample_persistent.tdb")
	if got := mustTool(t, c, 0, "catdb", pdb); got != want {
		t.Fatalf("catdb:\n%s\nwant:\n%s", got, want)
	}
	before := sameOnAllNodes(t, c, pdb)

	backup := filepath.Join(t.TempDir(), "p.backup")
	if out := mustTool(t, c, 0, "backupdb", pdb, backup); out != "Database backed up to "+backup+"\n" {
		t.Fatalf("backupdb: %q", out)
	}
	if out := mustTool(t, c, 2, "wipedb", pdb); out != "Database "+pdb+" wiped\n" {
		t.Fatalf("wipedb: %q", out)
	}
	if out := mustTool(t, c, 1, "catdb", pdb); out != "Dumped 0 records\n" {
		t.Fatalf("catdb after wipedb: %q", out)
	}
	sameOnAllNodes(t, c, pdb)
	if out := mustTool(t, c, 1, "restoredb", backup); !strings.HasSuffix(out, "Database "+pdb+" restored\n") {
		t.Fatalf("restoredb: %q", out)
	}
	if after := sameOnAllNodes(t, c, pdb); after != before {
		t.Fatalf("restored database differs:\n%s\nbefore:\n%s", after, before)
	}
	if _, stderr, rc := tool(t, c, 0, "writekey", pdb, "k", "v"); rc == 0 || stderr != "DB "+pdb+" is not a volatile database\n" {
		t.Fatalf("writekey on a persistent database: rc %d, %q", rc, stderr)
	}

	// A replicated database takes the same path; its files live with the
	// volatile ones.
	mustTool(t, c, 0, "attach", "sample_replicated.tdb", "replicated")
	mustTool(t, c, 1, "pstore", "sample_replicated.tdb", "rkey", "rvalue")
	if out := mustTool(t, c, 2, "pfetch", "sample_replicated.tdb", "rkey"); out != "rvalue\n" {
		t.Fatalf("pfetch of a replicated record through node 2: %q", out)
	}
	if out := mustTool(t, c, 0, "getdbmap"); !strings.Contains(out, "name:sample_replicated.tdb path:"+filepath.Join(c.Nodes[0].Dir, "volatile", "sample_replicated.tdb.0")+" REPLICATED") {
		t.Fatalf("getdbmap:\n%s", out)
	}
}

// TestPersistentCatchUp: a node that was down while many transactions
// committed (more than Raft keeps in its log, so it gets a snapshot) ends
// with the same file as the others, and so does every node after a
// restart of the whole cluster.
func TestPersistentCatchUp(t *testing.T) {
	c := clusterWith(t, localcluster.Options{N: 3, Extra: "[raft]\n\tsnapshot threshold = 64\n\ttrailing logs = 16\n\tsnapshot interval = 1s\n"})
	mustTool(t, c, 0, "attach", pdb, "persistent")
	mustTool(t, c, 0, "pstore", pdb, "before", "down")
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "node 2 disconnected", func() error {
		out, _, _ := tool(t, c, 0, "nodestatus", "2")
		if !strings.Contains(out, "DISCONNECTED") {
			return fmt.Errorf("%s", out)
		}
		return nil
	})
	var lines strings.Builder
	const n = 150
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "\"key-%d\" \"value-%d\"\n", i%40, i)
		if i%5 == 4 { // 30 transactions of 5 records each
			ptrans := exec.Command(realCtdb(t), "ptrans", pdb)
			ptrans.Env = append(ptrans.Environ(), "CTDB_SOCKET="+c.Nodes[i%2].Socket)
			ptrans.Stdin = strings.NewReader(lines.String())
			if out, err := ptrans.CombinedOutput(); err != nil {
				t.Fatalf("ptrans: %v\n%s", err, out)
			}
			lines.Reset()
		}
	}
	for i := 0; i < 40; i++ { // and more single commits, past the snapshot threshold
		mustTool(t, c, uint32(i%2), "pstore", pdb, fmt.Sprintf("single-%d", i), "x")
	}
	// Both live nodes compact their logs, so node 2 needs a snapshot.
	waitUntil(t, 20*time.Second, "snapshots on nodes 0 and 1", func() error {
		for _, p := range []uint32{0, 1} {
			if m, _ := filepath.Glob(filepath.Join(c.Nodes[p].Dir, "raft", "snapshots", "*", "meta.json")); len(m) == 0 {
				return fmt.Errorf("node %d has no snapshot yet", p)
			}
		}
		return nil
	})
	start := time.Now()
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitNodesOK(ctx, []uint32{0, 1, 2}, []uint32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	t.Logf("node 2 back and OK %v after its restart", time.Since(start).Round(time.Millisecond))
	if out := mustTool(t, c, 2, "pfetch", pdb, "key-39"); out != "value-119\n" {
		t.Fatalf("node 2 after catching up: key-39 = %q", out)
	}
	want := sameOnAllNodes(t, c, pdb)
	if !strings.Contains(want, `key(6) = "before"`) || !strings.Contains(want, `key(9) = "single-39"`) {
		t.Fatalf("dump lacks records:\n%s", want)
	}
	if !strings.Contains(readLog(t, c, 2), "restored persistent databases from snapshot") {
		t.Error("node 2 caught up without a snapshot; the test meant to cover snapshots")
	}

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesOK(ctx, []uint32{0, 1, 2}, []uint32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := sameOnAllNodes(t, c, pdb); got != want {
		t.Fatalf("after a restart of every node:\n%s\nbefore:\n%s", got, want)
	}
}

func readLog(t *testing.T, c *localcluster.Cluster, pnn uint32) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Nodes[pnn].Dir, "log.ctdb"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOurToolPersistentCommands: our ctdb's persistent commands against
// rctdb, checked with Debian's: what one writes the other reads, and a
// backup made by ours restores with theirs.
func TestOurToolPersistentCommands(t *testing.T) {
	c := cluster(t, 3)
	ours := func(pnn uint32, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "ctdb"), args...)
		cmd.Env = append(cmd.Environ(), "CTDB_SOCKET="+c.Nodes[pnn].Socket)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("our ctdb %v through node %d: %v\n%s", args, pnn, err, out)
		}
		return string(out)
	}
	ours(0, "", "attach", pdb, "persistent")
	ours(0, "", "pstore", pdb, "key1", "value1")
	if out := mustTool(t, c, 2, "pfetch", pdb, "key1"); out != "value1\n" {
		t.Fatalf("Debian's pfetch after our pstore: %q", out)
	}
	mustTool(t, c, 1, "pstore", pdb, "key2", "value2")
	if out := ours(0, "", "pfetch", pdb, "key2"); out != "value2\n" {
		t.Fatalf("our pfetch after Debian's pstore: %q", out)
	}
	ours(1, "\"key3\" \"value with spaces\"\n\"key1\" \"updated\"\n", "ptrans", pdb)
	ours(2, "", "pdelete", pdb, "key2")
	want := mustTool(t, c, 0, "catdb", pdb)
	if got := ours(1, "", "catdb", pdb); got != want {
		t.Fatalf("our catdb:\n%s\nDebian's:\n%s", got, want)
	}
	before := sameOnAllNodes(t, c, pdb)
	backup := filepath.Join(t.TempDir(), "ours.backup")
	ours(0, "", "backupdb", pdb, backup)
	ours(2, "", "wipedb", pdb)
	mustTool(t, c, 1, "restoredb", backup)
	if after := sameOnAllNodes(t, c, pdb); after != before {
		t.Fatalf("Debian's restore of our backup differs:\n%s\nbefore:\n%s", after, before)
	}
}
