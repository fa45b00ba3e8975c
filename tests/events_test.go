package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// nodeEventTool runs a ctdb tool's event commands against node pnn: they
// reach the node's eventd.socket through test mode, as with 4.17.
func nodeEventTool(t *testing.T, bin string, c *localcluster.Cluster, pnn uint32, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+c.Nodes[pnn].Socket, "CTDB_TEST_MODE=1", "CTDB_BASE="+c.Nodes[pnn].Dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), rc
}

// flagsOf returns node pnn's flags as observer sees them.
func flagsOf(c *localcluster.Cluster, observer, pnn uint32) (uint32, error) {
	v, err := observe(c, observer)
	if err != nil {
		return 0, err
	}
	if int(pnn) >= len(v.Flags) {
		return 0, fmt.Errorf("node %d shows %d nodes", observer, len(v.Flags))
	}
	return v.Flags[pnn], nil
}

// everyoneSees waits until every running node shows node pnn's flags
// pass check, and returns how long that took from start.
func everyoneSees(t *testing.T, c *localcluster.Cluster, start time.Time, timeout time.Duration, what string, pnn uint32, check func(uint32) bool) time.Duration {
	t.Helper()
	return waitSince(t, start, timeout, what, func() error {
		for o := range c.Nodes {
			if !c.Alive(uint32(o)) {
				continue
			}
			f, err := flagsOf(c, uint32(o), pnn)
			if err != nil {
				return err
			}
			if !check(f) {
				return fmt.Errorf("node %d shows node %d as %s", o, pnn, protocol.NodeFlagsString(f))
			}
		}
		return nil
	})
}

func unhealthy(f uint32) bool { return f&protocol.NodeFlagUnhealthy != 0 }
func healthy(f uint32) bool   { return f == 0 }

// pidsUnder lists the processes whose command line mentions dir.
func pidsUnder(dir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(dir)) {
			out = append(out, pid)
		}
	}
	return out
}

