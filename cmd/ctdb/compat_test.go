package main

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// The commands of 4.17's tool surface added for issue 14: dumpmemory,
// rddumpmemory, process-exists, getreclock, setleaderrole,
// setlmasterrole, checktcpport (and sync, the old name of ipreallocate).

// compatDaemon is a fake daemon that answers as a 4.17 node without a
// cluster lock whose only client is the tool: no process exists, role
// changes succeed.
func compatDaemon(t *testing.T) *fakeDaemon {
	fd := newFakeDaemon(t, 0)
	fd.leader = 0
	for _, op := range []protocol.Opcode{protocol.ControlGetReclockFile, protocol.ControlSetRecMasterRole, protocol.ControlSetLMasterRole} {
		fd.reply(op, 0, nil)
	}
	return fd
}

// TestCompatSamples runs our tool against the fake daemon for every
// capture of samples-compat.txt and requires the real tool's output,
// standard error and exit status.
func TestCompatSamples(t *testing.T) {
	samples := loadSamples(t, "samples-compat.txt")
	if len(samples) < 20 {
		t.Fatalf("only %d samples", len(samples))
	}
	for key, want := range samples {
		fd := compatDaemon(t)
		checkRun(t, key, runTool(fd, nil, args(key)...), want)
	}
}

// TestCompatControls checks what the commands send: the controls, their
// destination and data.
func TestCompatControls(t *testing.T) {
	cases := []struct {
		args []string
		op   protocol.Opcode
		dest uint32
		data string
	}{
		{[]string{"process-exists", "1234"}, protocol.ControlProcessExists, 0, "d2040000"},
		{[]string{"-n", "1", "process-exists", "1234", "0x77"}, protocol.ControlCheckPIDSrvID, 1, "d20400007700000000000000"},
		{[]string{"-n", "2", "setleaderrole", "off"}, protocol.ControlSetRecMasterRole, 2, "00000000"},
		{[]string{"setleaderrole", "on"}, protocol.ControlSetRecMasterRole, 0, "01000000"},
		{[]string{"-n", "1", "setlmasterrole", "off"}, protocol.ControlSetLMasterRole, 1, "00000000"},
		{[]string{"-n", "2", "getreclock"}, protocol.ControlGetReclockFile, 2, ""},
		{[]string{"-n", "1", "dumpmemory"}, protocol.ControlDumpMemory, 1, ""},
	}
	for _, tc := range cases {
		fd := compatDaemon(t)
		fd.on(protocol.ControlGetNodeMap, func(*protocol.ReqControl) (int32, []byte, bool) {
			return 0, threeNodes(0, 0, 0).Marshal(), true
		})
		fd.reply(protocol.ControlDumpMemory, 0, nil)
		runTool(fd, nil, tc.args...)
		var got []string
		for _, r := range controlsAfterStart(fd) {
			if r.Opcode != protocol.ControlGetNodeMap {
				got = append(got, fmt.Sprintf("%s %d %x", r.Opcode, r.DestNode, r.Data))
			}
		}
		if want := fmt.Sprintf("%s %d %s", tc.op, tc.dest, tc.data); strings.Join(got, ",") != want {
			t.Errorf("ctdb %v sent %v, want %s", tc.args, got, want)
		}
	}
}

func TestProcessExistsFound(t *testing.T) {
	fd := compatDaemon(t)
	fd.reply(protocol.ControlProcessExists, 0, nil)
	fd.reply(protocol.ControlCheckPIDSrvID, 0, nil)
	checkResult(t, "exists", runTool(fd, nil, "process-exists", "42"), "PID 42 exists\n", "", 0)
	checkResult(t, "with srvid", runTool(fd, nil, "process-exists", "42", "0xABC"), "PID 42 with SRVID 0xabc exists\n", "", 0)
	checkResult(t, "json", runTool(fd, nil, "--json", "process-exists", "42"), "{\n  \"pnn\": 0,\n  \"pid\": 42,\n  \"exists\": true\n}\n", "", 0)
}

func TestGetreclockConfigured(t *testing.T) {
	fd := compatDaemon(t)
	fd.reply(protocol.ControlGetReclockFile, 0, []byte("/shared/lock\x00"))
	checkResult(t, "reclock", runTool(fd, nil, "getreclock"), "/shared/lock\n", "", 0)
	fd.reply(protocol.ControlGetReclockFile, -1, nil)
	checkResult(t, "failed", runTool(fd, nil, "getreclock"), "", "Control GET_RECLOCK_FILE failed, ret=-1\n", 1)
}

func TestDumpmemory(t *testing.T) {
	fd := compatDaemon(t)
	report := "full talloc report on 'x' (total      3 bytes in   1 blocks)\n    a contains 3 bytes\n"
	fd.reply(protocol.ControlDumpMemory, 0, []byte(report))
	// Extra arguments are ignored, as control_dumpmemory ignores them.
	checkResult(t, "dumpmemory", runTool(fd, nil, "dumpmemory", "extra"), report, "", 0)
	fd.reply(protocol.ControlDumpMemory, -1, nil)
	checkResult(t, "failed", runTool(fd, nil, "dumpmemory"), "", "Control DUMP_MEMORY failed, ret=-1\n", 1)
}

