package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// Command line handling: popt's syntax and messages, the unknown command,
// and what happens before a daemon is reached.

type cliCase struct {
	env    map[string]string
	args   []string
	stdout string // "*": anything but empty
	stderr string
	rc     int
}

func noDaemonEnv(t *testing.T) map[string]string {
	return map[string]string{"CTDB_SOCKET": "/nonexistent/ctdbd.socket", "CTDB_BASE": t.TempDir()}
}

func cliCases(t *testing.T) []cliCase {
	env := noDaemonEnv(t)
	base := env["CTDB_BASE"]
	connFail := "connect() failed, errno=2\nFailed to connect to CTDB daemon (/nonexistent/ctdbd.socket)\n" +
		"Failed to read nodes file \"" + base + "/nodes\"\nIs this node part of CTDB cluster?\n"
	bad := func(arg, msg string) string { return "Invalid option " + arg + ": " + msg + "\n" }
	badTimeout := map[string]string{"CTDB_TIMEOUT": "abc", "CTDB_SOCKET": env["CTDB_SOCKET"], "CTDB_BASE": base}
	return []cliCase{
		{env, []string{"nosuchcommand"}, "", "Unknown command 'nosuchcommand'\n", 1},
		{env, []string{"-n", "all", "ping"}, "", bad("all", "invalid numeric value"), 1},
		{env, []string{"-n", "1,2", "pnn"}, "", bad("1,2", "invalid numeric value"), 1},
		{env, []string{"-n"}, "", bad("-n", "missing argument"), 1},
		{env, []string{"--node"}, "", bad("--node", "missing argument"), 1},
		{env, []string{"-x"}, "", bad("-x", "missing argument"), 1},
		{env, []string{"--node=abc", "pnn"}, "", bad("--node=abc", "invalid numeric value"), 1},
		{env, []string{"-n=abc", "pnn"}, "", bad("-n=abc", "invalid numeric value"), 1},
		{env, []string{"-nX", "pnn"}, "", bad("-nX", "invalid numeric value"), 1},
		{env, []string{"-n", "-X", "pnn"}, "", bad("-X", "invalid numeric value"), 1},
		{env, []string{"-n", "0x", "pnn"}, "", bad("0x", "invalid numeric value"), 1},
		{env, []string{"-n", "08", "pnn"}, "", bad("08", "invalid numeric value"), 1},
		{env, []string{"-n", "1 ", "pnn"}, "", bad("1 ", "invalid numeric value"), 1},
		{env, []string{"-n", "99999999999", "pnn"}, "", bad("99999999999", "number too large or too small"), 1},
		{env, []string{"-n", "-2147483649", "pnn"}, "", bad("-2147483649", "number too large or too small"), 1},
		{env, []string{"-n", "99999999999999999999", "pnn"}, "", bad("99999999999999999999", "number too large or too small"), 1},
		{env, []string{"-t", "1.5", "pnn"}, "", bad("1.5", "invalid numeric value"), 1},
		{env, []string{"--timelimit", "abc"}, "", bad("abc", "invalid numeric value"), 1},
		{env, []string{"-T", "abc", "pnn"}, "", bad("abc", "invalid numeric value"), 1},
		{env, []string{"--foo", "pnn"}, "", bad("--foo", "unknown option"), 1},
		{env, []string{"--nod=1", "pnn"}, "", bad("--nod=1", "unknown option"), 1},
		{env, []string{"-q", "pnn"}, "", bad("-q", "unknown option"), 1},
		{env, []string{"-h", "pnn"}, "", bad("-h", "unknown option"), 1},
		{env, []string{"-Xq", "pnn"}, "", bad("-Xq", "unknown option"), 1},
		{env, []string{"--verbose=1", "pnn"}, "", bad("--verbose=1", "option does not take an argument"), 1},
		{env, []string{"-Y=1", "pnn"}, "", bad("-Y=1", "option does not take an argument"), 1},
		{env, []string{"nosuchcommand", "-n", "all"}, "", bad("all", "invalid numeric value"), 1},
		{env, []string{"-n", "1", "-t", "abc", "-n", "def", "pnn"}, "", bad("abc", "invalid numeric value"), 1},
		{env, []string{"-X", "--", "-n", "1"}, "", "Unknown command '-n'\n", 1},
		{env, []string{"-", "pnn"}, "", "Unknown command '-'\n", 1},
		{env, []string{}, "*", "", 1},
		{env, []string{"--help"}, "*", "", 0},
		{env, []string{"-?"}, "*", "", 0},
		{env, []string{"pnn", "--help"}, "*", "", 0},
		{env, []string{"-n", "1", "-?X"}, "*", "", 0},
		{env, []string{"--usage", "pnn"}, "*", "", 0},
		{badTimeout, []string{"nosuch"}, "", "Invalid value CTDB_TIMEOUT\n", 1},
		{badTimeout, []string{"-n", "abc", "nosuch"}, "", bad("abc", "invalid numeric value"), 1},
		{badTimeout, []string{}, "", "Invalid value CTDB_TIMEOUT\n", 1},
		{env, []string{"version"}, "4.17.12-Debian\n", "", 0},
		{env, []string{"-X", "-n", "-1", "version", "extra"}, "4.17.12-Debian\n", "", 0},
		{env, []string{"-n", "0", "version"}, "", "Cannot specify node for command version\n", 1},
		{env, []string{"-n", "1", "listnodes"}, "", "Cannot specify node for command listnodes\n", 1},
		{env, []string{"listnodes"}, "", "Failed to read nodes file \"" + base + "/nodes\"\n", 1},
		{env, []string{"pnn"}, "", connFail, 1},
		{env, []string{"-n1", "-Y", "--separator=,", "-d", "DEBUG", "-v", "--timelimit=3", "-T", "0x10", "status"}, "", connFail, 1},
		{env, []string{"pnn", "--", "-n", "1"}, "", connFail, 1},
		{env, []string{"-n", "", "pnn"}, "", connFail, 1},
		{env, []string{"-n", " +7", "pnn"}, "", connFail, 1},
		{env, []string{"-n", "-0x10", "pnn"}, "", connFail, 1},
		{env, []string{"-n", "-0x80000000", "pnn"}, "", connFail, 1},
	}
}

