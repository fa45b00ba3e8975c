package main

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// The public-IP commands against fake daemons: the controls and messages
// they send, in order, and the paths the real cluster cannot be made to
// take on demand (refusals, timeouts, disagreeing nodes).

// shortRetries makes moveip and addip retry at once.
func shortRetries(t *testing.T) {
	old := moveipRetryDelay.Load()
	moveipRetryDelay.Store(int64(time.Millisecond))
	t.Cleanup(func() { moveipRetryDelay.Store(old) })
}

func checkResult(t *testing.T, what string, got runResult, stdout, stderr string, rc int) {
	t.Helper()
	checkRun(t, what, got, sample{stdout: stdout, stderr: stderr, rc: rc})
}

// controlsAfterStart are the controls a run sent after the tool's own
// start-up (GET_PNN, REGISTER_SRVID of the leader srvid).
func controlsAfterStart(fd *fakeDaemon) []*protocol.ReqControl {
	var l []*protocol.ReqControl
	for _, r := range fd.reqs() {
		switch {
		case r.Opcode == protocol.ControlGetPNN:
		case r.Opcode == protocol.ControlRegisterSrvID && r.SrvID == protocol.SrvIDLeader:
		default:
			l = append(l, r)
		}
	}
	return l
}

type sentControl struct {
	op   protocol.Opcode
	dest uint32
	data []byte
}

func checkControls(t *testing.T, what string, got []*protocol.ReqControl, want []sentControl) {
	t.Helper()
	var g []sentControl
	for _, r := range got {
		if r.Opcode == protocol.ControlRegisterSrvID || r.Opcode == protocol.ControlDeregisterSrvID {
			continue
		}
		g = append(g, sentControl{r.Opcode, r.DestNode, r.Data})
	}
	if len(g) != len(want) {
		t.Errorf("%s: sent %v, want %v", what, g, want)
		return
	}
	for i := range want {
		if g[i].op != want[i].op || g[i].dest != want[i].dest || (want[i].data != nil && !bytes.Equal(g[i].data, want[i].data)) {
			t.Errorf("%s: control %d is %s to %d %x, want %s to %d %x", what, i, g[i].op, g[i].dest, g[i].data,
				want[i].op, want[i].dest, want[i].data)
		}
	}
}

func pubIP(pnn uint32, a string) []byte {
	ip := protocol.PublicIP{PNN: pnn, Addr: mustSockAddr(a)}
	return ip.Marshal()
}

func TestMoveipSendsWhatTheRealToolSends(t *testing.T) {
	m := canonicalModel()
	fds := ipFakes(t, m)
	checkResult(t, "moveip", runTool(fds[0], nil, "-t", "3", "moveip", "10.99.0.1", "0"), "", "", 0)
	msgs := fds[0].sentMessages()
	if len(msgs) != 1 || msgs[0].SrvID != protocol.SrvIDDisableIPCheck || msgs[0].DestNode != protocol.BroadcastConnected ||
		!bytes.Equal(msgs[0].Data, protocol.U32(6)) {
		t.Errorf("messages %+v, want DISABLE_IP_CHECK of 6 s to all connected nodes", msgs)
	}
	checkControls(t, "moveip", controlsAfterStart(fds[0]), []sentControl{
		{protocol.ControlGetPublicIPs, 0, nil},
		{protocol.ControlGetNodeMap, 0, nil},
		{protocol.ControlReleaseIP, 1, pubIP(0, "10.99.0.1")},
		{protocol.ControlReleaseIP, 2, pubIP(0, "10.99.0.1")},
		{protocol.ControlTakeoverIP, 0, pubIP(0, "10.99.0.1")},
	})
	checkResult(t, "ip after moveip", runTool(fds[1], nil, "ip"), "Public IPs on node 1\n10.99.0.1 0\n10.99.0.2 0\n10.99.0.3 1\n", "", 0)
}

// TestIPFailoverSlowSamples replays the commands of samples-ipfailover.txt
// that fail after five attempts, without the pauses.
func TestIPFailoverSlowSamples(t *testing.T) {
	shortRetries(t)
	entries := loadSampleEntries(t, "samples-ipfailover.txt")
	fds := ipFakes(t, canonicalModel())
	replay(t, fds, sectionEntries(t, entries, "commands that fail after five attempts"))
	var checks int
	for _, m := range fds[0].sentMessages() {
		if m.SrvID == protocol.SrvIDDisableIPCheck {
			checks++
		}
	}
	if checks != 15 {
		t.Errorf("%d DISABLE_IP_CHECK messages, want 5 per moveip", checks)
	}
}