// TestRddumpmemory: the request names the tool's node and a srvid of the
// tool's range that it registered; the report is printed up to its NUL.
func TestRddumpmemory(t *testing.T) {
	fd := compatDaemon(t)
	var got protocol.SrvIDMessage
	fd.onMessage(protocol.SrvIDMemDump, func(m protocol.ReqMessage, message func(uint64, []byte)) {
		if err := got.Unmarshal(m.Data); err != nil || len(m.Data) != 16 || m.DestNode != 0 {
			t.Errorf("MEM_DUMP request %x to %d: %v", m.Data, m.DestNode, err)
			return
		}
		message(got.SrvID, []byte("report\n\x00tail"))
	})
	checkResult(t, "rddumpmemory", runTool(fd, nil, "rddumpmemory"), "report\n", "", 0)
	if got.PNN != 0 || got.SrvID&0xFF00000000000000 != protocol.SrvIDToolRange {
		t.Errorf("reply address %+v", got)
	}
	registered := false
	for _, r := range fd.reqs() {
		if r.Opcode == protocol.ControlRegisterSrvID && r.SrvID == got.SrvID {
			registered = true
		}
	}
	if !registered {
		t.Errorf("reply srvid %#x not registered", got.SrvID)
	}

	// No answer: the wait ends at the -T limit only.
	silent := compatDaemon(t)
	silent.onMessage(protocol.SrvIDMemDump, func(protocol.ReqMessage, func(uint64, []byte)) {})
	checkResult(t, "no answer", runTool(silent, nil, "-T", "1", "rddumpmemory"), "", "Maximum runtime exceeded - exiting\n", 1)
}

// TestChecktcpportBusy: a port a listener holds on one address cannot be
// bound on the wildcard address; the real tool says so and exits with
// EADDRINUSE, and so does ours.
func TestChecktcpportBusy(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	want := runResult{"", "Failed to bind to TCP port " + port + "\n", 98}
	checkRun(t, "busy", runTool(nil, nil, "checktcpport", port), sample(want))
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := fmt.Sprint(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	checkResult(t, "free", runTool(nil, nil, "checktcpport", freePort), "", "", 0)
	// 65536 + port is the same port after htons.
	checkResult(t, "wrapped", runTool(nil, nil, "checktcpport", fmt.Sprint(65536+ln.Addr().(*net.TCPAddr).Port)),
		"", "Failed to bind to TCP port "+fmt.Sprint(65536+ln.Addr().(*net.TCPAddr).Port)+"\n", 98)

	real, err := exec.LookPath("ctdb")
	if err != nil {
		t.Fatal("Debian's ctdb tool is not installed (make test installs the ctdb package)")
	}
	var stderr strings.Builder
	cmd := exec.Command(real, "checktcpport", port)
	cmd.Stderr = &stderr
	err = cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	}
	checkRun(t, "real tool", runResult{"", stderr.String(), rc}, sample(want))
}

// TestFullUsageMatchesRealTool: the usage of every command (no command, or
// checktcpport's bad arguments) is the real tool's, but for the lines of
// commands we do not have.
func TestFullUsageMatchesRealTool(t *testing.T) {
	real, err := exec.LookPath("ctdb")
	if err != nil {
		t.Fatal("Debian's ctdb tool is not installed (make test installs the ctdb package)")
	}
	for _, args := range [][]string{{}, {"checktcpport"}, {"checktcpport", "1", "2"}} {
		var stdout strings.Builder
		cmd := exec.Command(real, args...)
		cmd.Env = []string{"CTDB_SOCKET=/nonexistent/ctdbd.socket"}
		cmd.Stdout = &stdout
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("real ctdb %v: %v", args, err)
		}
		var want strings.Builder
		inCommands := false
		for _, line := range strings.SplitAfter(stdout.String(), "\n") {
			if f := strings.Fields(line); inCommands && len(f) > 0 {
				if _, ours := commands[f[0]]; !ours {
					continue
				}
			}
			inCommands = inCommands || line == "Commands:\n"
			want.WriteString(line)
		}
		checkRun(t, strings.Join(args, " "), runTool(nil, nil, args...), sample{stdout: want.String(), rc: 1})
	}
}

func TestCompatJSON(t *testing.T) {
	fd := compatDaemon(t)
	fd.reply(protocol.ControlDumpMemory, 0, []byte("r\n"))
	checkResult(t, "dumpmemory", runTool(fd, nil, "--json", "dumpmemory"), "{\n  \"pnn\": 0,\n  \"report\": \"r\\n\"\n}\n", "", 0)
	checkResult(t, "getreclock", runTool(fd, nil, "--json", "getreclock"), "{\n  \"pnn\": 0,\n  \"reclock\": null\n}\n", "", 0)
	checkResult(t, "setleaderrole", runTool(fd, nil, "--json", "setleaderrole", "off"),
		"{\n  \"command\": \"setleaderrole\",\n  \"pnn\": 0,\n  \"changed\": true\n}\n", "", 0)
	checkResult(t, "process-exists", runTool(fd, nil, "--json", "process-exists", "7", "0x10"),
		"{\n  \"pnn\": 0,\n  \"pid\": 7,\n  \"srvid\": 16,\n  \"exists\": false\n}\n", "", 1)
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	checkResult(t, "checktcpport", runTool(nil, nil, "--json", "checktcpport", fmt.Sprint(port)),
		fmt.Sprintf("{\n  \"port\": %d,\n  \"free\": true\n}\n", port), "", 0)
}
