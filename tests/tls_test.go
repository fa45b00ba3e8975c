package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/nodecert"
	"github.com/rctdb/rctdb/protocol"
)

// nodeLog follows a node's log.ctdb from a mark, so that a check sees only
// what was logged after it.
type nodeLog struct {
	path string
	from int64
}

func markLog(t *testing.T, c *localcluster.Cluster, pnn uint32) nodeLog {
	t.Helper()
	path := filepath.Join(c.Nodes[pnn].Dir, "log.ctdb")
	var from int64
	if st, err := os.Stat(path); err == nil {
		from = st.Size()
	}
	return nodeLog{path: path, from: from}
}

// lineWith returns the first line after the mark that holds every word.
func (l nodeLog) lineWith(words ...string) (string, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(l.from, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		ok := line != ""
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			return line, nil
		}
	}
	return "", fmt.Errorf("no line with %q in %s", words, l.path)
}

// waitLine waits for a line after the mark that holds every word, and
// logs it.
func (l nodeLog) waitLine(t *testing.T, what string, words ...string) {
	t.Helper()
	waitUntil(t, 30*time.Second, what, func() error {
		line, err := l.lineWith(words...)
		if err == nil {
			t.Logf("%s: %s", what, line)
		}
		return err
	})
}

// waitCtx bounds a wait of the cluster for a test.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setTLSMode rewrites node pnn's [tls] mode.
func setTLSMode(t *testing.T, c *localcluster.Cluster, pnn uint32, from, to string) {
	t.Helper()
	path := c.Nodes[pnn].Config
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "mode = "+from, "mode = "+to, 1)
	if s == string(b) {
		t.Fatalf("%s has no \"mode = %s\"", path, from)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTLSNodeLinks: a 3-node cluster with mutual TLS forms and serves; a
// node with a certificate of another CA, and then one with TLS off, are
// refused (node 0's log says so) while nodes 0 and 1 keep serving; a
// renewed certificate written under the running node is taken at its next
// connection, and the cluster is whole again without a restart.
func TestTLSNodeLinks(t *testing.T) {
	c := clusterWith(t, localcluster.Options{N: 3, TLS: true})
	for p := range c.Nodes {
		if _, err := (nodeLog{path: filepath.Join(c.Nodes[p].Dir, "log.ctdb")}).lineWith("transport listening", "tls=true"); err != nil {
			t.Fatalf("node %d: %v", p, err)
		}
	}
	mustTool(t, c, 0, "attach", pdb, "persistent")
	serves := func(value string, writer uint32, readers ...uint32) {
		t.Helper()
		mustTool(t, c, writer, "pstore", pdb, "key", value)
		for _, p := range readers {
			if out := mustTool(t, c, p, "pfetch", pdb, "key"); out != value+"\n" {
				t.Fatalf("pfetch through node %d: %q, want %q", p, out, value)
			}
		}
	}
	serves("all-three", 0, 1, 2)
	addr2 := c.Nodes[2].Addr

	// Node 2 gets the CA and a certificate of another cluster.
	if err := c.Stop(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rogue, err := nodecert.NewCA("another cluster", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := rogue.WriteNode(c.TLSFiles(2), "node 2", []netip.Addr{netip.MustParseAddr(addr2)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	log0, log2 := markLog(t, c, 0), markLog(t, c, 2)
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	log0.waitLine(t, "node 0 refuses node 2 (another CA)", "refused connection", "remote="+addr2, "does not accept this node's certificate")
	log2.waitLine(t, "node 2 finds node 0's certificate of an unknown authority", "connect to node failed", "certificate signed by unknown authority")
	serves("two-of-three", 0, 1)
	if err := c.WaitFlags(waitCtx(t), []uint32{0, 1}, func(nm *protocol.NodeMap) error {
		if n, _ := nm.Node(2); n.Flags&protocol.NodeFlagDisconnected == 0 {
			return fmt.Errorf("node 2 is %s", protocol.NodeFlagsString(n.Flags))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Node 2 without TLS.
	if err := c.Stop(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	setTLSMode(t, c, 2, "on", "off")
	log0, log2 = markLog(t, c, 0), markLog(t, c, 2)
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	log0.waitLine(t, "node 0 refuses node 2 (plaintext)", "refused connection", "remote="+addr2, "not TLS")
	log2.waitLine(t, "node 2 refuses node 0's TLS dial", "refused connection", "this node has TLS off")
	serves("still-two", 1, 0)

	// Node 2 back on TLS with the other CA's files; then its renewed
	// certificate of the cluster CA is written under the running daemon.
	if err := c.Stop(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	setTLSMode(t, c, 2, "off", "on")
	log2 = markLog(t, c, 2)
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	pid := c.Nodes[2].PID
	log2.waitLine(t, "node 2 runs with the other CA's certificate", "connect to node failed", "certificate signed by unknown authority")
	if err := c.IssueNodeCert(2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := log2.lineWith("certificates reloaded"); err != nil {
		t.Fatal(err)
	}
	if c.Nodes[2].PID != pid || !c.Alive(2) {
		t.Fatal("node 2 was restarted")
	}
	serves("whole-again", 2, 0, 1)
}

// TestUnprivilegedClient: a process that is not root (uid 65534) gets
// EACCES for controls that change state, from our tool and Debian's,
// and normal answers for reads. The socket's mode (0600, in a 0700
// directory, as 4.17 keeps it) would stop such a process at connect: the
// test opens both for it.
func TestUnprivilegedClient(t *testing.T) {
	c := cluster(t, 1)
	sock := c.Nodes[0].Socket
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %o, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(filepath.Dir(sock)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("socket directory: %v, want mode 0700", dst.Mode().Perm())
	}
	for d := filepath.Dir(sock); d != filepath.Dir(c.Base); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	// Our tool, where uid 65534 can run it.
	bin, err := os.MkdirTemp("", "rctdb-unpriv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	ours := filepath.Join(bin, "ctdb")
	if b, err := os.ReadFile(filepath.Join(binDir, "ctdb")); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(ours, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(tool string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Env = append(os.Environ(), "CTDB_SOCKET="+sock)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %v: %v", tool, args, err)
		}
		return out.String(), 0
	}
	log0 := markLog(t, c, 0)
	for _, tool := range []string{ours, realCtdb(t)} {
		name := "Debian's ctdb"
		if tool == ours {
			name = "our ctdb"
		}
		for _, args := range [][]string{{"setvar", "RecoverInterval", "5"}, {"ban", "30"}, {"disable"}, {"attach", "x.tdb"}} {
			out, rc := asNobody(tool, args...)
			if rc == 0 || !strings.Contains(out, "ret=-13") {
				t.Errorf("%s %v as uid 65534: rc=%d\n%s", name, args, rc, out)
			}
			if tool == ours && args[0] == "setvar" && !strings.Contains(out, "permission denied (EACCES): control SET_TUNABLE needs root") {
				t.Errorf("our ctdb does not say why setvar failed:\n%s", out)
			}
		}
		for _, args := range [][]string{{"getvar", "RecoverInterval"}, {"status"}, {"listvars"}, {"pnn"}} {
			if out, rc := asNobody(tool, args...); rc != 0 {
				t.Errorf("%s %v as uid 65534: rc=%d\n%s", name, args, rc, out)
			}
		}
	}
	if out := mustTool(t, c, 0, "getvar", "RecoverInterval"); !strings.HasSuffix(out, "= 1\n") {
		t.Errorf("a refused setvar changed the tunable: %q", out)
	}
	if _, err := log0.lineWith("refused a request of an unprivileged client", "uid=65534", "request=SET_TUNABLE"); err != nil {
		t.Error(err)
	}
	// Root still may.
	mustTool(t, c, 0, "setvar", "RecoverInterval", "2")
	if out := mustTool(t, c, 0, "getvar", "RecoverInterval"); !strings.HasSuffix(out, "= 2\n") {
		t.Errorf("root's setvar: getvar says %q", out)
	}
}
