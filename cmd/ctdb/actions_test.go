package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Runs against the fake daemon: the node state changing commands, errors
// of controls, timeouts and the JSON documents.

// flagCluster is a fake daemon whose node map follows the flag changing
// controls; the flags show after delay polls of the node map.
type flagCluster struct {
	fd    *fakeDaemon
	mu    sync.Mutex
	flags [3]uint32
	ban   []protocol.BanState
	polls int // GET_NODEMAP requests
	delay int
}

func newFlagCluster(t *testing.T) *flagCluster {
	c := &flagCluster{fd: newFakeDaemon(t, 0)}
	c.fd.leader = 0
	c.fd.on(protocol.ControlGetNodeMap, func(*protocol.ReqControl) (int32, []byte, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.polls++
		return 0, threeNodes(c.flags[:]...).Marshal(), true
	})
	set := func(flag uint32, on bool) handler {
		return func(req *protocol.ReqControl) (int32, []byte, bool) {
			c.mu.Lock()
			defer c.mu.Unlock()
			pnn := req.DestNode
			if req.Opcode == protocol.ControlSetBanState {
				var bs protocol.BanState
				bs.Unmarshal(req.Data)
				c.ban = append(c.ban, bs)
				pnn, on = bs.PNN, bs.Time != 0
			}
			apply := func() {
				if on {
					c.flags[pnn] |= flag
				} else {
					c.flags[pnn] &^= flag
				}
			}
			if c.delay == 0 {
				apply()
			} else {
				go func(after int) {
					for {
						time.Sleep(10 * time.Millisecond)
						c.mu.Lock()
						if c.polls >= after {
							apply()
							c.mu.Unlock()
							return
						}
						c.mu.Unlock()
					}
				}(c.polls + c.delay)
			}
			return 0, nil, true
		}
	}
	c.fd.on(protocol.ControlSetBanState, set(protocol.NodeFlagBanned, true))
	c.fd.on(protocol.ControlStopNode, set(protocol.NodeFlagStopped, true))
	c.fd.on(protocol.ControlContinueNode, set(protocol.NodeFlagStopped, false))
	c.fd.on(protocol.ControlDisableNode, set(protocol.NodeFlagPermanentlyDisabled, true))
	c.fd.on(protocol.ControlEnableNode, set(protocol.NodeFlagPermanentlyDisabled, false))
	return c
}

func (c *flagCluster) flagsOf(pnn int) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flags[pnn]
}

func expect(t *testing.T, got runResult, stdout, stderr string, rc int) {
	t.Helper()
	if got.stdout != stdout || got.stderr != stderr || got.rc != rc {
		t.Errorf("got %q %q rc %d, want %q %q rc %d", got.stdout, got.stderr, got.rc, stdout, stderr, rc)
	}
}

