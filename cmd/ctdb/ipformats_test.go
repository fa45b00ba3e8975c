package main

import (
	"encoding/json"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// Formats and paths of the IP commands that the real cluster does not
// show on demand.

// TestIPAllMerge checks "ip all" when the nodes disagree: a node's claim
// to host an address itself wins (the last one, when two nodes claim it),
// other nodes' beliefs do not count, and inactive nodes are not asked.
func TestIPAllMerge(t *testing.T) {
	m := newIPModel(3)
	m.nodemap.Nodes[2].Flags = protocol.NodeFlagStopped
	m.addIP(0, "10.99.0.1", 0, "ctdb0")
	m.addIP(0, "10.99.0.2", 1, "ctdb0")
	m.addIP(0, "10.99.0.3", 2, "ctdb0")
	m.addIP(1, "10.99.0.1", 1, "ctdb0")
	m.addIP(1, "10.99.0.2", 2, "ctdb0")
	m.addIP(1, "10.99.0.4", 0, "ctdb0")
	m.addIP(2, "10.99.0.3", 2, "ctdb0")
	fds := ipFakes(t, m)
	checkResult(t, "ip all -v", runTool(fds[0], nil, "ip", "all", "-v"), "Public IPs on ALL nodes\n"+
		"10.99.0.1 node[1] active[ctdb0] available[ctdb0] configured[ctdb0]\n"+
		"10.99.0.2 node[-1] active[] available[] configured[]\n"+
		"10.99.0.3 node[-1] active[] available[] configured[]\n"+
		"10.99.0.4 node[-1] active[] available[] configured[]\n", "", 0)
	var infos []uint32
	for _, r := range fds[0].reqs() {
		switch r.Opcode {
		case protocol.ControlGetPublicIPs:
			if r.DestNode == 2 {
				t.Errorf("GET_PUBLIC_IPS sent to the stopped node")
			}
		case protocol.ControlGetPublicIPInfo:
			infos = append(infos, r.DestNode)
		}
	}
	if len(infos) != 1 || infos[0] != 1 {
		t.Errorf("GET_PUBLIC_IP_INFO sent to %v, want only to node 1 (the holder of the one hosted address)", infos)
	}

	// No active node at all: status 1, nothing printed.
	m.nodemap.Nodes[0].Flags = protocol.NodeFlagBanned
	m.nodemap.Nodes[1].Flags = protocol.NodeFlagBanned
	m.nodemap.Nodes[2].Flags = protocol.NodeFlagBanned
	checkResult(t, "all banned", runTool(fds[1], nil, "ip", "all"), "", "Warning: All nodes are banned.\n", 1)
}

// TestIPOrderAndIPv6 checks the order of "ip" (IPv4 first, then by address
// bytes, whatever the daemon's order) and the IPv6 forms.
func TestIPOrderAndIPv6(t *testing.T) {
	m := newIPModel(1)
	for _, a := range []string{"fd00::10", "10.99.0.10", "::1.2.3.4", "10.99.0.9", "fd00::9", "9.0.0.1"} {
		m.addIP(0, a, 0, "eth1")
	}
	fds := ipFakes(t, m)
	checkResult(t, "-X ip", runTool(fds[0], nil, "-X", "ip"), "|Public IP|Node|\n"+
		"|9.0.0.1|0|\n|10.99.0.9|0|\n|10.99.0.10|0|\n|::1.2.3.4|0|\n|fd00::9|0|\n|fd00::10|0|\n", "", 0)
	checkResult(t, "ipinfo", runTool(fds[0], nil, "ipinfo", "[fd00:0::9]"), "Public IP[fd00::9] info on node 0\n"+
		"IP:fd00::9\nCurrentNode:0\nNumInterfaces:1\nInterface[1]: Name:eth1 Link:up References:6 (active)\n", "", 0)
	if _, ok := m.nodes[0].tickles[mustSockAddr("fd00::9")]; ok {
		t.Fatal("no tickles yet")
	}
	checkResult(t, "addtickle", runTool(fds[0], nil, "addtickle", "[fd00::99]:40000", "[fd00::9]:445"), "", "", 0)
	checkResult(t, "gettickles", runTool(fds[0], nil, "gettickles", "fd00::9"), "Connections for IP: fd00::9\n"+
		"Num connections: 1\nSRC: [fd00::99]:40000   DST: [fd00::9]:445\n", "", 0)
	checkResult(t, "-X gettickles", runTool(fds[0], nil, "-X", "gettickles", "fd00::9"), "|Source IP|Port|Destiation IP|Port|\n"+
		"|fd00::99|40000|fd00::9|445|\n", "", 0)
}

// TestIPInfoFormats checks several interfaces, a link down, the active
// one, an unhosted address and a name of 17 bytes (ipinfo cuts it to 16,
// ip -v does not).
func TestIPInfoFormats(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	info := protocol.PublicIPInfo{
		IP: protocol.PublicIP{PNN: protocol.UnknownPNN, Addr: mustSockAddr("10.99.0.1")}, ActiveIdx: 1,
		Ifaces: []protocol.Iface{
			{Name: "eth1", LinkState: 0, References: 3},
			{Name: "eth2", LinkState: 1, References: 0},
			{Name: "abcdefghijklmnopq", LinkState: 1, References: 7},
		},
	}
	fd.reply(protocol.ControlGetPublicIPInfo, 0, info.Marshal())
	fd.reply(protocol.ControlGetPublicIPs, 0, (&protocol.PublicIPList{IPs: []protocol.PublicIP{info.IP}}).Marshal())
	checkResult(t, "ipinfo", runTool(fd, nil, "ipinfo", "10.99.0.1"), "Public IP[10.99.0.1] info on node 0\n"+
		"IP:10.99.0.1\nCurrentNode:4294967295\nNumInterfaces:3\n"+
		"Interface[1]: Name:eth1 Link:down References:3\n"+
		"Interface[2]: Name:eth2 Link:up References:0 (active)\n"+
		"Interface[3]: Name:abcdefghijklmnop Link:up References:7\n", "", 0)
	checkResult(t, "ip -v", runTool(fd, nil, "ip", "-v"), "Public IPs on node 0\n"+
		"10.99.0.1 node[-1] active[eth2] available[eth2,abcdefghijklmnopq] configured[eth1,eth2,abcdefghijklmnopq]\n", "", 0)
	checkResult(t, "-X ip -v", runTool(fd, nil, "-X", "ip", "-v"),
		"|Public IP|Node|ActiveInterfaces|AvailableInterfaces|ConfiguredInterfaces|\n"+
			"|10.99.0.1|-1|eth2|eth2,abcdefghijklmnopq|eth1,eth2,abcdefghijklmnopq|\n", "", 0)
}

// TestIPCommandsTimeouts checks the client library's messages when a
// control is not answered within -t.
func TestIPCommandsTimeouts(t *testing.T) {
	fd := newFakeDaemon(t, 0)
	silent := func(*protocol.ReqControl) (int32, []byte, bool) { return 0, nil, false }
	for _, op := range []protocol.Opcode{protocol.ControlGetPublicIPs, protocol.ControlGetIfaces, protocol.ControlGetTCPTickleList} {
		fd.on(op, silent)
	}
	fd.reply(protocol.ControlGetNodeMap, 0, threeNodes(0, 0, 0).Marshal())
	checkResult(t, "ip", runTool(fd, nil, "-t", "1", "ip"), "", "Control GET_PUBLIC_IPS failed to node 0, ret=110\n", 110)
	checkResult(t, "ip all", runTool(fd, nil, "-t", "1", "ip", "all"), "", "Control GET_PUBLIC_IPS failed to node 0, ret=110\n", 1)
	checkResult(t, "ifaces", runTool(fd, nil, "-t", "1", "ifaces"), "", "Control GET_IFACES failed to node 0, ret=110\n", 110)
	checkResult(t, "gettickles", runTool(fd, nil, "-t", "1", "gettickles", "10.99.0.1"), "",
		"Control GET_TCP_TICKLE_LIST failed to node 0, ret=110\nFailed to get list of connections\n", 110)
}

// TestIPCommandsJSON checks the --json documents (schemas in json.go).
func TestIPCommandsJSON(t *testing.T) {
	m := canonicalModel()
	fds := ipFakes(t, m)
	m.nodes[0].tickles[mustSockAddr("10.99.0.2")] = []protocol.Connection{{
		Src: protocol.SockAddr{Family: protocol.AFInet, Addr: mustSockAddr("192.168.1.1").Addr, Port: 40000},
		Dst: protocol.SockAddr{Family: protocol.AFInet, Addr: mustSockAddr("10.99.0.2").Addr, Port: 445},
	}}
	for _, c := range []struct {
		node int
		args []string
		want string
		msg  string // on standard error
	}{
		{0, []string{"ip"}, `{"pnn":0,"all":false,"ips":[` +
			`{"address":"10.99.0.1","pnn":1,"active_interface":null,"available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]},` +
			`{"address":"10.99.0.2","pnn":0,"active_interface":"ctdb0","available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]},` +
			`{"address":"10.99.0.3","pnn":1,"active_interface":null,"available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]}]}`, ""},
		{2, []string{"ip"}, `{"pnn":2,"all":false,"ips":[]}`, ""},
		{2, []string{"ip", "all"}, `{"pnn":null,"all":true,"ips":[` +
			`{"address":"10.99.0.1","pnn":1,"active_interface":"ctdb0","available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]},` +
			`{"address":"10.99.0.2","pnn":0,"active_interface":"ctdb0","available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]},` +
			`{"address":"10.99.0.3","pnn":1,"active_interface":"ctdb0","available_interfaces":["ctdb0"],"configured_interfaces":["ctdb0"]}]}`, ""},
		{1, []string{"ipinfo", "10.99.0.2"}, `{"pnn":1,"address":"10.99.0.2","current_node":0,` +
			`"interfaces":[{"name":"ctdb0","link_up":true,"references":2,"active":false}]}`, ""},
		{1, []string{"ifaces"}, `{"pnn":1,"interfaces":[{"name":"ctdb0","link_up":true,"references":2}]}`, ""},
		{2, []string{"ifaces"}, `{"pnn":2,"interfaces":[]}`, ""},
		{0, []string{"gettickles", "10.99.0.2", "445"}, `{"pnn":0,"address":"10.99.0.2","port":445,"connections":[` +
			`{"source":"192.168.1.1","source_port":40000,"destination":"10.99.0.2","destination_port":445}]}`, ""},
		{0, []string{"setifacelink", "ctdb0", "up"}, `{"command":"setifacelink","pnn":0,"changed":true}`, ""},
		{0, []string{"gratarp", "10.99.0.2", "ctdb0"}, `{"command":"gratarp","pnn":0,"changed":true,"address":"10.99.0.2","interface":"ctdb0"}`, ""},
		{0, []string{"addip", "10.99.0.2/24", "ctdb0"}, `{"command":"addip","pnn":0,"changed":false,"address":"10.99.0.2","interface":"ctdb0"}`,
			"Node already knows about IP 10.99.0.2\n"},
		{0, []string{"addip", "10.99.0.5/24", "ctdb0"}, `{"command":"addip","pnn":0,"changed":true,"address":"10.99.0.5","interface":"ctdb0"}`, ""},
		{0, []string{"delip", "10.99.0.5"}, `{"command":"delip","pnn":0,"changed":true,"address":"10.99.0.5"}`, ""},
		{0, []string{"delip", "10.99.0.5"}, `{"command":"delip","pnn":0,"changed":false,"address":"10.99.0.5"}`,
			"Node does not know about IP address 10.99.0.5\n"},
		{2, []string{"moveip", "10.99.0.3", "0"}, `{"command":"moveip","pnn":0,"changed":true,"address":"10.99.0.3"}`, ""},
		{0, []string{"ipreallocate"}, `{"command":"ipreallocate","pnn":0,"changed":true}`, ""},
		{0, []string{"sync"}, `{"command":"sync","pnn":0,"changed":true}`, ""},
		{0, []string{"addtickle", "192.168.1.2:1", "10.99.0.2:445"}, `{"command":"addtickle","pnn":0,"changed":true,"connections":1}`, ""},
		{0, []string{"deltickle", "192.168.1.2:1", "10.99.0.2:445"}, `{"command":"deltickle","pnn":0,"changed":true,"connections":1}`, ""},
	} {
		got := runTool(fds[c.node], nil, append([]string{"--json"}, c.args...)...)
		var doc any
		if got.rc != 0 || got.stderr != c.msg || json.Unmarshal([]byte(got.stdout), &doc) != nil {
			t.Errorf("%v: %+v", c.args, got)
			continue
		}
		compact, _ := json.Marshal(doc)
		var want any
		if err := json.Unmarshal([]byte(c.want), &want); err != nil {
			t.Fatalf("%v: bad expectation: %v", c.args, err)
		}
		wantCompact, _ := json.Marshal(want)
		if string(compact) != string(wantCompact) {
			t.Errorf("%v:\ngot  %s\nwant %s", c.args, compact, wantCompact)
		}
	}
	disableTakeoverRunsAnswer(t, fds[0], nil, nil)
	got := runTool(fds[0], nil, "--json", "reloadips", "all")
	want := "{\n  \"command\": \"reloadips\",\n  \"pnn\": 0,\n  \"changed\": true,\n  \"nodes\": [\n    0,\n    1,\n    2\n  ]\n}\n"
	checkResult(t, "reloadips --json", got, want, "", 0)
	// Errors are reported as without --json, and no document is printed.
	checkResult(t, "ipinfo --json", runTool(fds[2], nil, "--json", "ipinfo", "10.99.0.1"),
		"Node 2 does not know about IP 10.99.0.1\n", "Control GET_PUBLIC_IP_INFO failed, ret=-1\n", 1)
}