func TestMoveipFailures(t *testing.T) {
	shortRetries(t)
	fiveTimes := func(s string) string { return strings.Repeat(s, 5) }

	m := canonicalModel()
	fds := ipFakes(t, m)
	fds[0].reply(protocol.ControlReleaseIP, -1, nil)
	checkResult(t, "release fails", runTool(fds[0], nil, "moveip", "10.99.0.1", "0"), "",
		fiveTimes("Failed to release IP on nodes\n")+"Failed to move IP 10.99.0.1 to node 0\n", 1)

	m = canonicalModel()
	fds = ipFakes(t, m)
	fds[1].reply(protocol.ControlTakeoverIP, -1, nil)
	checkResult(t, "takeover fails", runTool(fds[1], nil, "moveip", "10.99.0.2", "1"), "",
		fiveTimes("Control TAKEOVER_IP failed, ret=-1\nFailed to takeover IP on node 1\n")+"Failed to move IP 10.99.0.2 to node 1\n", 1)

	// No other active node to tell.
	m = canonicalModel()
	m.nodemap.Nodes[1].Flags = protocol.NodeFlagStopped
	m.nodemap.Nodes[2].Flags = protocol.NodeFlagBanned
	fds = ipFakes(t, m)
	checkResult(t, "alone", runTool(fds[0], nil, "moveip", "10.99.0.1", "0"), "",
		fiveTimes("Memory allocation error\n")+"Failed to move IP 10.99.0.1 to node 0\n", 1)

	// The -T limit ends the pauses.
	moveipRetryDelay.Store(int64(time.Hour))
	checkResult(t, "-T", runTool(fds[0], nil, "-T", "1", "moveip", "10.99.0.9", "0"), "",
		"Node 0 CANNOT host IP address 10.99.0.9\nMaximum runtime exceeded - exiting\n", 1)
}

func TestAddipAndDelipSendWhatTheRealToolSends(t *testing.T) {
	m := canonicalModel()
	fds := ipFakes(t, m)
	checkResult(t, "addip", runTool(fds[2], nil, "-n", "1", "addip", "10.99.0.4/24", "ctdb0"), "", "", 0)
	info := append(mustSockAddr("10.99.0.4").AppendTo(nil), 24, 0, 0, 0, 6, 0, 0, 0)
	info = append(info, "ctdb0\x00"...)
	checkControls(t, "addip", controlsAfterStart(fds[2]), []sentControl{
		{protocol.ControlGetNodeMap, 2, nil},
		{protocol.ControlGetPublicIPs, 1, nil},
		{protocol.ControlAddPublicIP, 1, info},
	})
	// The message is the last thing sent: wait until the fake has read it.
	testutil.WaitFor(t, 5*time.Second, "the REBALANCE_NODE message", func() error {
		if len(fds[2].sentMessages()) == 0 {
			return errors.New("no message yet")
		}
		return nil
	})
	msgs := fds[2].sentMessages()
	if len(msgs) != 1 || msgs[0].SrvID != protocol.SrvIDRebalanceNode || msgs[0].DestNode != protocol.BroadcastConnected ||
		!bytes.Equal(msgs[0].Data, protocol.U32(1)) {
		t.Errorf("messages %+v, want REBALANCE_NODE of node 1 to all connected nodes", msgs)
	}

	checkResult(t, "delip", runTool(fds[1], nil, "delip", "10.99.0.4"), "", "", 0)
	del := append(mustSockAddr("10.99.0.4").AppendTo(nil), make([]byte, 8)...)
	checkControls(t, "delip", controlsAfterStart(fds[1]), []sentControl{
		{protocol.ControlGetPublicIPs, 1, nil},
		{protocol.ControlDelPublicIP, 1, del},
	})

	// A failure of GET_PUBLIC_IPS is status 1, whatever the library said.
	fds[0].reply(protocol.ControlGetPublicIPs, -5, nil)
	checkResult(t, "addip", runTool(fds[0], nil, "addip", "10.99.0.4/24", "ctdb0"), "",
		"Control GET_PUBLIC_IPS failed, ret=-5\nFailed to get Public IPs from node 0\n", 1)
	checkResult(t, "delip", runTool(fds[0], nil, "delip", "10.99.0.4"), "",
		"Control GET_PUBLIC_IPS failed, ret=-5\nFailed to get Public IPs from node 0\n", 1)
	fds[1].reply(protocol.ControlDelPublicIP, -1, nil)
	checkResult(t, "delip refused", runTool(fds[1], nil, "delip", "10.99.0.1"), "",
		"Control DEL_PUBLIC_IP failed, ret=-1\nFailed to delete public IP from node 1\n", 1)
}