func TestCommandLine(t *testing.T) {
	for _, c := range cliCases(t) {
		got := runTool(nil, c.env, c.args...)
		if (c.stdout == "*" && got.stdout == "") || (c.stdout != "*" && got.stdout != c.stdout) ||
			got.stderr != c.stderr || got.rc != c.rc {
			t.Errorf("ctdb %q:\ngot  %q %q rc %d\nwant %q %q rc %d", c.args, got.stdout, got.stderr, got.rc, c.stdout, c.stderr, c.rc)
		}
	}
}

// TestCommandLineMatchesRealTool runs the same command lines through
// Samba's ctdb when it is installed (no daemon is needed for them).
func TestCommandLineMatchesRealTool(t *testing.T) {
	real, err := exec.LookPath("ctdb")
	if err != nil || real == "" {
		t.Skip("the real ctdb tool is not installed")
	}
	if out, err := exec.Command(real, "version").Output(); err != nil || !strings.HasPrefix(string(out), "4.17.") {
		t.Skipf("%s is not ctdb 4.17", real)
	}
	for _, c := range cliCases(t) {
		if c.stdout == "*" || len(c.args) == 0 {
			continue // help and usage texts differ
		}
		cmd := exec.Command(real, c.args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range c.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		rc := 0
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if out.String() != c.stdout || errb.String() != c.stderr || rc != c.rc {
			t.Errorf("real ctdb %q: %q %q rc %d; our expectation %q %q rc %d", c.args, out.String(), errb.String(), rc, c.stdout, c.stderr, c.rc)
		}
	}
}

func TestConnectFailureWithNodesFile(t *testing.T) {
	env := noDaemonEnv(t)
	nodes := filepath.Join(env["CTDB_BASE"], "nodes")
	head := "connect() failed, errno=2\nFailed to connect to CTDB daemon (/nonexistent/ctdbd.socket)\n"

	// An address of this host: the real tool says no more.
	os.WriteFile(nodes, []byte("127.0.0.1\n"), 0o644)
	if got := runTool(nil, env, "status"); got.stderr != head || got.rc != 1 {
		t.Errorf("own address: %+v", got)
	}
	// No address of this host (TEST-NET-1).
	os.WriteFile(nodes, []byte("192.0.2.1\n"), 0o644)
	want := head + "Failed to detect PNN of the current node.\nIs this node part of CTDB cluster?\n"
	if got := runTool(nil, env, "status"); got.stderr != want || got.rc != 1 {
		t.Errorf("foreign address: %+v", got)
	}
	// Test mode without CTDB_BASE: the real tool aborts.
	got := runTool(nil, map[string]string{"CTDB_TEST_MODE": "1"}, "pnn")
	if got.stderr != "Broken CTDB setup, CTDB_BASE not set in test mode\n" || got.rc != 134 {
		t.Errorf("test mode: %+v", got)
	}
}

func TestSocketPath(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "/run/ctdb/ctdbd.socket"},
		{map[string]string{"CTDB_BASE": "/b"}, "/run/ctdb/ctdbd.socket"},
		{map[string]string{"CTDB_BASE": "/b", "CTDB_TEST_MODE": "yes"}, "/b/run/ctdbd.socket"},
		{map[string]string{"CTDB_BASE": "/b", "CTDB_TEST_MODE": "yes", "CTDB_SOCKET": "/s"}, "/s"},
	} {
		tl := &tool{lookupEnv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }}
		if got, err := tl.socketPath(); err != nil || got != c.want {
			t.Errorf("%v: %q %v", c.env, got, err)
		}
		if got := tl.nodesFilePath(); got != map[bool]string{true: "/b/nodes", false: "/etc/ctdb/nodes"}[c.env["CTDB_BASE"] != ""] {
			t.Errorf("%v: nodes file %q", c.env, got)
		}
	}
}

