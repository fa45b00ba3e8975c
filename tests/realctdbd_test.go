package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/sambatest"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// realCtdbdCluster starts n nodes of Debian's ctdbd 4.17 in test mode on a
// free loopback range (ctdbd has no cluster identity: a range of its own
// keeps it apart from other tests) and waits until every node is RUNNING
// and sees every node connected. Only the returned cluster's sockets are
// set. The
// daemons run in the foreground, each in a process group of its own that
// is killed at the end of the test with everything the daemon started.
func realCtdbdCluster(t *testing.T, n int) *localcluster.Cluster {
	t.Helper()
	const ctdbd = "/usr/sbin/ctdbd"
	if _, err := os.Stat(ctdbd); err != nil {
		t.Fatalf("Debian's ctdbd is not installed (make test installs the ctdb package): %v", err)
	}
	addrs := testutil.LoopbackRange(t, n, protocol.DefaultPort)
	dir := t.TempDir()
	var nodes strings.Builder
	for _, a := range addrs {
		fmt.Fprintln(&nodes, a)
	}
	lc := &localcluster.Cluster{}
	for k, a := range addrs {
		d := filepath.Join(dir, fmt.Sprintf("node%d", k))
		for _, sub := range []string{"run", "volatile", "persistent", "state", "var/scripts", "events/legacy"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		conf := fmt.Sprintf("[logging]\n\tlocation = file:%s/log.ctdb\n\tlog level = NOTICE\n[cluster]\n\tnode address = %s\n"+
			"[database]\n\tvolatile database directory = %s/volatile\n\tpersistent database directory = %s/persistent\n"+
			"\tstate database directory = %s/state\n", d, a, d, d, d)
		for name, content := range map[string]string{"nodes": nodes.String(), "ctdb.conf": conf} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []string{"00.ctdb", "05.system"} {
			if err := os.Symlink("/usr/share/ctdb/events/legacy/"+s, filepath.Join(d, "events/legacy", s)); err != nil {
				t.Fatal(err)
			}
		}
		startRealCtdbd(t, ctdbd, d)
		lc.Nodes = append(lc.Nodes, localcluster.Node{PNN: uint32(k), Socket: filepath.Join(d, "run", "ctdbd.socket")})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := lc.WaitFlags(ctx, clustertest.All(n), func(nm *protocol.NodeMap) error {
		for _, node := range nm.Nodes {
			if node.Flags&protocol.NodeFlagDisconnected != 0 {
				return fmt.Errorf("node %d is %s", node.PNN, protocol.NodeFlagsString(node.Flags))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("real ctdbd cluster not up: %v (logs in %s/node*/stderr)", err, dir)
	}
	return lc
}

// startRealCtdbd starts one ctdbd with CTDB_BASE d and registers its stop.
func startRealCtdbd(t *testing.T, ctdbd, d string) {
	t.Helper()
	out, err := os.Create(filepath.Join(d, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(ctdbd, "-i")
	cmd.Env = append(os.Environ(), "CTDB_TEST_MODE=yes", "CTDB_BASE="+d, "CTDB_SCRIPT_VARDIR="+filepath.Join(d, "var/scripts"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ctdbd in %s: %v", d, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// The group is the one made for this daemon: its event daemon
		// and helpers go with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
			if err := sambatest.ReapGroup(cmd.Process.Pid, 0, 10*time.Second); err != nil {
				t.Errorf("ctdbd's process group: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("ctdbd pid %d not reaped 10 s after SIGKILL", cmd.Process.Pid)
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(d, "stderr")); err == nil {
				t.Logf("%s/stderr:\n%s", d, lastLines(string(b), 20))
			}
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dialSocket opens a client on socket, closed at the end of the test.
func dialSocket(t *testing.T, socket string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