func TestFlagCommands(t *testing.T) {
	c := newFlagCluster(t)
	fd := c.fd
	for _, s := range []struct {
		args   []string
		stderr string
		pnn    int
		flags  uint32
	}{
		{[]string{"ban", "30"}, "", 0, protocol.NodeFlagBanned},
		{[]string{"ban", "30"}, "Node 0 is already banned\n", 0, protocol.NodeFlagBanned},
		{[]string{"unban"}, "", 0, 0},
		{[]string{"unban"}, "Node 0 is not banned\n", 0, 0},
		{[]string{"-n", "1", "stop"}, "", 1, protocol.NodeFlagStopped},
		{[]string{"-n", "1", "stop"}, "Node 1 is already stopped\n", 1, protocol.NodeFlagStopped},
		{[]string{"-n", "1", "continue"}, "", 1, 0},
		{[]string{"-n", "1", "continue"}, "Node 1 is not stopped\n", 1, 0},
		{[]string{"-n", "2", "disable"}, "", 2, protocol.NodeFlagPermanentlyDisabled},
		{[]string{"-n", "2", "disable"}, "Node 2 is already disabled\n", 2, protocol.NodeFlagPermanentlyDisabled},
		{[]string{"-n", "2", "enable"}, "", 2, 0},
		{[]string{"-n", "2", "enable"}, "Node 2 is not disabled\n", 2, 0},
	} {
		expect(t, runTool(fd, nil, s.args...), "", s.stderr, 0)
		if got := c.flagsOf(s.pnn); got != s.flags {
			t.Errorf("%v: node %d flags %#x, want %#x", s.args, s.pnn, got, s.flags)
		}
	}
	if len(c.ban) != 2 || c.ban[0] != (protocol.BanState{PNN: 0, Time: 30}) || c.ban[1] != (protocol.BanState{PNN: 0, Time: 0}) {
		t.Errorf("ban states %+v", c.ban)
	}

	// Argument errors: nothing is sent.
	expect(t, runTool(fd, nil, "ban", "abc"), "", "", 22)
	expect(t, runTool(fd, nil, "ban", "--", "-5"), "", "", 22)
	expect(t, runTool(fd, nil, "ban", "-5"), "", "Invalid option -5: unknown option\n", 1)
	expect(t, runTool(fd, nil, "ban", "0"), "", "Ban time cannot be zero\n", 22)
	expect(t, runTool(fd, nil, "ban", "0x100000000"), "", "Ban time cannot be zero\n", 22)
	if len(c.ban) != 2 {
		t.Errorf("ban states %+v", c.ban)
	}
	if got := runTool(fd, nil, "ban"); got.rc != 1 || !strings.Contains(got.stdout, "\nCommands:\n  ban ") {
		t.Errorf("ban without argument: %+v", got)
	}
	if got := runTool(fd, nil, "stop", "now"); got.rc != 1 || !strings.Contains(got.stdout, "  stop ") {
		t.Errorf("stop with an argument: %+v", got)
	}

	// JSON.
	got := runTool(fd, nil, "--json", "-n", "1", "ban", "10")
	var doc jsonAction
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.rc != 0 ||
		doc != (jsonAction{Command: "ban", PNN: 1, Changed: true}) {
		t.Errorf("%+v %+v %v", got, doc, err)
	}
	got = runTool(fd, nil, "--json", "-n", "1", "ban", "10")
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.stderr != "Node 1 is already banned\n" || doc.Changed {
		t.Errorf("%+v %+v %v", got, doc, err)
	}
}

func TestFlagCommandPolls(t *testing.T) {
	c := newFlagCluster(t)
	c.delay = 2
	start := time.Now()
	expect(t, runTool(c.fd, nil, "-n", "1", "stop"), "", "", 0)
	if d := time.Since(start); d < time.Second {
		t.Errorf("returned after %v without waiting for the flag", d)
	}
	if c.flagsOf(1) != protocol.NodeFlagStopped {
		t.Error("not stopped")
	}
}

func TestFlagCommandFailures(t *testing.T) {
	c := newFlagCluster(t)
	fd := c.fd
	fd.reply(protocol.ControlStopNode, -1, nil)
	expect(t, runTool(fd, nil, "stop"), "", "Control STOP_NODE failed, ret=-1\nFailed to stop node 0\n", 1)
	fd.reply(protocol.ControlDisableNode, -22, nil)
	expect(t, runTool(fd, nil, "disable"), "", "Control DISABLE_NODE failed, ret=-22\nFailed to disable node 0\n", 234)

	// The leader's takeover run fails.
	minus5 := int32(-5)
	fd.setAnswer(&minus5)
	expect(t, runTool(fd, nil, "ban", "5"), "", "", 251)
	minus1 := int32(-1)
	fd.setAnswer(&minus1)
	expect(t, runTool(fd, nil, "unban"), "", "", 1)

	// No leader answers the takeover run: the -T limit ends the run.
	fd.setAnswer(nil)
	start := time.Now()
	expect(t, runTool(fd, nil, "-t", "1", "-T", "2", "ban", "5"), "", "Maximum runtime exceeded - exiting\n", 1)
	if d := time.Since(start); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("ended after %v", d)
	}
	if n := fd.takeoverRuns(); n < 2 {
		t.Errorf("%d takeover run requests", n)
	}
}

