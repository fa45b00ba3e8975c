package tests

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// referenceSection returns the output the real tool printed for command in
// the reference captures (without the "[rc=N]" line). The captures are kept
// in cmd/ctdb/testdata, whose tests check them against the shared reference.
func referenceSection(t *testing.T, file, command string) string {
	t.Helper()
	b, err := os.ReadFile("../cmd/ctdb/testdata/" + file)
	if err != nil {
		t.Fatalf("reference captures: %v", err)
	}
	s := string(b)
	i := strings.Index(s, "$ "+command+"\n")
	if i < 0 {
		t.Fatalf("no %q in %s", command, file)
	}
	s = s[i+len(command)+3:]
	return s[:strings.Index(s, "[rc=")]
}

// expectedStatus renders what ctdb 4.17's status prints for an all-OK
// cluster, from the reference format.
func expectedStatus(c *localcluster.Cluster, self uint32, flags []string, gen uint32, vnn []uint32, leader uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Number of nodes:%d\n", len(c.Nodes))
	for i, n := range c.Nodes {
		this := ""
		if uint32(i) == self {
			this = " (THIS NODE)"
		}
		fmt.Fprintf(&b, "pnn:%d %-16s %s%s\n", i, n.Addr, flags[i], this)
	}
	fmt.Fprintf(&b, "Generation:%d\nSize:%d\n", gen, len(vnn))
	for i, p := range vnn {
		fmt.Fprintf(&b, "hash:%d lmaster:%d\n", i, p)
	}
	fmt.Fprintf(&b, "Recovery mode:NORMAL (0)\nLeader:%d\n", leader)
	return b.String()
}

func TestRealToolReadCommands(t *testing.T) {
	c := cluster(t, 3)
	v := clustertest.WaitAgreed(t, c, clustertest.Want{})
	leader := v.Leader
	ok := []string{"OK", "OK", "OK"}
	if got, want := mustTool(t, c, 1, "status"), expectedStatus(c, 1, ok, v.Generation, []uint32{0, 1, 2}, leader); got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
	wantX := "|Node|IP|Disconnected|Unknown|Banned|Disabled|Unhealthy|Stopped|Inactive|PartiallyOnline|ThisNode|\n"
	for i, n := range c.Nodes {
		this := "N"
		if i == 1 {
			this = "Y"
		}
		wantX += fmt.Sprintf("|%d|%s|0|0|0|0|0|0|0|0|%s|\n", i, n.Addr, this)
	}
	if got := mustTool(t, c, 1, "-X", "status"); got != wantX {
		t.Errorf("-X status:\n%s\nwant:\n%s", got, wantX)
	}
	if got := mustTool(t, c, 1, "pnn"); got != "1\n" {
		t.Errorf("pnn: %q", got)
	}
	if got := mustTool(t, c, 0, "leader"); got != fmt.Sprintf("%d\n", leader) {
		t.Errorf("leader: %q, want %d", got, leader)
	}
	if got := mustTool(t, c, 2, "runstate"); got != "RUNNING\n" {
		t.Errorf("runstate: %q", got)
	}
	if got := mustTool(t, c, 2, "getpid"); got != fmt.Sprintf("%d\n", c.Nodes[2].PID) {
		t.Errorf("getpid: %q, want %d", got, c.Nodes[2].PID)
	}
	if got := mustTool(t, c, 0, "getcapabilities"); got != "LEADER: YES\nLMASTER: YES\n" {
		t.Errorf("getcapabilities: %q", got)
	}
	if got := mustTool(t, c, 0, "ping"); !regexp.MustCompile(`^response from 0 time=[0-9]+\.[0-9]{6} sec  \([0-9]+ clients\)\n$`).MatchString(got) {
		t.Errorf("ping: %q", got)
	}
	up := regexp.MustCompile(`^Current time of node 2        :                \w{3} \w{3} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n` +
		`Ctdbd start time              : \(\d{3} \d\d:\d\d:\d\d\) \w{3} \w{3} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n` +
		`Time of last recovery/failover: \(\d{3} \d\d:\d\d:\d\d\) \w{3} \w{3} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n` +
		`Duration of last recovery/failover: [0-9]+\.[0-9]{6} seconds\n$`)
	if got := mustTool(t, c, 0, "-n", "2", "uptime"); !up.MatchString(got) {
		t.Errorf("uptime -n 2: %q", got)
	}
	// Tunables: every default equals ctdbd 4.17's, so listvars is the
	// reference byte for byte.
	if got, want := mustTool(t, c, 0, "listvars"), referenceSection(t, "samples-formats.txt", "ctdb-node.sh 0 listvars"); got != want {
		t.Errorf("listvars differs from ctdb 4.17's:\n%s", got)
	}
	if got, want := mustTool(t, c, 0, "getvar", "RecoverInterval"), referenceSection(t, "samples-formats.txt", "ctdb-node.sh 0 getvar RecoverInterval"); got != want {
		t.Errorf("getvar: %q want %q", got, want)
	}
	// setvar changes the addressed node only (more in setvar_test.go).
	mustTool(t, c, 0, "setvar", "RecoverInterval", "4")
	for p, want := range []string{"4", "1", "1"} {
		if got := mustTool(t, c, uint32(p), "getvar", "RecoverInterval"); got != "RecoverInterval            = "+want+"\n" {
			t.Errorf("node %d after setvar on node 0: %q", p, got)
		}
	}
	if _, errs, rc := tool(t, c, 0, "getvar", "NoSuchVar"); rc == 0 {
		t.Errorf("getvar of an unknown tunable succeeded: %s", errs)
	}
	stats := mustTool(t, c, 0, "statistics")
	checkStatisticsLayout(t, stats)
	if got := mustTool(t, c, 0, "-X", "statistics"); !strings.HasPrefix(got, "CTDB version|Current time of statistics|") || strings.Count(got, "\n") != 2 {
		t.Errorf("-X statistics: %q", got)
	}
	mustTool(t, c, 0, "statisticsreset")
}

// checkStatisticsLayout compares the tool's statistics with the reference
// line by line, numbers and times aside.
func checkStatisticsLayout(t *testing.T, got string) {
	t.Helper()
	want := referenceSection(t, "samples-formats.txt", "ctdb-node.sh 0 statistics")
	norm := func(s string) []string {
		s = regexp.MustCompile(`\w{3} \w{3} [ 0-9]\d \d\d:\d\d:\d\d \d{4}`).ReplaceAllString(s, "DATE")
		s = regexp.MustCompile(`\(\d{3} \d\d:\d\d:\d\d\)`).ReplaceAllString(s, "(AGE)")
		s = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`).ReplaceAllString(s, "N")
		s = regexp.MustCompile(` +N`).ReplaceAllString(s, " N")
		return strings.Split(s, "\n")
	}
	g, w := norm(got), norm(want)
	if len(g) != len(w) {
		t.Fatalf("statistics has %d lines, ctdb 4.17 prints %d:\n%s", len(g), len(w), got)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("statistics line %d: %q, want %q", i, g[i], w[i])
		}
	}
}

func TestRealToolFlagCommands(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	cases := []struct {
		set, clear string
		flags      uint32
		shown      string
	}{
		{"stop", "continue", protocol.NodeFlagStopped, "STOPPED|INACTIVE"},
		{"disable", "enable", protocol.NodeFlagPermanentlyDisabled, "DISABLED"},
	}
	for _, tc := range cases {
		mustTool(t, c, 2, "-n", "1", tc.set)
		// Answered only once committed and applied on every node.
		clustertest.WaitAgreed(t, c, clustertest.Want{Observers: others(3), Flags: map[uint32]uint32{0: 0, 1: tc.flags, 2: 0}})
		// nodestatus exits with the node's flags, as ctdb 4.17 does.
		if got, _, rc := tool(t, c, 0, "nodestatus", "1"); !strings.Contains(got, tc.shown) || rc != int(tc.flags) {
			t.Errorf("nodestatus after %s: rc=%d %q", tc.set, rc, got)
		}
		mustTool(t, c, 1, tc.clear)
		clustertest.WaitAgreed(t, c, clustertest.Want{})
	}
}

// TestBan: `ctdb ban` on node 1 from node 2 bans it on every node at
// once, `unban` ends it, and a 5 s ban lifts itself after 5 s. Agreement
// is awaited on a long ban, so that a loaded machine's slow polls cannot
// miss a short one.
func TestBan(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	mustTool(t, c, 2, "-n", "1", "ban", "300")
	clustertest.WaitAgreed(t, c, clustertest.Want{Observers: others(3), Flags: map[uint32]uint32{0: 0, 1: protocol.NodeFlagBanned, 2: 0}})
	status := mustTool(t, c, 0, "status")
	if !strings.Contains(status, "pnn:1 "+fmt.Sprintf("%-16s", c.Nodes[1].Addr)+" BANNED|INACTIVE\n") || !strings.Contains(status, "Size:2\n") {
		t.Errorf("status with node 1 banned:\n%s", status)
	}
	// The tool refuses to ban a banned node again.
	if _, errs, _ := tool(t, c, 0, "-n", "1", "ban", "5"); !strings.Contains(errs, "already banned") {
		t.Errorf("second ban: stderr %q", errs)
	}
	// Unban ends a ban early.
	mustTool(t, c, 0, "-n", "1", "unban")
	before := clustertest.WaitAgreed(t, c, clustertest.Want{})

	// A short ban lifts itself, never before its 5 s. The ban and its end
	// each start a new generation: a ban that did not hold leaves the
	// cluster in the old one.
	start := time.Now()
	mustTool(t, c, 2, "-n", "1", "ban", "5")
	returned := time.Since(start)
	d := waitSince(t, start, 30*time.Second, "ban lifted", func() error {
		v, err := clustertest.Agreed(context.Background(), c, clustertest.Want{})
		if err == nil && v.Generation == before.Generation {
			return fmt.Errorf("still generation %#x: the ban has not been seen to hold", v.Generation)
		}
		return err
	})
	t.Logf("ban 5 returned after %v; lifted everywhere after %v", returned.Round(time.Millisecond), d.Round(time.Millisecond))
	if d < 5*time.Second {
		t.Errorf("5 s ban lifted after %v", d)
	}
	clustertest.WaitAgreed(t, c, clustertest.Want{})
}

// TestBanSurvivesWholeClusterRestart: a 300 s ban is in the Raft log, so
// stopping and starting every node does not lift it.
func TestBanSurvivesWholeClusterRestart(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	mustTool(t, c, 0, "-n", "1", "ban", "300")
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Banned since it started, node 1 never ran a monitor event in this
	// run: UNHEALTHY too, as a 4.17 node is until its first monitor.
	waitUntil(t, 20*time.Second, "cluster back with node 1 still banned", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: protocol.NodeFlagBanned | protocol.NodeFlagUnhealthy, 2: 0})
		return err
	})
	cl, err := client.Connect(ctx, c.Nodes[1].Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	bs, err := cl.GetBanState(ctx, protocol.CurrentNode)
	if err != nil || bs.PNN != 1 || bs.Time != 300 {
		t.Fatalf("ban state after restart: %+v %v", bs, err)
	}
	mustTool(t, c, 1, "unban")
	clustertest.WaitAgreed(t, c, clustertest.Want{})
}