// seenLog is what a fake daemon's message handler records.
type seenLog struct {
	mu sync.Mutex
	l  []int
}

func (s *seenLog) add(v ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.l = append(s.l, v...)
}

func (s *seenLog) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.l)
}

// disableTakeoverRunsAnswer makes the fakes answer DISABLE_TAKEOVER_RUNS
// as each node's recovery daemon does: its pnn (or answer, when not nil),
// and records how many RELOAD_PUBLIC_IPS each request followed.
func disableTakeoverRunsAnswer(t *testing.T, fd *fakeDaemon, answer *int32, reloadsSeen *seenLog) {
	fd.onMessage(protocol.SrvIDDisableTakeoverRuns, func(m protocol.ReqMessage, message func(uint64, []byte)) {
		var dm protocol.DisableMessage
		if err := dm.Unmarshal(m.Data); err != nil {
			t.Errorf("DISABLE_TAKEOVER_RUNS: %v", err)
			return
		}
		n := 0
		for _, op := range fd.opcodes() {
			if op == protocol.ControlReloadPublicIPs {
				n++
			}
		}
		if reloadsSeen != nil {
			reloadsSeen.add(n, int(m.DestNode), int(dm.Timeout))
		}
		reply := m.DestNode
		if answer != nil {
			reply = uint32(*answer)
		}
		message(dm.SrvID, protocol.U32(reply))
	})
}

func TestReloadipsSendsWhatTheRealToolSends(t *testing.T) {
	m := canonicalModel()
	m.nodemap.Nodes[2].Flags = protocol.NodeFlagStopped
	fds := ipFakes(t, m)
	var seen seenLog
	disableTakeoverRunsAnswer(t, fds[0], nil, &seen)
	checkResult(t, "reloadips all", runTool(fds[0], nil, "reloadips", "all"), "", "", 0)
	// Held on every connected node (stopped ones too) for 2*-t, before
	// the reloads; allowed again after.
	want := []int{0, 0, 20, 0, 1, 20, 0, 2, 20, 2, 0, 0, 2, 1, 0, 2, 2, 0}
	if got := seen.get(); !slices.Equal(got, want) {
		t.Errorf("DISABLE_TAKEOVER_RUNS (reloads seen, node, timeout): %v, want %v", got, want)
	}
	checkControls(t, "reloadips", controlsAfterStart(fds[0]), []sentControl{
		{protocol.ControlGetNodeMap, 0, nil},
		{protocol.ControlReloadPublicIPs, 0, nil},
		{protocol.ControlReloadPublicIPs, 1, nil},
	})
	if n := fds[0].takeoverRuns(); n != 1 {
		t.Errorf("%d takeover runs asked, want 1", n)
	}
	checkResult(t, "stopped node", runTool(fds[0], nil, "reloadips", "2"), "", "Memory allocation error\n", 1)

	// A failed reload is reported, and the run goes on.
	fds[1].reply(protocol.ControlReloadPublicIPs, 1, nil)
	disableTakeoverRunsAnswer(t, fds[1], nil, nil)
	checkResult(t, "reload fails", runTool(fds[1], nil, "reloadips"), "", "Failed to reload IPs on some nodes.\n", 0)

	// A recovery daemon that is running a takeover run refuses.
	eagain := -int32(syscall.EAGAIN)
	disableTakeoverRunsAnswer(t, fds[1], &eagain, nil)
	checkResult(t, "refused", runTool(fds[1], nil, "reloadips"), "", "Failed to disable takeover runs\n", 1)

	// Nodes that do not answer within -t count as agreeing: the real tool
	// mistakes its wait's ETIMEDOUT for success.
	fds[2].onMessage(protocol.SrvIDDisableTakeoverRuns, func(protocol.ReqMessage, func(uint64, []byte)) {})
	start := time.Now()
	checkResult(t, "no answer", runTool(fds[2], nil, "-t", "1", "reloadips", "0"), "", "", 0)
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("reloadips returned after %v, before its two waits of -t", d)
	}
}