func TestControlErrors(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, 0, 0).Marshal())

	fd.reply(protocol.ControlUptime, -1, nil)
	expect(t, runTool(fd, nil, "uptime"), "", "Control UPTIME failed, ret=-1\n", 1)
	fd.reply(protocol.ControlUptime, -22, nil)
	expect(t, runTool(fd, nil, "-n", "2", "uptime"), "", "Control UPTIME failed, ret=-22\n", 234)

	// No reply within -t.
	fd.on(protocol.ControlGetPID, func(*protocol.ReqControl) (int32, []byte, bool) { return 0, nil, false })
	expect(t, runTool(fd, nil, "-t", "1", "-n", "1", "getpid"), "", "Control GET_PID failed to node 1, ret=110\n", 110)

	// A reply that does not decode.
	fd.reply(protocol.ControlStatistics, 0, []byte{1, 2, 3})
	expect(t, runTool(fd, nil, "statistics"), "", "Control STATISTICS failed, ret=71\n", 71)

	// The node map cannot be had.
	fd.reply(protocol.ControlGetNodeMap, -1, nil)
	expect(t, runTool(fd, nil, "-n", "1", "uptime"), "",
		"Control GET_NODEMAP failed, ret=-1\nFailed to get nodemap from node 0\n", 1)
	expect(t, runTool(fd, nil, "nodestatus"), "",
		"Control GET_NODEMAP failed, ret=-1\nFailed to get nodemap from node 0\n", 1)

	// Tunables.
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, 0, 0).Marshal())
	fd.reply(protocol.ControlListTunables, -1, nil)
	expect(t, runTool(fd, nil, "getvar", "X"), "",
		"Control LIST_TUNABLES failed, ret=-1\nFailed to get list of variables from node 0\n", 1)
	fd.reply(protocol.ControlListTunables, 0, (&protocol.VarList{Names: []string{"RecoverInterval", "OldOne"}}).Marshal())
	var set, setCluster []protocol.SetTunable
	var mu sync.Mutex
	recordSet := func(into *[]protocol.SetTunable) func(req *protocol.ReqControl) (int32, []byte, bool) {
		return func(req *protocol.ReqControl) (int32, []byte, bool) {
			var st protocol.SetTunable
			st.Unmarshal(req.Data)
			mu.Lock()
			*into = append(*into, st)
			mu.Unlock()
			if strings.EqualFold(st.Name, "OldOne") {
				return 1, nil, true
			}
			return 0, nil, true
		}
	}
	fd.on(protocol.ControlSetTunable, recordSet(&set))
	expect(t, runTool(fd, nil, "setvar", "oldone", "3"), "",
		"Control SET_TUNABLE failed, ret=1\nSetting obsolete tunable variable 'oldone'\n", 0)
	expect(t, runTool(fd, nil, "setvar", "RecoverInterval", "0x10"), "", "", 0)
	expect(t, runTool(fd, nil, "setvar", "RecoverInterval", "x"), "", "", 22)
	expect(t, runTool(fd, nil, "setvar", "NoSuch", "1"), "No such tunable NoSuch\n", "", 1)
	if len(set) != 2 || set[0] != (protocol.SetTunable{Name: "oldone", Value: 3}) || set[1] != (protocol.SetTunable{Name: "RecoverInterval", Value: 16}) {
		t.Errorf("SET_TUNABLE %+v", set)
	}
	// --cluster sends rctdb's own control instead, and only setvar takes it.
	fd.on(protocol.ControlSetTunableCluster, recordSet(&setCluster))
	expect(t, runTool(fd, nil, "setvar", "--cluster", "RecoverInterval", "5"), "", "", 0)
	expect(t, runTool(fd, nil, "--cluster", "getvar", "RecoverInterval"), "", "Invalid option --cluster: only setvar takes it\n", 1)
	if len(set) != 2 || len(setCluster) != 1 || setCluster[0] != (protocol.SetTunable{Name: "RecoverInterval", Value: 5}) {
		t.Errorf("SET_TUNABLE %+v, cluster-wide %+v", set, setCluster)
	}
	// listvars leaves out what cannot be read.
	fd.on(protocol.ControlGetTunable, func(req *protocol.ReqControl) (int32, []byte, bool) {
		if name, _ := protocol.ParseStringN(req.Data); name == "OldOne" {
			return -1, nil, true
		}
		return 0, protocol.U32(7), true
	})
	expect(t, runTool(fd, nil, "listvars"), "RecoverInterval            = 7\n", "Control GET_TUNABLE failed, ret=-1\n", 0)

	// Commands that act only on the local node.
	expect(t, runTool(fd, nil, "-n", "1", "pnn"), "", "Node cannot be specified for command pnn\n", 1)
	expect(t, runTool(fd, nil, "-n", "0", "pnn"), "0\n", "", 0)
	expect(t, runTool(fd, nil, "-n", "3", "pnn"), "", "Node 3 does not exist\n", 1)
	expect(t, runTool(fd, nil, "-n", "-16", "pnn"), "", "Node 4294967280 does not exist\n", 1)
}

