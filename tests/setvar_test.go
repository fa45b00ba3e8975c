package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// runCtdb runs a ctdb tool (Debian's or ours, by path) against node pnn.
func runCtdb(t *testing.T, bin string, c *localcluster.Cluster, pnn uint32, args ...string) toolResult {
	t.Helper()
	tp := &toolPair{ic: &ipCluster{Cluster: c}}
	return tp.exec(t, bin, int(pnn), "", args...)
}

// setEveryNode sets a tunable on every node with Debian's tool, a setvar
// per node, as with ctdbd 4.17.
func setEveryNode(t *testing.T, c *localcluster.Cluster, name, value string) {
	t.Helper()
	for p := range c.Nodes {
		mustTool(t, c, 0, "-n", fmt.Sprint(p), "setvar", name, value)
	}
}

// getvarLine is what 4.17's getvar prints.
func getvarLine(name string, v uint32) string { return fmt.Sprintf("%-26s = %d\n", name, v) }

// wantTunable checks, through Debian's tool on node 0, every node's value.
func wantTunable(t *testing.T, c *localcluster.Cluster, name string, want []uint32) {
	t.Helper()
	for p, v := range want {
		if got := mustTool(t, c, 0, "-n", fmt.Sprint(p), "getvar", name); got != getvarLine(name, v) {
			t.Errorf("node %d: %q, want %q", p, got, getvarLine(name, v))
		}
	}
}

// TestSetvarPerNode: as with ctdbd 4.17, setvar changes the node it
// addresses and no other, and the value outlives that node's restart;
// setting every node takes a setvar per node (4.17's tool has no -n all),
// or our tool's --cluster.
func TestSetvarPerNode(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	def := protocol.DefaultTunableValues().RecoverTimeout
	mustTool(t, c, 0, "-n", "1", "setvar", "RecoverTimeout", "33")
	wantTunable(t, c, "RecoverTimeout", []uint32{def, 33, def})
	if l := mustTool(t, c, 1, "listvars"); !strings.Contains(l, getvarLine("RecoverTimeout", 33)) {
		t.Errorf("node 1's listvars misses its value:\n%s", l)
	}
	if l := mustTool(t, c, 2, "listvars"); !strings.Contains(l, getvarLine("RecoverTimeout", def)) {
		t.Errorf("node 2's listvars has another node's value:\n%s", l)
	}

	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	wantTunable(t, c, "RecoverTimeout", []uint32{def, 33, def})

	// -n all is no node number to 4.17's tool, nor to ours.
	ours := filepath.Join(binDir, "ctdb")
	for _, bin := range []string{realCtdb(t), ours} {
		r := runCtdb(t, bin, c, 0, "-n", "all", "setvar", "RecoverTimeout", "1")
		if r != (toolResult{"", "Invalid option all: invalid numeric value\n", 1}) {
			t.Errorf("%s -n all setvar: %v", bin, r)
		}
	}
	setEveryNode(t, c, "RecoverInterval", "4")
	wantTunable(t, c, "RecoverInterval", []uint32{4, 4, 4})

	// Our tool's --cluster sets every node, node 1's own value included.
	if r := runCtdb(t, ours, c, 2, "setvar", "--cluster", "RecoverTimeout", "40"); r.rc != 0 {
		t.Fatalf("setvar --cluster: %v", r)
	}
	wantTunable(t, c, "RecoverTimeout", []uint32{40, 40, 40})

	// An unknown name: the same message and status from both tools.
	for _, bin := range []string{realCtdb(t), ours} {
		r := runCtdb(t, bin, c, 0, "setvar", "NoSuchTunable", "1")
		if r != (toolResult{"No such tunable NoSuchTunable\n", "", 1}) {
			t.Errorf("%s setvar of an unknown tunable: %v", bin, r)
		}
	}
}

