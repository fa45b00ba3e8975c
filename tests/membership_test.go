package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// reloadnodes runs Debian's `ctdb reloadnodes` on node pnn, reading the
// cluster's nodes file as the tool does ($CTDB_BASE/nodes).
func reloadnodes(t *testing.T, c *localcluster.Cluster, pnn uint32) (stdout, stderr string, rc int) {
	t.Helper()
	return reloadnodesWith(t, realCtdb(t), c, pnn)
}

// reloadnodesWith is reloadnodes with the given ctdb binary.
func reloadnodesWith(t *testing.T, bin string, c *localcluster.Cluster, pnn uint32) (stdout, stderr string, rc int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "reloadnodes")
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+c.Nodes[pnn].Socket, "CTDB_BASE="+c.Base)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ctdb reloadnodes: %v", err)
		}
		rc = ee.ExitCode()
	}
	return out.String(), errb.String(), rc
}

// logHas waits until node pnn's log contains want.
func logHas(t *testing.T, c *localcluster.Cluster, pnn uint32, want string) {
	t.Helper()
	waitUntil(t, 20*time.Second, fmt.Sprintf("node %d to log %q", pnn, want), func() error {
		b, err := os.ReadFile(filepath.Join(c.Nodes[pnn].Dir, "log.ctdb"))
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(want)) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

// vnnSize is the vnn map size node pnn reports.
func vnnSize(c *localcluster.Cluster, pnn uint32) (int, error) {
	v, err := observe(c, pnn)
	if err != nil {
		return 0, err
	}
	ok := 0
	for _, f := range v.Flags {
		if f&protocol.NodeFlagsInactive == 0 {
			ok++
		}
	}
	return ok, nil
}

// TestAddAndRemoveNodeUnderLoad: a fourth node is added to a running
// 3-node cluster and removed again while workers on the first three nodes
// increment counters of a volatile database, with Debian's ctdb tool
// (`reloadnodes`) as the administrator's interface. The new node is
// started before the reload: it must wait to be added, not form a cluster
// of its own. No worker fails and no increment is lost; a removed node
// that comes back with its old state and an old nodes file is refused by
// every member and never serves again.
func TestAddAndRemoveNodeUnderLoad(t *testing.T) {
	c := cluster(t, 3)
	const db = "membership.tdb"
	attachDB(t, c, 0, db).Close()
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	// The load runs until the node is removed (stop), 60 s at the most.
	stop := filepath.Join(t.TempDir(), "stop")
	var envs []map[string]string
	for p := 0; p < 3; p++ {
		for w := 0; w < 2; w++ {
			envs = append(envs, map[string]string{
				"RCTDB_WORKER": "increment", "RCTDB_SOCKET": c.Nodes[p].Socket, "RCTDB_DB": db,
				"RCTDB_KEYS": strings.Join(keys, ","), "RCTDB_DURATION": "60s", "RCTDB_STOP": stop,
			})
		}
	}
	type outcome struct {
		res []workerResult
		err error
		end time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := runWorkers(envs)
		done <- outcome{res, err, time.Now()}
	}()

	// The administrator adds a line for the new node and starts it; its
	// peers refuse it until the reload, so it waits to be added.
	pnn, err := c.AddNode()
	if err != nil {
		t.Fatal(err)
	}
	if pnn != 3 {
		t.Fatalf("new node got pnn %d", pnn)
	}
	oldNodes := filepath.Join(c.Nodes[3].Dir, "nodes.at-join")
	b, err := os.ReadFile(filepath.Join(c.Base, "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldNodes, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(3); err != nil {
		t.Fatal(err)
	}
	logHas(t, c, 3, "the cluster is already formed; waiting for its leader to add this node")

	added := time.Now()
	out, errs, rc := reloadnodes(t, c, 0)
	if rc != 0 || out != "Node 3 is NEW\n" {
		t.Fatalf("reloadnodes (add): rc=%d stdout=%q stderr=%q", rc, out, errs)
	}
	all := []uint32{0, 1, 2, 3}
	took := waitUntil(t, 30*time.Second, "4 nodes OK with a vnn map of 4", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.WaitNodesOK(ctx, all, all); err != nil {
			return err
		}
		for _, p := range all {
			vm := mustTool(t, c, p, "status")
			if !strings.Contains(vm, "Size:4\n") {
				return fmt.Errorf("node %d: %s", p, vm)
			}
		}
		return nil
	})
	t.Logf("node 3 OK everywhere %v after reloadnodes", took.Round(time.Millisecond))
	logHas(t, c, 3, "joined the cluster's raft group")
	if strings.Contains(readLog(t, c, 3), "bootstrapped the raft group") {
		t.Fatal("the added node bootstrapped a raft group of its own")
	}
	// It serves records: one migrates to it and back.
	readCounter(t, c, 3, db, "k0")
	ours := filepath.Join(binDir, "ctdb")
	sameAsDebian := func(what string) (string, string, int) {
		t.Helper()
		o1, e1, rc1 := reloadnodes(t, c, 2)
		o2, e2, rc2 := reloadnodesWith(t, ours, c, 2)
		if o1 != o2 || e1 != e2 || rc1 != rc2 {
			t.Fatalf("reloadnodes %s: Debian's tool: rc=%d %q %q; ours: rc=%d %q %q", what, rc1, o1, e1, rc2, o2, e2)
		}
		return o1, e1, rc1
	}
	if _, errs, rc := sameAsDebian("without a change"); rc != 0 || errs != "No change in nodes file, skipping unnecessary reload\n" {
		t.Fatalf("reloadnodes without a change: rc=%d stderr=%q", rc, errs)
	}

	// A node that is still running cannot be removed.
	if err := c.RemoveNodeLine(3); err != nil {
		t.Fatal(err)
	}
	out, errs, rc = sameAsDebian("removing a connected node")
	if rc == 0 || !strings.Contains(errs, "ERROR: Node 3 is still connected") {
		t.Fatalf("reloadnodes removing a connected node: rc=%d stdout=%q stderr=%q", rc, out, errs)
	}
	if err := c.Stop(3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "node 3 disconnected", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{3: protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy})
		return err
	})
	out, errs, rc = reloadnodesWith(t, ours, c, 1) // our tool does the removal
	if rc != 0 || out != "Node 3 is DELETED\n" {
		t.Fatalf("reloadnodes (remove): rc=%d stdout=%q stderr=%q", rc, out, errs)
	}
	waitUntil(t, 20*time.Second, "node 3 deleted everywhere", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{3: protocol.NodeFlagDeleted | protocol.NodeFlagDisconnected})
		return err
	})
	removed := time.Now()

	// Un-deleting is refused: a removed pnn never returns. (A member that
	// installs the removal after the edit finds its file behind the
	// cluster and restores the '#', so the edit is repeated until the tool
	// sees it.)
	nodesFile := filepath.Join(c.Base, "nodes")
	cur, _ := os.ReadFile(nodesFile)
	undeleted := strings.Replace(string(cur), "#"+c.Nodes[3].Addr, c.Nodes[3].Addr, 1)
	waitUntil(t, 10*time.Second, "reloadnodes to refuse un-deleting node 3", func() error {
		if err := os.WriteFile(nodesFile, []byte(undeleted), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs, _ := reloadnodes(t, c, 0)
		if !strings.Contains(out, "Node 3 is UNDELETED") || !strings.Contains(errs, "failed to reload nodes") {
			return fmt.Errorf("stdout=%q stderr=%q", out, errs)
		}
		return nil
	})
	if err := os.WriteFile(nodesFile, cur, 0o644); err != nil {
		t.Fatal(err)
	}

	// The removed node comes back with its old state and the nodes file it
	// joined with: every member refuses it.
	conf, err := os.ReadFile(c.Nodes[3].Config)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "nodes file = "+nodesFile, "nodes file = "+oldNodes, 1))
	if err := os.WriteFile(c.Nodes[3].Config, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(3); err != nil {
		t.Fatal(err)
	}
	logHas(t, c, 3, "pnn 3 is not a peer of node")

	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("a worker failed: %v", o.err)
	}
	if o.end.Before(removed) {
		t.Fatalf("the load ended before the node was removed (%v early)", removed.Sub(o.end))
	}
	total := checkCounters(t, c, db, keys, o.res)
	clustertest.WaitAgreed(t, c, clustertest.Want{Observers: others(3), Flags: map[uint32]uint32{0: 0, 1: 0, 2: 0, 3: protocol.NodeFlagDeleted | protocol.NodeFlagDisconnected}})
	for _, p := range others(3) {
		if n, err := vnnSize(c, p); err != nil || n != 3 {
			t.Fatalf("node %d: %d active nodes, %v", p, n, err)
		}
	}
	t.Logf("added and removed node 3 within %v under load: %d increments by 6 workers, none lost, none failed",
		removed.Sub(added).Round(time.Millisecond), total)
}