func TestNodestatusSelection(t *testing.T) {
	fd := newFakeDaemon(t, 1)
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, protocol.NodeFlagStopped, protocol.NodeFlagBanned).Marshal())
	fd.reply(protocol.ControlGetRunstate, 0, protocol.U32(uint32(protocol.RunstateRunning)))
	fd.reply(protocol.ControlGetIfaces, 0, (&protocol.IfaceList{}).Marshal())
	line := func(pnn int, state string) string {
		s := "pnn:" + string(rune('0'+pnn)) + " 127.0.0." + string(rune('1'+pnn)) + "        " + state
		if pnn == 1 {
			s += " (THIS NODE)"
		}
		return s + "\n"
	}
	expect(t, runTool(fd, nil, "nodestatus"), line(1, "STOPPED|INACTIVE"), "", 0x20)
	expect(t, runTool(fd, nil, "nodestatus", "0,,2"), line(0, "OK")+line(2, "BANNED|INACTIVE"), "", 0x08)
	expect(t, runTool(fd, nil, "nodestatus", "0x2,1"), line(2, "BANNED|INACTIVE")+line(1, "STOPPED|INACTIVE"), "", 0x28)
	expect(t, runTool(fd, nil, "nodestatus", ","), "", "", 0)
	expect(t, runTool(fd, nil, "nodestatus", "7"), "", "Node 7 does not exist\n", 1)
	expect(t, runTool(fd, nil, "nodestatus", "1,x"), "", "Invalid node x\n", 1)
	expect(t, runTool(fd, nil, "nodestatus", "--", "-1"), "", "Invalid node -1\n", 1)
	if got := runTool(fd, nil, "nodestatus", "1", "2"); got.rc != 1 || !strings.Contains(got.stdout, "nodestatus      [all|<pnn-list>]") {
		t.Errorf("%+v", got)
	}
	// Only nodes whose flags are clear are asked for their interfaces.
	var ifaces []uint32
	for _, r := range fd.reqs() {
		if r.Opcode == protocol.ControlGetIfaces {
			ifaces = append(ifaces, r.DestNode)
		}
	}
	if len(ifaces) != 1 || ifaces[0] != 0 {
		t.Errorf("GET_IFACES sent to %v", ifaces)
	}
}