func TestPoptTable(t *testing.T) {
	var cli CLI
	parser, err := kong.New(&cli, kong.NoDefaultHelp())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]poptOpt{}
	for _, o := range poptTable(parser.Model) {
		got[o.long] = o
	}
	for _, w := range []poptOpt{
		{"debug", 'd', optString}, {"timelimit", 't', optInt}, {"node", 'n', optInt},
		{"machinereadable", 'Y', optNone}, {"separator", 'x', optString}, {"machineparsable", 'X', optNone},
		{"verbose", 'v', optNone}, {"maxruntime", 'T', optInt}, {"json", 0, optNone},
		{"cluster", 0, optNone}, {"help", '?', optNone}, {"usage", 0, optNone},
	} {
		if got[w.long] != w {
			t.Errorf("%s: %+v, want %+v", w.long, got[w.long], w)
		}
	}
	if len(got) != 12 {
		t.Errorf("%d options", len(got))
	}
	// Every command of the grammar is in the command table and back.
	n := 0
	for _, c := range parser.Model.Children {
		n++
		if _, ok := commands[c.Name]; !ok {
			t.Errorf("command %s missing from the table", c.Name)
		}
	}
	if n != len(commands) {
		t.Errorf("%d commands in the grammar, %d in the table", n, len(commands))
	}
}

func TestPoptParse(t *testing.T) {
	var cli CLI
	parser, _ := kong.New(&cli, kong.NoDefaultHelp())
	table := poptTable(parser.Model)
	pr, perr := poptParse([]string{"ip", "-Xn1", "-v", "all", "--separator", "-", "-T=7", "--", "-x"}, table)
	if perr != nil {
		t.Fatal(perr)
	}
	want := []string{"--machineparsable", "--node=1", "--verbose", "--separator=-", "--maxruntime=7", "ip", "--", "all", "-x"}
	if got := pr.kongArgs(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if pr.intValue("maxruntime", 0) != 7 || pr.intValue("timelimit", 10) != 10 {
		t.Error("intValue")
	}
}

func TestMaxRuntime(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string // CTDB_TIMEOUT, "-" unset
		secs int64
		ok   bool
	}{
		{nil, "-", 120, true},
		{[]string{"-T", "5"}, "-", 5, true},
		{[]string{"-T", "5"}, "abc", 5, true},
		{nil, "30", 30, true},
		{nil, "30s", 30, true},
		{nil, "0x10", 16, true},
		{nil, "0", 0, true},
		{nil, "", 0, false},
		{nil, "-5", 0, false},
		{[]string{"-T", "-1"}, "-", 0, true},
	} {
		var cli CLI
		parser, _ := kong.New(&cli, kong.NoDefaultHelp())
		pr, _ := poptParse(c.args, poptTable(parser.Model))
		env := func(k string) (string, bool) {
			if k == "CTDB_TIMEOUT" && c.env != "-" {
				return c.env, true
			}
			return "", false
		}
		d, ok := maxRuntime(pr, env)
		if ok != c.ok || int64(d.Seconds()) != c.secs {
			t.Errorf("%v %q: %v %v", c.args, c.env, d, ok)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	got := runTool(nil, nil, "--json", "version")
	var doc map[string]string
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || got.rc != 0 {
		t.Fatalf("%+v: %v", got, err)
	}
	if doc["version"] != "4.17.12-Debian" || doc["implementation"] != "rctdb" || doc["rctdb_version"] == "" {
		t.Errorf("%v", doc)
	}
}