// TestNodeDownDuringReloadCatchesUp: node 2 is down, with a nodes file of
// its own, while a fourth node is added. When it starts again with its old
// file, it takes the node list from the cluster: it connects to the new
// node and its nodes file is rewritten to match.
func TestNodeDownDuringReloadCatchesUp(t *testing.T) {
	c := cluster(t, 3)
	if err := c.Stop(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(c.Nodes[2].Dir, "nodes")
	shared := filepath.Join(c.Base, "nodes")
	b, err := os.ReadFile(shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, b, 0o644); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(c.Nodes[2].Config)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "nodes file = "+shared, "nodes file = "+own, 1))
	if err := os.WriteFile(c.Nodes[2].Config, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "node 2 disconnected", func() error {
		_, err := agreed(c, []uint32{0, 1}, map[uint32]uint32{2: protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy})
		return err
	})
	if _, err := c.AddNode(); err != nil {
		t.Fatal(err)
	}
	if out, errs, rc := reloadnodes(t, c, 0); rc != 0 || out != "Node 3 is NEW\n" {
		t.Fatalf("reloadnodes: rc=%d stdout=%q stderr=%q", rc, out, errs)
	}
	if err := c.StartNode(3); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(2); err != nil {
		t.Fatal(err)
	}
	all := []uint32{0, 1, 2, 3}
	took := waitUntil(t, 30*time.Second, "all 4 nodes OK everywhere", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.WaitNodesOK(ctx, all, all)
	})
	got, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(shared)
	if string(got) != string(want) {
		t.Fatalf("node 2's nodes file:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("node 2 came back with a 3-node file, reached the added node 3 and rewrote its file; all OK after %v", took.Round(time.Millisecond))
}