func TestStatusEarlyRunstateAndPartiallyOnline(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	fd.leader = 1
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, protocol.NodeFlagUnhealthy, protocol.NodeFlagDisconnected).Marshal())
	fd.reply(protocol.ControlGetRunstate, 0, protocol.U32(uint32(protocol.RunstateFirstRecovery)))
	fd.reply(protocol.ControlGetVNNMap, 0, (&protocol.VNNMap{Generation: 7, Map: []uint32{0}}).Marshal())
	fd.reply(protocol.ControlGetRecMode, 1, nil)
	down := protocol.IfaceList{Ifaces: []protocol.Iface{{Name: "eth0", LinkState: 1}, {Name: "eth1", LinkState: 0}}}
	fd.reply(protocol.ControlGetIfaces, 0, down.Marshal())
	expect(t, runTool(fd, nil, "status"), "Number of nodes:3\n"+
		"pnn:0 127.0.0.1        PARTIALLYONLINE (THIS NODE)\n"+
		"pnn:1 127.0.0.2        UNKNOWN\n"+
		"pnn:2 127.0.0.3        DISCONNECTED|INACTIVE\n"+
		"Generation:7\nSize:1\nhash:0 lmaster:0\nRecovery mode:RECOVERY (1)\nLeader:1\n", "", 0)
	expect(t, runTool(fd, nil, "-X", "-x", ":", "status"),
		":Node:IP:Disconnected:Unknown:Banned:Disabled:Unhealthy:Stopped:Inactive:PartiallyOnline:ThisNode:\n"+
			":0:127.0.0.1:0:0:0:0:0:0:0:1:Y:\n:1:127.0.0.2:0:1:0:0:0:0:0:0:N:\n:2:127.0.0.3:1:0:0:0:0:0:1:0:N:\n", "", 0)
	// nodestatus returns UNKNOWN in its status too.
	expect(t, runTool(fd, nil, "nodestatus", "1"), "pnn:1 127.0.0.2        UNKNOWN\n", "", 0x40)

	got := runTool(fd, nil, "--json", "-X", "status")
	var doc jsonStatus
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.rc != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	if len(doc.Nodes) != 3 || !doc.Nodes[0].PartiallyOnline || doc.Nodes[0].Flags[0] != "PARTIALLYONLINE" ||
		!doc.Nodes[0].ThisNode || doc.Nodes[1].Flags[0] != "UNKNOWN" || doc.Nodes[2].FlagsValue != 1 ||
		doc.Generation == nil || *doc.Generation != 7 || doc.Leader == nil || *doc.Leader != 1 ||
		doc.RecoveryMode != "RECOVERY" || len(doc.VNNMap) != 1 {
		t.Errorf("%s", got.stdout)
	}
}

func TestLeader(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	fd.leader = 2
	expect(t, runTool(fd, nil, "leader"), "2\n", "", 0)
	expect(t, runTool(fd, nil, "--json", "leader"), "{\n  \"leader\": 2\n}\n", "", 0)
	fd.setLeader(protocol.UnknownPNN)
	start := time.Now()
	expect(t, runTool(fd, nil, "-t", "1", "leader"), "UNKNOWN\n", "", 0)
	if d := time.Since(start); d < time.Second {
		t.Errorf("gave up after %v", d)
	}
	expect(t, runTool(fd, nil, "-t", "1", "--json", "leader"), "{\n  \"leader\": null\n}\n", "", 0)
}

func TestShutdown(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, 0, 0).Marshal())
	expect(t, runTool(fd, nil, "shutdown"), "", "", 0)
	expect(t, runTool(fd, nil, "-n", "1", "shutdown"), "", "", 0)
	var dest []uint32
	for i := 0; i < 100 && len(dest) < 2; i++ {
		time.Sleep(10 * time.Millisecond) // the last packet may still be on its way
		dest = nil
		for _, r := range fd.reqs() {
			if r.Opcode == protocol.ControlShutdown {
				if !r.NoReply() {
					t.Fatal("SHUTDOWN without NOREPLY")
				}
				dest = append(dest, r.DestNode)
			}
		}
	}
	if len(dest) != 2 || dest[0] != 0 || dest[1] != 1 {
		t.Errorf("SHUTDOWN sent to %v", dest)
	}
}

