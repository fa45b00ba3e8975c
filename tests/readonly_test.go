package tests

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// cattdbHeader returns the dmaster, rsn and flags Debian's `ctdb cattdb`
// prints for key in node pnn's local copy of db ("" if it has none).
func cattdbHeader(t *testing.T, c *localcluster.Cluster, pnn uint32, db, key string) string {
	t.Helper()
	out := mustTool(t, c, pnn, "cattdb", db)
	re := regexp.MustCompile(`key\(\d+\) = "` + regexp.QuoteMeta(key) + `"\n(dmaster: \d+\nrsn: \d+\nflags: [^\n]*)\n`)
	if m := re.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// TestReadonlyDelegations: Debian's `ctdb setdbreadonly` marks a volatile
// database READONLY on every node (getdbmap, getdbstatus) and is refused
// for a persistent one; read-only fetches on two nodes get copies the
// clients then read locally, marked as ctdbd 4.17 marks them; a write on a
// third node revokes them, and both readers see the write. A recovery
// keeps the flag and leaves no read-only copy behind.
func TestReadonlyDelegations(t *testing.T) {
	c := cluster(t, 3)
	const name = "ro_test.tdb"
	mustTool(t, c, 0, "attach", name)
	if out := mustTool(t, c, 1, "setdbreadonly", name); out != "" {
		t.Errorf("setdbreadonly printed %q", out)
	}
	id := protocol.DBID(name)
	for p := range c.Nodes {
		want := fmt.Sprintf("dbid:0x%08x name:%s path:%s READONLY\n", id, name, c.Nodes[p].Dir+"/volatile/"+name+"."+fmt.Sprint(p))
		waitUntil(t, 10*time.Second, "READONLY in node's getdbmap", func() error {
			if out := mustTool(t, c, uint32(p), "getdbmap"); !strings.Contains(out, want) {
				return fmt.Errorf("node %d getdbmap:\n%s\nwant a line:\n%s", p, out, want)
			}
			return nil
		})
	}
	if out := mustTool(t, c, 2, "getdbstatus", name); !strings.Contains(out, "\nSTICKY: no\nREADONLY: yes\nHEALTH: OK\n") {
		t.Errorf("getdbstatus:\n%s", out)
	}
	// Persistent databases: the tool refuses before asking, and so does
	// the daemon when asked.
	mustTool(t, c, 0, "attach", "ro_persistent.tdb", "persistent")
	if out, errs, rc := tool(t, c, 0, "setdbreadonly", "ro_persistent.tdb"); rc != 1 || errs != "READONLY can be set only on volatile DB\n" {
		t.Errorf("setdbreadonly on a persistent database: rc=%d %q %q", rc, out, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := connect(t, c, 1).Control(ctx, 1, protocol.ControlSetDBReadonly, 0, 0, protocol.U32(protocol.DBID("ro_persistent.tdb")))
	if err != nil || rep.Status != -1 {
		t.Errorf("SET_DB_READONLY on a persistent database: %+v %v", rep, err)
	}
	key := []byte("shared")
	writer := attachDB(t, c, 0, name)
	rec, err := writer.FetchLock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Store([]byte("v1")); err != nil {
		t.Fatal(err)
	}
	readers := map[uint32]*client.DB{1: attachDB(t, c, 1, name), 2: attachDB(t, c, 2, name)}
	for p, r := range readers {
		for i, wantLocal := range []bool{false, true} {
			data, ok, local, err := r.FetchReadonly(ctx, key)
			if err != nil || !ok || string(data) != "v1" || local != wantLocal {
				t.Fatalf("read %d on node %d: %q %v local=%v %v", i, p, data, ok, local, err)
			}
		}
		if h := cattdbHeader(t, c, p, name, string(key)); !strings.HasPrefix(h, "dmaster: 0\n") || !strings.HasSuffix(h, "flags: 0x02000000 RO_HAVE_READONLY") {
			t.Errorf("node %d's copy:\n%s", p, h)
		}
	}
	if h := cattdbHeader(t, c, 0, name, string(key)); !strings.HasSuffix(h, "flags: 0x01000000 RO_HAVE_DELEGATIONS") {
		t.Errorf("dmaster's record:\n%s", h)
	}
	if out := mustTool(t, c, 0, "dbstatistics", name); !regexp.MustCompile(`db_ro_delegations\s+2\n`).MatchString(out) {
		t.Errorf("dbstatistics on the dmaster:\n%s", out)
	}

	// The write on node 0 (the third node) revokes both copies first.
	rec, err = writer.FetchLock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for p := range readers {
		if h := cattdbHeader(t, c, p, name, string(key)); strings.Contains(h, "RO_") {
			t.Errorf("node %d still holds a read-only copy while node 0 writes:\n%s", p, h)
		}
	}
	if err := rec.Store([]byte("v2")); err != nil {
		t.Fatal(err)
	}
	for p, r := range readers {
		if data, ok, _, err := r.FetchReadonly(ctx, key); err != nil || !ok || string(data) != "v2" {
			t.Fatalf("node %d reads %q %v %v after the write, want v2", p, data, ok, err)
		}
	}
	// Debian's tool asks for a read-only copy too (readkey ... readonly).
	if out := mustTool(t, c, 1, "readkey", name, string(key), "readonly"); out != "Data: size:2 ptr:[v2]\n" {
		t.Errorf("readkey readonly: %q", out)
	}

	mustTool(t, c, 2, "recover")
	waitUntil(t, 30*time.Second, "no read-only copy after the recovery", func() error {
		for p := range c.Nodes {
			if h := cattdbHeader(t, c, uint32(p), name, string(key)); strings.Contains(h, "RO_") {
				return fmt.Errorf("node %d after the recovery:\n%s", p, h)
			}
		}
		return nil
	})
	if out := mustTool(t, c, 2, "getdbmap"); !strings.Contains(out, name+" path:"+c.Nodes[2].Dir+"/volatile/"+name+".2 READONLY\n") {
		t.Errorf("getdbmap after the recovery:\n%s", out)
	}
}

// TestReadonlyWithSambaDbwrap: Samba's own client (dbwrap_tool with
// dbwrap_optimize_readonly) marks the database READONLY on every node
// when it attaches, reads through read-only copies once a node holds a
// copy of the record, and every read after a write sees the write.
func TestReadonlyWithSambaDbwrap(t *testing.T) {
	c := cluster(t, 3)
	const db, key = "rctdbtest.tdb", `counter\00` // as cattdb prints it
	confs := []string{sambaConf(t, c, 0), sambaConf(t, c, 1), sambaConf(t, c, 2)}
	run := func(p int, args ...string) string {
		t.Helper()
		out, err := dbwrap(t, confs[p], append([]string{"--option=dbwrap_optimize_readonly:*=yes"}, args...)...)
		if err != nil {
			t.Fatalf("dbwrap_tool %v through node %d: %v\n%s", args, p, err, out)
		}
		return out
	}
	run(0, "store", "counter", "int32", "42")
	if out := mustTool(t, c, 2, "getdbmap"); !strings.Contains(out, "name:"+db+" path:"+c.Nodes[2].Dir+"/volatile/"+db+".2 READONLY\n") {
		t.Errorf("getdbmap after Samba attached with dbwrap_optimize_readonly:\n%s", out)
	}
	for round, v := range []string{"42", "43", "44"} {
		if round > 0 {
			run(0, "store", "counter", "int32", v)
		}
		// The first read of a node without a copy migrates the record
		// (Samba asks for a read-only copy only when it holds one); the
		// second finds a copy and asks for a read-only one.
		for _, p := range []int{1, 2, 1, 2} {
			if got := run(p, "fetch", "counter", "int32"); got != v+"\n" {
				t.Fatalf("round %d: fetch through node %d: %q, want %s", round, p, got, v)
			}
		}
		if round == 0 {
			continue
		}
		for _, p := range []uint32{1, 2} {
			if h := cattdbHeader(t, c, p, db, key); !strings.Contains(h, " RO_HAVE_READONLY") || !strings.HasPrefix(h, "dmaster: 0\n") {
				t.Errorf("round %d: node %d's copy:\n%s", round, p, h)
			}
		}
		if h := cattdbHeader(t, c, 0, db, key); !strings.Contains(h, " RO_HAVE_DELEGATIONS") {
			t.Errorf("round %d: node 0's record:\n%s", round, h)
		}
	}
}
