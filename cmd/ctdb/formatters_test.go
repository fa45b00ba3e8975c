package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Golden tests of the pure formatters against the captures, without a
// daemon.

func eq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func TestFormatStatusGolden(t *testing.T) {
	s := loadSamples(t, "samples-formats.txt")
	v := &statusView{
		Nodemap: threeNodes(0, 0, 0), MyPNN: 0, Partially: map[uint32]bool{},
		VNNMap: &protocol.VNNMap{Generation: 35991741, Map: []uint32{0, 1, 2}},
		Leader: 0,
	}
	eq(t, "status", formatStatus(v), s["0 status"].stdout)
	eq(t, "-X status", formatNodemapMachine(v.Nodemap, 0, nil, "|"), s["0 -X status"].stdout)
	one := &protocol.NodeMap{Nodes: v.Nodemap.Nodes[:1]}
	eq(t, "nodestatus", formatNodestatus(one, 0, nil, false, false, "|"), s["0 nodestatus"].stdout)
	eq(t, "nodestatus all", formatNodestatus(v.Nodemap, 0, nil, true, false, "|"), s["0 nodestatus all"].stdout)
	eq(t, "-X nodestatus all", formatNodestatus(v.Nodemap, 0, nil, true, true, "|"), s["0 -X nodestatus all"].stdout)

	d := loadSamples(t, "samples-status-node2-dead.txt")
	dead := threeNodes(0, 0, protocol.NodeFlagDisconnected|protocol.NodeFlagUnhealthy)
	v = &statusView{
		Nodemap: dead, MyPNN: 0,
		VNNMap: &protocol.VNNMap{Generation: 1802212794, Map: []uint32{0, 1}},
	}
	eq(t, "dead status", formatStatus(v), d["0 status"].stdout)
	eq(t, "dead -X status", formatNodemapMachine(dead, 0, nil, "|"), d["0 -X status"].stdout)
	two := &protocol.NodeMap{Nodes: dead.Nodes[2:]}
	eq(t, "nodestatus 2", formatNodestatus(two, 0, nil, false, false, "|"), d["0 nodestatus 2"].stdout)
	eq(t, "-X nodestatus 2", formatNodestatus(two, 0, nil, false, true, "|"), d["0 -X nodestatus 2"].stdout)
	if got := nodestatusCode(two); got != d["0 nodestatus 2"].rc {
		t.Errorf("nodestatus 2 code %d", got)
	}
	if got := nodestatusCode(dead); got != d["0 nodestatus all"].rc {
		t.Errorf("nodestatus all code %d", got)
	}
}

func TestFormatStatusVariants(t *testing.T) {
	nm := threeNodes(0, protocol.NodeFlagBanned, protocol.NodeFlagDeleted)
	nm.Nodes[2].Addr = addr("0.0.0.0")
	v := &statusView{
		Nodemap: nm, MyPNN: 1, Partially: map[uint32]bool{0: true},
		VNNMap:  &protocol.VNNMap{Generation: protocol.InvalidGeneration, Map: []uint32{0, protocol.UnknownPNN}},
		RecMode: 1, Leader: protocol.UnknownPNN,
	}
	eq(t, "status", formatStatus(v), "Number of nodes:3 (including 1 deleted nodes)\n"+
		"pnn:0 127.0.0.1        PARTIALLYONLINE\n"+
		"pnn:1 127.0.0.2        BANNED|INACTIVE (THIS NODE)\n"+
		"Generation:INVALID\nSize:2\nhash:0 lmaster:0\nhash:1 lmaster:-1\n"+
		"Recovery mode:RECOVERY (1)\nLeader:UNKNOWN\n")
	eq(t, "-x , -Y status", formatNodemapMachine(nm, 1, v.Partially, ","),
		",Node,IP,Disconnected,Unknown,Banned,Disabled,Unhealthy,Stopped,Inactive,PartiallyOnline,ThisNode,\n"+
			",0,127.0.0.1,0,0,0,0,0,0,0,1,N,\n"+
			",1,127.0.0.2,0,0,1,0,0,0,1,0,Y,\n")
}

func TestFlagsString(t *testing.T) {
	for flags, want := range map[uint32]string{
		0:    "OK",
		0x01: "DISCONNECTED|INACTIVE",
		0x03: "DISCONNECTED|UNHEALTHY|INACTIVE",
		0x04: "DISABLED",
		0x06: "DISABLED|UNHEALTHY",
		0x08: "BANNED|INACTIVE",
		0x20: "STOPPED|INACTIVE",
		0x40: "UNKNOWN",
		0x7f: "DISCONNECTED|UNKNOWN|DISABLED|BANNED|UNHEALTHY|DELETED|STOPPED|INACTIVE",
	} {
		eq(t, "flags", flagsString(flags), want)
	}
}