func TestJSONDocuments(t *testing.T) {
	f := newFormatsFixture(t, 0)
	for _, c := range []struct {
		args []string
		keys []string
	}{
		{[]string{"uptime"}, []string{"pnn", "current_time", "start_time", "last_recovery_started", "last_recovery_finished", "uptime_seconds", "seconds_since_last_recovery", "last_recovery_duration_seconds"}},
		{[]string{"ping"}, []string{"pnn", "time_seconds", "clients"}},
		{[]string{"pnn"}, []string{"pnn"}},
		{[]string{"runstate", "running"}, []string{"pnn", "runstate", "required", "matched"}},
		{[]string{"getpid"}, []string{"pnn", "pid"}},
		{[]string{"getcapabilities"}, []string{"pnn", "capabilities", "leader", "lmaster"}},
		{[]string{"getvar", "RecoverInterval"}, []string{"pnn", "name", "value"}},
		{[]string{"listvars"}, []string{"pnn", "tunables"}},
		{[]string{"statistics"}, []string{"protocol_version", "current_time", "start_time", "counters", "hop_count_buckets", "lock_buckets", "latency"}},
		{[]string{"stats", "1"}, []string{"pnn", "history"}},
		{[]string{"nodestatus", "all"}, []string{"nodes"}},
		{[]string{"listnodes"}, []string{"nodes"}},
	} {
		got := runTool(f.fd, f.env, append([]string{"--json"}, c.args...)...)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.rc != 0 || got.stderr != "" {
			t.Errorf("%v: %+v %v", c.args, got, err)
			continue
		}
		if len(doc) != len(c.keys) {
			t.Errorf("%v: %d keys: %s", c.args, len(doc), got.stdout)
		}
		for _, k := range c.keys {
			if _, ok := doc[k]; !ok {
				t.Errorf("%v: no %q", c.args, k)
			}
		}
	}
	var up jsonUptime
	json.Unmarshal([]byte(runTool(f.fd, nil, "--json", "uptime").stdout), &up)
	if *up.CurrentTime != "2026-11-21T19:36:20.123456Z" || up.UptimeSeconds != 16 || up.LastRecoveryDuration != 0.039583 {
		t.Errorf("%+v", up)
	}
	var st struct {
		PNN     uint32           `json:"pnn"`
		History []jsonStatistics `json:"history"`
	}
	json.Unmarshal([]byte(runTool(f.fd, nil, "--json", "stats", "1").stdout), &st)
	if len(st.History) != 2 || st.History[0].Counters["client_packets_sent"] != 45 ||
		st.History[0].Counters["node.req_control"] != 33 || st.History[1].Latency["call"].Num != 0 {
		t.Errorf("%+v", st)
	}
	// runstate not matched: the document, and status 1.
	got := runTool(f.fd, nil, "--json", "runstate", "startup")
	if !strings.Contains(got.stdout, `"matched": false`) || got.rc != 1 {
		t.Errorf("%+v", got)
	}
	// An invalid runstate is an error, not a document.
	expect(t, runTool(f.fd, nil, "--json", "runstate", "bogus"), "", "Invalid run state (bogus)\n", 1)
}

// TestStatusTraffic checks the controls status sends, in the real tool's
// order (wire protocol reference, section 8.3).
func TestStatusTraffic(t *testing.T) {
	f := newFormatsFixture(t, 0)
	runTool(f.fd, nil, "status")
	runTool(f.fd, nil, "-n", "1", "-X", "status")
	P := protocol.ControlGetPNN
	want := []protocol.Opcode{
		P, protocol.ControlRegisterSrvID, protocol.ControlGetNodeMap, protocol.ControlGetRunstate,
		protocol.ControlGetVNNMap, protocol.ControlGetRecMode,
		protocol.ControlGetIfaces, protocol.ControlGetIfaces, protocol.ControlGetIfaces,
		P, protocol.ControlGetNodeMap, protocol.ControlRegisterSrvID, protocol.ControlGetRunstate,
		protocol.ControlGetIfaces, protocol.ControlGetIfaces, protocol.ControlGetIfaces,
	}
	got := f.fd.opcodes()
	if len(got) != len(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v\nwant %v", got, want)
		}
	}
	for _, r := range f.fd.reqs() {
		switch r.Opcode {
		case protocol.ControlRegisterSrvID:
			if r.SrvID != protocol.SrvIDLeader || r.DestNode != 0 {
				t.Errorf("REGISTER_SRVID %#x to %d", r.SrvID, r.DestNode)
			}
		case protocol.ControlGetNodeMap:
			if r.DestNode != 0 {
				t.Errorf("GET_NODEMAP to %d", r.DestNode)
			}
		}
	}
}