// TestDetachChecksEveryNode: 4.17's detach asks every node for its
// AllowClientDBAttach and detaches only once every node says 0; a node's
// value governs that node's own attaches.
func TestDetachChecksEveryNode(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	const db = "setvar_detach.tdb"
	mustTool(t, c, 0, "attach", db)
	refused := func(pnn uint32) toolResult {
		return toolResult{"", fmt.Sprintf("Database access is still active on node %d. Set AllowclientDBAttach=0 on all nodes.\n", pnn), 1}
	}
	if r := runCtdb(t, realCtdb(t), c, 0, "detach", db); r != refused(0) {
		t.Fatalf("detach with AllowClientDBAttach 1 everywhere: %v", r)
	}
	mustTool(t, c, 0, "-n", "0", "setvar", "AllowClientDBAttach", "0")
	mustTool(t, c, 0, "-n", "2", "setvar", "AllowClientDBAttach", "0")
	if r := runCtdb(t, realCtdb(t), c, 0, "detach", db); r != refused(1) {
		t.Fatalf("detach with node 1 at 1: %v", r)
	}
	// Each node's value rules its own clients' attaches.
	if r := runCtdb(t, realCtdb(t), c, 0, "attach", "setvar_other.tdb"); r.rc == 0 {
		t.Errorf("attach on node 0 (AllowClientDBAttach 0) succeeded: %v", r)
	}
	if r := runCtdb(t, realCtdb(t), c, 1, "attach", "setvar_other.tdb"); r.rc != 0 {
		t.Errorf("attach on node 1 (AllowClientDBAttach 1) failed: %v", r)
	}
	mustTool(t, c, 0, "-n", "1", "setvar", "AllowClientDBAttach", "0")
	mustTool(t, c, 0, "detach", db)
	for p := range uint32(3) {
		if m := mustTool(t, c, p, "getdbmap"); strings.Contains(m, db) {
			t.Errorf("node %d still lists %s after the detach:\n%s", p, db, m)
		}
	}
}

// monitorCounter is an event script counting a node's monitor events, one
// line each in $CTDB_BASE/monitors.
var monitorCounter = map[string]string{
	"events/legacy/50.count.script": "#!/bin/sh\n[ \"$1\" = monitor ] && echo m >> \"$CTDB_BASE/monitors\"\nexit 0\n",
}

// TestMonitorIntervalOfOneNode: a node's MonitorInterval paces that
// node's monitor events only. After the first monitor the cadence is 5,
// 10, then 15 s (the default); node 1 set to 1 s runs five monitors while
// the others run at most two.
func TestMonitorIntervalOfOneNode(t *testing.T) {
	c := clusterWith(t, localcluster.Options{N: 3, Prepare: func(pnn uint32, dir string) error {
		return eventstest.LayOut(dir, nil, monitorCounter)
	}})
	monitors := func(p int) int {
		b, _ := os.ReadFile(filepath.Join(c.Nodes[p].Dir, "monitors"))
		return bytes.Count(b, []byte("\n"))
	}
	mustTool(t, c, 0, "-n", "1", "setvar", "MonitorInterval", "1")
	var before [3]int
	for p := range before {
		before[p] = monitors(p)
	}
	d := waitUntil(t, 25*time.Second, "five monitors on node 1", func() error {
		if n := monitors(1) - before[1]; n < 5 {
			return fmt.Errorf("%d monitors", n)
		}
		return nil
	})
	for _, p := range []int{0, 2} {
		if n := monitors(p) - before[p]; n > 2 {
			t.Errorf("node %d ran %d monitors meanwhile (MonitorInterval 15)", p, n)
		}
	}
	t.Logf("node 1 ran five monitors in %v; nodes 0 and 2 %d and %d", d.Round(time.Millisecond), monitors(0)-before[0], monitors(2)-before[2])
}

// TestTunablesFileAtStart: as ctdbd 4.17 does, a node reads
// $CTDB_BASE/ctdb.tunables when it starts and takes its values as its
// own; a bad line is reported with its file and line and the good ones
// still apply; the other nodes keep theirs.
func TestTunablesFileAtStart(t *testing.T) {
	file := "# per-node tunables\nRecoverTimeout = 0x21\n; comment\nNoSuchTunable = 1\nRecoverInterval=4\nMonitorTimeoutCount =\n"
	c := clusterWith(t, localcluster.Options{N: 3, Prepare: func(pnn uint32, dir string) error {
		if pnn != 1 {
			return nil
		}
		return os.WriteFile(filepath.Join(dir, "ctdb.tunables"), []byte(file), 0o644)
	}})
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	def := protocol.DefaultTunableValues()
	waitUntil(t, 20*time.Second, "node 1's values from its ctdb.tunables", func() error {
		if got := mustTool(t, c, 0, "-n", "1", "getvar", "RecoverInterval"); got != getvarLine("RecoverInterval", 4) {
			return fmt.Errorf("node 1: %q", got)
		}
		return nil
	})
	wantTunable(t, c, "RecoverTimeout", []uint32{def.RecoverTimeout, 33, def.RecoverTimeout})
	wantTunable(t, c, "RecoverInterval", []uint32{def.RecoverInterval, 4, def.RecoverInterval})
	wantTunable(t, c, "MonitorTimeoutCount", []uint32{def.MonitorTimeoutCount, def.MonitorTimeoutCount, def.MonitorTimeoutCount})
	log := readLog(t, c, 1)
	for _, want := range []string{`name=NoSuchTunable`, `ctdb.tunables:6: want \"Name = value\"`} {
		if !strings.Contains(log, want) {
			t.Errorf("node 1's log does not report the bad line (%s):\n%s", want, log)
		}
	}
}