// killUnder kills every process whose command line mentions dir: what
// the scripts started (smbd daemonises out of every process group the
// test knows).
func killUnder(dir string) {
	for _, pid := range pidsUnder(dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// hungScripts are synthetic scripts for the tests of the runner inside
// the daemon: one that hangs in monitor while $CTDB_BASE/hang exists, one
// that fails it while $CTDB_BASE/fail exists, one not executable, one a
// dangling link (added by the test), one writing garbage.
var hungScripts = map[string]string{
	"events/legacy/20.hang.script": `#!/bin/sh
if [ "$1" = monitor ] && [ -e "$CTDB_BASE/hang" ]; then
	echo $$ > "$CTDB_BASE/hung.pid"
	echo "hanging in monitor"
	sleep 3600
fi
exit 0
`,
	"events/legacy/21.fail.script": `#!/bin/sh
if [ "$1" = monitor ] && [ -e "$CTDB_BASE/fail" ]; then
	echo "service is down"
	exit 1
fi
echo "$1" >> "$CTDB_BASE/events.log"
exit 0
`,
	"events/legacy/30.garbage.script": "#!/bin/sh\nprintf 'bin\\001\\002\\377ary\\000after NUL'\nexit 0\n",
	"debug-hung.sh": `#!/bin/sh
echo "debugging pid $1 event $2: $(tr '\0' ' ' < /proc/$1/cmdline)"
`,
	"notify.sh": "#!/bin/sh\necho \"$1\" >> \"$CTDB_BASE/notified\"\n",
}

// TestEventScriptsInTheDaemon: synthetic scripts on a loopback cluster.
// Every event of a node's life runs in order; a failing monitor makes the
// node UNHEALTHY everywhere and a passing one healthy again, with the
// notifications; a monitor that hangs is killed at EventScriptTimeout,
// the debug script's output is logged, the node goes UNHEALTHY
// (MonitorTimeoutCount 1), and the daemon answers its clients meanwhile;
// scripts that are not executable, dangle or write garbage take nothing
// down; Debian's ctdb and ours print the same event status and script
// list.
func TestEventScriptsInTheDaemon(t *testing.T) {
	c := clusterWith(t, localcluster.Options{N: 2, Extra: "[event]\n\tdebug script = debug-hung.sh\n",
		Prepare: func(pnn uint32, dir string) error {
			if err := eventstest.LayOut(dir, nil, hungScripts); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "events/legacy/10.off.script"), []byte("#!/bin/sh\necho never\n"), 0o644)
		}})
	t.Cleanup(func() { killUnder(c.Base) })
	dir := c.Nodes[1].Dir
	b, _ := os.ReadFile(filepath.Join(dir, "events.log"))
	seen := strings.Fields(string(b))
	var life []string
	for _, e := range seen {
		if e != "startrecovery" && e != "recovered" {
			life = append(life, e)
		}
	}
	if len(life) < 4 || strings.Join(life[:4], " ") != "init setup startup monitor" ||
		slices.Index(seen, "recovered") > slices.Index(seen, "startup") || slices.Index(seen, "startrecovery") < slices.Index(seen, "setup") {
		t.Fatalf("events seen by a script: %v, want init setup (startrecovery recovered) startup monitor ...", seen)
	}

	// A dangling script fails every event: the node goes UNHEALTHY, and
	// a daemon restarted so comes up all the same (4.17 would exit at
	// init) and gets healthy once the script is gone.
	setEveryNode(t, c, "MonitorInterval", "2")
	dangling := filepath.Join(dir, "events/legacy/40.dangling.script")
	if err := os.Symlink(filepath.Join(dir, "missing"), dangling); err != nil {
		t.Fatal(err)
	}
	everyoneSees(t, c, time.Now(), 10*time.Second, "node 1 unhealthy: a dangling script", 1, unhealthy)
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "node 1 up, in INIT", func() error {
		out, _, rc := tool(t, c, 1, "runstate")
		if rc != 0 || !strings.Contains(out, "INIT") {
			return fmt.Errorf("ctdb runstate: rc=%d %q", rc, out)
		}
		return nil
	})
	os.Remove(dangling)
	d := everyoneSees(t, c, time.Now(), 30*time.Second, "node 1 healthy", 1, healthy)
	t.Logf("dangling script removed: node 1 (restarted) healthy everywhere after %v", d.Round(time.Millisecond))

	// A failing monitor, then a passing one.
	start := time.Now()
	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644)
	d = everyoneSees(t, c, start, 10*time.Second, "node 1 unhealthy after a failed monitor", 1, unhealthy)
	t.Logf("monitor failed: node 1 UNHEALTHY everywhere after %v (MonitorInterval 2s)", d.Round(time.Millisecond))
	os.Remove(filepath.Join(dir, "fail"))
	start = time.Now()
	d = everyoneSees(t, c, start, 10*time.Second, "node 1 healthy after a passing monitor", 1, healthy)
	t.Logf("monitor passed again: node 1 healthy everywhere after %v", d.Round(time.Millisecond))
	waitUntil(t, 5*time.Second, "notifications", func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "notified"))
		if got, want := strings.Join(strings.Fields(string(b)), " "), "init setup startup healthy unhealthy init setup startup healthy unhealthy healthy"; got != want {
			return fmt.Errorf("notified %q, want %q", got, want)
		}
		return nil
	})

	// Debian's tool and ours agree on the event status and script list.
	status := func(bin string, args ...string) string {
		out, errs, rc := nodeEventTool(t, bin, c, 1, args...)
		return fmt.Sprintf("rc=%d\n%s%s", rc, normaliseEventStatus(out), errs)
	}
	for _, args := range [][]string{{"event", "status", "legacy", "monitor"}, {"event", "script", "list", "legacy"}, {"scriptstatus"}, {"event", "status", "legacy", "stopped"}} {
		real, ours := status(realCtdb(t), args...), status(filepath.Join(binDir, "ctdb"), args...)
		if real != ours {
			t.Errorf("ctdb %s: Debian's tool and ours differ:\n--- Debian\n%s--- ours\n%s", strings.Join(args, " "), real, ours)
		}
		if len(args) == 4 && args[1] == "status" && args[3] == "monitor" {
			for _, want := range []string{"10.off               DISABLED", "20.hang              OK", "30.garbage           OK"} {
				if !strings.Contains(real, want) {
					t.Errorf("ctdb event status legacy monitor lacks %q:\n%s", want, real)
				}
			}
		}
	}

	// A monitor that hangs.
	setEveryNode(t, c, "EventScriptTimeout", "3")
	setEveryNode(t, c, "MonitorTimeoutCount", "1")
	os.WriteFile(filepath.Join(dir, "hang"), nil, 0o644)
	start = time.Now()
	var hung int
	waitUntil(t, 15*time.Second, "the monitor to hang", func() error {
		b, err := os.ReadFile(filepath.Join(dir, "hung.pid"))
		if err != nil {
			return err
		}
		hung, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	// The daemon answers while the script hangs.
	var slowest time.Duration
	for syscall.Kill(hung, 0) == nil && time.Since(start) < 20*time.Second {
		t0 := time.Now()
		mustTool(t, c, 1, "status")
		slowest = max(slowest, time.Since(t0))
	}
	if slowest > 2*time.Second {
		t.Errorf("ctdb status took up to %v while a script hung", slowest)
	}
	d = everyoneSees(t, c, start, 20*time.Second, "node 1 unhealthy after a monitor timeout", 1, unhealthy)
	t.Logf("hung monitor: killed, node 1 UNHEALTHY everywhere after %v (EventScriptTimeout 3s); ctdb status took at most %v meanwhile", d.Round(time.Millisecond), slowest.Round(time.Millisecond))
	if syscall.Kill(hung, 0) == nil {
		t.Errorf("the hung script (pid %d) still runs", hung)
	}
	log := readLog(t, c, 1)
	for _, want := range []string{"debugging pid " + strconv.Itoa(hung) + " event monitor", "monitor event failed - disabling node"} {
		if !strings.Contains(log, want) {
			t.Errorf("node 1's log lacks %q", want)
		}
	}
	for _, want := range []string{"10.off", "30.garbage"} {
		if !strings.Contains(log, want) {
			t.Errorf("node 1's log never names script %s", want)
		}
	}
	os.Remove(filepath.Join(dir, "hang"))
	everyoneSees(t, c, time.Now(), 20*time.Second, "node 1 healthy after the hang", 1, healthy)
	if !c.Alive(0) || !c.Alive(1) {
		t.Fatal("a daemon died")
	}
}

// normaliseEventStatus removes what differs between two runs of the same
// scripts: durations and start times.
func normaliseEventStatus(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && (f[1] == "OK" || f[1] == "ERROR") {
			l = fmt.Sprintf("%-20s %-10s D.DDD CTIME\n", f[0], f[1])
		}
		b.WriteString(l)
	}
	return b.String()
}