func TestWithUnknown(t *testing.T) {
	nm := threeNodes(0, protocol.NodeFlagDisconnected, protocol.NodeFlagBanned)
	nm.Nodes = append(nm.Nodes, protocol.NodeInfo{PNN: 3, Flags: protocol.NodeFlagDeleted})
	got := withUnknown(nm, protocol.RunstateFirstRecovery, 0)
	want := []uint32{0, protocol.NodeFlagDisconnected, protocol.NodeFlagUnknown, protocol.NodeFlagDeleted}
	for i, n := range got.Nodes {
		if n.Flags != want[i] {
			t.Errorf("node %d: flags %#x, want %#x", i, n.Flags, want[i])
		}
	}
	if nm.Nodes[2].Flags != protocol.NodeFlagBanned {
		t.Error("input modified")
	}
	got = withUnknown(nm, protocol.RunstateStartup, 0)
	if got.Nodes[2].Flags != protocol.NodeFlagBanned {
		t.Error("flags hidden after FIRST_RECOVERY")
	}
	if !partiallyOnline([]protocol.Iface{{Name: "a", LinkState: 1}, {Name: "b", LinkState: 0}}) ||
		partiallyOnline([]protocol.Iface{{Name: "a", LinkState: 1}}) || partiallyOnline(nil) {
		t.Error("partiallyOnline")
	}
}

func TestFormatSmallGolden(t *testing.T) {
	s := loadSamples(t, "samples-formats.txt")
	eq(t, "pnn", formatPNN(0), s["0 pnn"].stdout)
	eq(t, "leader", formatLeader(0), s["0 leader"].stdout)
	eq(t, "leader unknown", formatLeader(protocol.UnknownPNN), "UNKNOWN\n")
	eq(t, "getpid", formatPID(1882), s["0 getpid"].stdout)
	eq(t, "getpid negative", formatPID(-1), "4294967295\n")
	eq(t, "ping", formatPing(0, 15*time.Microsecond, 2), s["0 ping"].stdout)
	eq(t, "getcapabilities", formatCapabilities(protocol.CapDefault, false, "|"), s["0 getcapabilities"].stdout)
	eq(t, "-X getcapabilities", formatCapabilities(protocol.CapDefault, true, "|"), s["0 -X getcapabilities"].stdout)
	eq(t, "no capabilities", formatCapabilities(0, false, "|"), "LEADER: NO\nLMASTER: NO\n")
	eq(t, "getvar", formatTunable("RecoverInterval", 1), s["0 getvar RecoverInterval"].stdout)
	eq(t, "-X getvar", formatTunable("KeepaliveInterval", 5), s["0 -X getvar KeepaliveInterval"].stdout)
	vars := tunablesFromSample(s["0 listvars"].stdout)
	if len(vars) != 49 {
		t.Errorf("%d tunables", len(vars))
	}
	eq(t, "listvars", formatListvars(vars), s["0 listvars"].stdout)
	out, code := checkRunstate(protocol.RunstateRunning, nil)
	eq(t, "runstate", out, s["0 runstate"].stdout)
	if code != 0 {
		t.Error("runstate code")
	}
}

func TestCheckRunstate(t *testing.T) {
	for _, c := range []struct {
		rs   protocol.Runstate
		args []string
		out  string
		code int
	}{
		{protocol.RunstateRunning, []string{"startup", "running"}, "RUNNING\n", 0},
		{protocol.RunstateRunning, []string{"STARTUP"}, "CTDB not in required run state (got RUNNING)\n", 1},
		{protocol.RunstateRunning, []string{"FOO", "RUNNING"}, "Invalid run state (FOO)\n", 1},
		{protocol.RunstateRunning, []string{"RUNNING", "FOO"}, "RUNNING\n", 0},
		{protocol.RunstateRunning, []string{"UNKNOWN"}, "Invalid run state (UNKNOWN)\n", 1},
		{protocol.RunstateFirstRecovery, []string{"first_recovery"}, "FIRST_RECOVERY\n", 0},
		{protocol.Runstate(42), nil, "UNKNOWN\n", 0},
	} {
		out, code := checkRunstate(c.rs, c.args)
		if out != c.out || code != c.code {
			t.Errorf("%v %v: %q %d", c.rs, c.args, out, code)
		}
	}
}

func TestFormatUptimeGolden(t *testing.T) {
	s := loadSamples(t, "samples-formats.txt")
	eq(t, "uptime", formatUptime(sampleUptime(tCurrent), 0, time.UTC), s["0 uptime"].stdout)
	eq(t, "-n 0 uptime", formatUptime(sampleUptime(tCurrent+1), 0, time.UTC), s["2 -n 0 uptime"].stdout)

	// Days, a wide pnn, another zone, a start time of 0 and a recovery
	// "in the future" (negative differences print as C prints them).
	u := &protocol.Uptime{
		CurrentTime:          protocol.Timeval{Sec: tCurrent},
		LastRecoveryStarted:  protocol.Timeval{Sec: tCurrent + 3661, Usec: 900000},
		LastRecoveryFinished: protocol.Timeval{Sec: tCurrent + 3662, Usec: 100000},
	}
	cet := time.FixedZone("CET", 3600)
	eq(t, "uptime", formatUptime(u, 12345, cet),
		"Current time of node 12345     :                Sat Nov 21 20:36:20 2026\n"+
			"Ctdbd start time              : (20778 19:36:20) Thu Jan  1 01:00:00 1970\n"+
			"Time of last recovery/failover: (000 -1:-1:-2) Sat Nov 21 21:37:22 2026\n"+
			"Duration of last recovery/failover: 0.200000 seconds\n")
}