func TestGratarpAndSetifacelinkSend(t *testing.T) {
	m := canonicalModel()
	fds := ipFakes(t, m)
	checkResult(t, "gratarp", runTool(fds[0], nil, "gratarp", "10.99.0.2", "ctdb0"), "", "", 0)
	info := append(mustSockAddr("10.99.0.2").AppendTo(nil), 0, 0, 0, 0, 6, 0, 0, 0)
	info = append(info, "ctdb0\x00"...)
	checkControls(t, "gratarp", controlsAfterStart(fds[0]), []sentControl{{protocol.ControlSendGratuitousARP, 0, info}})
	fds[1].reply(protocol.ControlSendGratuitousARP, -1, nil)
	checkResult(t, "gratarp fails", runTool(fds[1], nil, "gratarp", "10.99.0.2", "ctdb0"), "",
		"Control SEND_GRATUITOUS_ARP failed, ret=-1\nUnable to send gratuitous arp from node 1\n", 1)

	checkResult(t, "setifacelink", runTool(fds[2], nil, "-n", "1", "setifacelink", "ctdb0", "down"), "", "", 0)
	down := protocol.Iface{Name: "ctdb0", LinkState: 0}
	checkControls(t, "setifacelink", controlsAfterStart(fds[2]), []sentControl{
		{protocol.ControlGetNodeMap, 2, nil},
		{protocol.ControlGetIfaces, 1, nil},
		{protocol.ControlSetIfaceLinkState, 1, down.Marshal()},
	})
	checkResult(t, "ifaces", runTool(fds[1], nil, "ifaces"), "Interfaces on node 1\nname:ctdb0 link:down references:2\n", "", 0)
	checkResult(t, "ip -v", runTool(fds[1], nil, "ip", "-v"), "Public IPs on node 1\n"+
		"10.99.0.1 node[1] active[ctdb0] available[] configured[ctdb0]\n"+
		"10.99.0.2 node[0] active[] available[] configured[ctdb0]\n"+
		"10.99.0.3 node[1] active[ctdb0] available[] configured[ctdb0]\n", "", 0)
	fds[0].reply(protocol.ControlGetIfaces, -1, nil)
	checkResult(t, "setifacelink", runTool(fds[0], nil, "setifacelink", "ctdb0", "up"), "",
		"Control GET_IFACES failed, ret=-1\nFailed to get interface information from node 0\n", 1)
}

func TestTickleListsKeepTheirOrder(t *testing.T) {
	m := canonicalModel()
	fds := ipFakes(t, m)
	var in strings.Builder
	var want [][]byte
	for i := 1; i <= 40; i++ {
		line := "192.168.1." + strconv.Itoa(i) + ":" + strconv.Itoa(1000+i) + " 10.99.0.2:445\n"
		in.WriteString(line)
		c, _ := parseConnection(strings.TrimSuffix(line, "\n"))
		want = append(want, c.Marshal())
	}
	checkResult(t, "addtickle", runToolInput(fds[0], nil, in.String(), "addtickle"), "", "", 0)
	var got [][]byte
	for _, r := range controlsAfterStart(fds[0]) {
		got = append(got, r.Data)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("TCP_ADD_DELAYED_UPDATE not sent in the order of the list")
	}
	r := runTool(fds[0], nil, "gettickles", "10.99.0.2")
	if !strings.HasPrefix(r.stdout, "Connections for IP: 10.99.0.2\nNum connections: 40\nSRC: 192.168.1.1:1001   DST: 10.99.0.2:445\n") {
		t.Errorf("gettickles: %+v", r)
	}

	// A connection that does not answer within -t is a failure.
	fds[1].on(protocol.ControlTCPRemove, func(req *protocol.ReqControl) (int32, []byte, bool) {
		return 0, nil, !bytes.Contains(req.Data, []byte{192, 168, 1, 2})
	})
	checkResult(t, "deltickle", runToolInput(fds[1], nil, "192.168.1.1:1 10.99.0.1:445\n192.168.1.2:1 10.99.0.1:445\n", "-t", "1", "deltickle"),
		"", "Failed to remove 1 tickles\n", 1)
	fds[1].reply(protocol.ControlTCPRemove, -1, nil)
	checkResult(t, "deltickle one", runTool(fds[1], nil, "deltickle", "192.168.1.1:1", "10.99.0.1:445"), "",
		"Control TCP_REMOVE failed, ret=-1\nFailed to unregister connection\n", 1)
}
