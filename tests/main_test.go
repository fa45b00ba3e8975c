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

	"go.uber.org/goleak"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// binDir holds the ctdbd and ctdb-local built for this run.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("RCTDB_WORKER") != "" {
		os.Exit(runWorker())
	}
	dir, err := os.MkdirTemp("", "rctdb-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, cmd := range []string{"ctdbd", "ctdb-local", "ctdb"} {
		b := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "github.com/rctdb/rctdb/cmd/"+cmd)
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if err := b.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", cmd, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if err := goleak.Find(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
		code = 1
	}
	os.Exit(code)
}

// realCtdb is Debian's ctdb 4.17 tool.
func realCtdb(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ctdb")
	if err != nil {
		t.Fatal("Debian's ctdb tool is not installed (make test installs the ctdb package)")
	}
	return p
}

// cluster starts an n-node cluster in a fresh directory and address range;
// on failure the tail of every node's log is printed.
func cluster(t *testing.T, n int) *localcluster.Cluster {
	t.Helper()
	return clusterWith(t, localcluster.Options{N: n})
}

// clusterWith is cluster with more options.
func clusterWith(t *testing.T, opts localcluster.Options) *localcluster.Cluster {
	t.Helper()
	n := opts.N
	base, err := os.MkdirTemp("", "rctdb-it")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout+30*time.Second)
	defer cancel()
	start := time.Now()
	opts.Base, opts.Ctdbd = base, filepath.Join(binDir, "ctdbd")
	c, err := localcluster.Up(ctx, opts)
	if c != nil {
		t.Cleanup(func() {
			c.Down(context.Background())
			if t.Failed() {
				dumpLogs(t, c)
			}
			os.RemoveAll(base)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-node cluster up, all OK after %v", n, time.Since(start).Round(time.Millisecond))
	return c
}

// dumpLogs keeps the failed cluster's logs in a directory that survives the
// test and logs only each node's last warnings, so that the test's own
// failure messages stay near the end of the output where CI shows them.
func dumpLogs(t *testing.T, c *localcluster.Cluster) {
	keep, err := os.MkdirTemp("", "rctdb-failed-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Logf("keep logs: %v", err)
		return
	}
	for _, n := range c.Nodes {
		var warnings []string
		for _, f := range []string{"log.ctdb", "stderr"} {
			b, _ := os.ReadFile(filepath.Join(n.Dir, f))
			os.WriteFile(filepath.Join(keep, fmt.Sprintf("node%d.%s", n.PNN, f)), b, 0o644)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					warnings = append(warnings, l)
				}
			}
		}
		if len(warnings) > 3 {
			warnings = warnings[len(warnings)-3:]
		}
		t.Logf("node %d: last warnings:\n%s", n.PNN, strings.Join(warnings, "\n"))
	}
	t.Logf("cluster logs kept in %s", keep)
}

// tool runs Debian's ctdb against node pnn's socket.
func tool(t *testing.T, c *localcluster.Cluster, pnn uint32, args ...string) (stdout, stderr string, rc int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, realCtdb(t), args...)
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+c.Nodes[pnn].Socket)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ctdb %v: %v", args, err)
		}
		rc = ee.ExitCode()
	}
	return out.String(), errb.String(), rc
}

// mustTool runs the tool and requires exit status 0.
func mustTool(t *testing.T, c *localcluster.Cluster, pnn uint32, args ...string) string {
	t.Helper()
	out, errs, rc := tool(t, c, pnn, args...)
	if rc != 0 {
		t.Fatalf("ctdb %s on node %d: rc=%d\nstdout: %s\nstderr: %s", strings.Join(args, " "), pnn, rc, out, errs)
	}
	return out
}

// observe asks node pnn for its view.
func observe(c *localcluster.Cluster, pnn uint32) (clustertest.View, error) {
	return clustertest.Observe(context.Background(), c, pnn)
}

// waitUntil polls cond until it holds; it returns how long it took, or
// fails the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return testutil.WaitFor(t, timeout, what, cond)
}

// waitSince is waitUntil measuring from start.
func waitSince(t *testing.T, start time.Time, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return testutil.WaitSince(t, start, timeout, what, cond)
}

// agreed checks once that the observers agree (clustertest.Agreed: one
// leader, one generation, out of recovery, RUNNING) and show want; it
// returns the leader. Use it inside a wait.
func agreed(c *localcluster.Cluster, observers []uint32, want map[uint32]uint32) (uint32, error) {
	v, err := clustertest.Agreed(context.Background(), c, clustertest.Want{Observers: observers, Flags: want})
	return v.Leader, err
}

func others(n int, not ...uint32) []uint32 {
	var out []uint32
	for p := uint32(0); p < uint32(n); p++ {
		skip := false
		for _, x := range not {
			skip = skip || x == p
		}
		if !skip {
			out = append(out, p)
		}
	}
	return out
}

const dead = protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy
