package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// bothTools runs Debian's ctdb and ours with the same arguments against
// node pnn, requires the same output and exit status (of the text each
// keeps: a function that normalises what differs from run to run), and
// returns Debian's.
func bothTools(t *testing.T, c *localcluster.Cluster, pnn uint32, norm func(string) string, args ...string) toolResult {
	t.Helper()
	if norm == nil {
		norm = func(s string) string { return s }
	}
	real := runCtdb(t, realCtdb(t), c, pnn, args...)
	ours := runCtdb(t, filepath.Join(binDir, "ctdb"), c, pnn, args...)
	if norm(real.stdout) != norm(ours.stdout) || real.stderr != ours.stderr || real.rc != ours.rc {
		t.Errorf("ctdb %s on node %d:\nDebian's: rc=%d stdout %q stderr %q\nours:     rc=%d stdout %q stderr %q",
			strings.Join(args, " "), pnn, real.rc, real.stdout, real.stderr, ours.rc, ours.stdout, ours.stderr)
	}
	return real
}

// TestCompatToolCommands: the commands of 4.17's tool surface added for
// issue 14, through Debian's tool and ours, against our daemon: the same
// output and exit status, and the roles' real effect.
func TestCompatToolCommands(t *testing.T) {
	c := cluster(t, 3)
	v := clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// process-exists: this test process as a client of node 1, with a
	// srvid it registered.
	cl, err := client.Connect(ctx, c.Nodes[1].Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const srvid = 0xAB0000000000CDEF
	_, unsub, err := cl.Subscribe(ctx, srvid, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	pid := fmt.Sprint(os.Getpid())
	checks := []struct {
		pnn    uint32
		args   []string
		stdout string
		rc     int
	}{
		{0, []string{"-n", "1", "process-exists", pid}, "PID " + pid + " exists\n", 0},
		{1, []string{"process-exists", pid, "0xAB0000000000CDEF"}, "PID " + pid + " with SRVID 0xab0000000000cdef exists\n", 0},
		{1, []string{"process-exists", pid, "0x1"}, "PID " + pid + " with SRVID 0x1 does not exist\n", 1},
		{2, []string{"process-exists", pid}, "PID " + pid + " does not exist\n", 1},
		{0, []string{"getreclock"}, "", 0},
		{0, []string{"-n", "2", "getreclock"}, "", 0},
		{0, []string{"sync"}, "", 0},
	}
	for _, ch := range checks {
		if r := bothTools(t, c, ch.pnn, nil, ch.args...); r.stdout != ch.stdout || r.rc != ch.rc {
			t.Errorf("ctdb %v on node %d: rc=%d %q, want rc=%d %q", ch.args, ch.pnn, r.rc, r.stdout, ch.rc, ch.stdout)
		}
	}
	// checktcpport: the nodes' port is taken (they listen on it).
	port := fmt.Sprint(c.Port)
	if r := bothTools(t, c, 0, nil, "checktcpport", port); r.rc != 98 || r.stderr != "Failed to bind to TCP port "+port+"\n" {
		t.Errorf("checktcpport %s: %+v", port, r)
	}

	// The memory reports: the numbers change from run to run.
	header := func(s string) string { line, _, _ := strings.Cut(s, " (total "); return line }
	for _, cmd := range []string{"dumpmemory", "rddumpmemory"} {
		r := bothTools(t, c, 0, header, "-n", "2", cmd)
		if !strings.HasPrefix(r.stdout, "full talloc report on 'rctdb ctdbd (Go runtime)' (total ") {
			t.Errorf("%s: %q", cmd, r.stdout)
		}
	}

	// setleaderrole off on the leader: another node leads.
	leader := v.Leader
	bothTools(t, c, leader, nil, "setleaderrole", "off")
	v = clustertest.WaitAgreed(t, c, clustertest.Want{})
	waitUntil(t, 20*time.Second, "a node with the leader capability to lead", func() error {
		v, err = clustertest.Agreed(ctx, c, clustertest.Want{})
		if err == nil && v.Leader == leader {
			err = fmt.Errorf("node %d without the capability still leads", leader)
		}
		return err
	})
	if r := bothTools(t, c, 0, nil, "-n", fmt.Sprint(leader), "getcapabilities"); r.stdout != "LEADER: NO\nLMASTER: YES\n" {
		t.Errorf("capabilities after setleaderrole off: %q", r.stdout)
	}
	bothTools(t, c, leader, nil, "setleaderrole", "on")

	// setlmasterrole off: the node leaves the vnn map; a restart brings
	// the configured capability back (4.17 keeps roles in memory only).
	bothTools(t, c, 0, nil, "-n", "2", "setlmasterrole", "off")
	vnnMap := func(want []uint32) func() error {
		return func() error {
			m, err := cl.GetVNNMap(ctx, protocol.CurrentNode)
			if err == nil && !slices.Equal(m.Map, want) {
				err = fmt.Errorf("vnn map %v, want %v", m.Map, want)
			}
			return err
		}
	}
	waitUntil(t, 20*time.Second, "node 2 out of the vnn map", vnnMap([]uint32{0, 1}))
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	waitUntil(t, 20*time.Second, "node 2 back in the vnn map", vnnMap([]uint32{0, 1, 2}))
	if r := bothTools(t, c, 2, nil, "getcapabilities"); r.stdout != "LEADER: YES\nLMASTER: YES\n" {
		t.Errorf("capabilities after a restart: %q", r.stdout)
	}
}