func TestFormatStatisticsGolden(t *testing.T) {
	s := loadSamples(t, "samples-formats.txt")
	plain := statsFromPlain(t, s["0 statistics"].stdout)
	eq(t, "statistics", formatStatistics(&plain, time.UTC), s["0 statistics"].stdout)
	x := strings.SplitAfter(s["0 -X statistics"].stdout, "\n")
	machine := statsFromMachine(t, strings.TrimSuffix(x[0], "\n"), strings.TrimSuffix(x[1], "\n"))
	eq(t, "-X statistics", formatStatisticsMachine(&machine, "|", true), s["0 -X statistics"].stdout)
	eq(t, "-X statistics, no header", formatStatisticsMachine(&machine, "|", false), x[1])

	// stats 3: the history entries, shown as statistics shows them.
	xh := strings.Split(strings.TrimSuffix(s["0 -X stats 3"].stdout, "\n"), "\n")
	var list []protocol.Statistics
	for i, pe := range splitEntries(s["0 stats 3"].stdout) {
		st := statsFromMachine(t, xh[0], xh[i+1])
		st.HopCountBucket = statsFromPlain(t, pe).HopCountBucket
		list = append(list, st)
	}
	if len(list) != 4 {
		t.Fatalf("%d entries", len(list))
	}
	list = append(list, list[0], protocol.Statistics{})
	eq(t, "stats 3", formatStats(list, 3, false, "|", time.UTC), s["0 stats 3"].stdout)
	eq(t, "-X stats 3", formatStats(list, 3, true, "|", time.UTC), s["0 -X stats 3"].stdout)
}

func TestStatsShown(t *testing.T) {
	mk := func(starts ...int64) []protocol.Statistics {
		var l []protocol.Statistics
		for _, s := range starts {
			l = append(l, protocol.Statistics{StatisticsStartTime: protocol.Timeval{Sec: s}})
		}
		return l
	}
	starts := func(l []*protocol.Statistics) []int64 {
		var r []int64
		for _, s := range l {
			r = append(r, s.StatisticsStartTime.Sec)
		}
		return r
	}
	for _, c := range []struct {
		list  []protocol.Statistics
		count int32
		want  string
	}{
		{mk(1, 2, 3, 4, 5), 0, "[1 2 3 4 5]"},
		{mk(1, 2, 3, 4, 5), -3, "[1 2 3 4 5]"},
		{mk(1, 2, 3, 4, 5), 1, "[1 2]"},
		{mk(1, 0, 3, 4, 5), 2, "[1 3]"}, // the skipped entry still counts
		{mk(1, 2, 0, 4, 5), 2, "[1 2 4 5]"},
		{mk(0, 0), 0, "[]"},
	} {
		if got := fmt.Sprint(starts(statsShown(c.list, c.count))); got != c.want {
			t.Errorf("count %d: got %s, want %s", c.count, got, c.want)
		}
	}
}

func TestFormatListnodes(t *testing.T) {
	s := loadSamples(t, "samples-formats.txt")
	nodes, msg := parseNodesFile([]byte("127.0.0.1\n127.0.0.2\n127.0.0.3\n"))
	if msg != "" {
		t.Fatal(msg)
	}
	eq(t, "listnodes", formatListnodes(nodes, false, "|"), s["0 listnodes"].stdout)
	eq(t, "-X listnodes", formatListnodes(nodes, true, "|"), s["0 -X listnodes"].stdout)

	nodes, msg = parseNodesFile([]byte(" \t10.0.0.1 \t\r\n#gone\n\n::ffff:10.0.0.3\nfe80::0001 \n\n\n"))
	if msg != "" {
		t.Fatal(msg)
	}
	eq(t, "mixed", formatListnodes(nodes, false, "|"), "10.0.0.1\n10.0.0.3\nfe80::1\n")
	eq(t, "mixed -x ,", formatListnodes(nodes, true, ","), ",0,10.0.0.1,\n,2,10.0.0.3,\n,3,fe80::1,\n")
	for _, bad := range []string{"10.0.0\n", "10.0.0.01\n", "fe80::1%eth0\n", "host\n", "10.0.0.1:4379\n"} {
		if _, msg := parseNodesFile([]byte(bad)); msg != "Invalid IP address "+strings.TrimSuffix(bad, "\n")+"\n" {
			t.Errorf("%q: %q", bad, msg)
		}
	}
	if nodes, msg := parseNodesFile(nil); len(nodes) != 0 || msg != "" {
		t.Error("empty file")
	}
}
