package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/netrig"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// A 3-node cluster of the real ctdbd 4.17 with public addresses, built as
// in Appendix A of the failover reference: the daemons run in test mode in
// the root network namespace, on loopback addresses; each node's event
// daemon runs in a network namespace of its own, joined to a bridge in the
// root namespace by a veth pair, so that 10.interface adds and removes the
// public addresses there. The public interface has the same name in the
// root namespace (the bridge, which ctdbd checks when it loads its
// addresses) and in each node's namespace (the veth end). Names carry a
// random suffix so that parallel runs never meet; the root namespace gets
// no address and no route of the public subnet.
//
// Nodes 0 and 1 have the public addresses SUBNET.1-3; node 2 has none. The
// monitor and startup events of 10.interface are skipped (they need
// ethtool, and would reset the link states the tests set), and takeip of
// an address already present succeeds, as test mode sends takeip for
// addresses a node holds.

// ipCluster is the running cluster.
type ipCluster struct {
	t        *testing.T
	dir      string
	iface    string // the public interface's name
	subnet   string // "10.A.B." of the public addresses
	netns    []string
	nodes    []*ipNode
	realTool string
}

// ipNode is one ctdbd this test started.
type ipNode struct {
	base   string // its CTDB_BASE
	socket string
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process is reaped
}

// ipClusterNodesWithAddresses is how many nodes (from 0) have public
// addresses.
const ipClusterNodesWithAddresses = 2

// realCtdbBinaries returns the real ctdbd and ctdb tool, or skips the test
// when Debian's ctdb 4.17 is not installed (as the other real-tool tests
// do).
func realCtdbBinaries(t *testing.T) (ctdbd, tool string) {
	t.Helper()
	for _, p := range []string{"/usr/sbin/ctdbd", "/usr/bin/ctdb", "/usr/libexec/ctdb/ctdb-eventd",
		"/usr/share/ctdb/events/legacy/10.interface.script"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Debian's ctdb is not installed: %v", err)
		}
	}
	out, err := exec.Command("/usr/bin/ctdb", "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "4.17.") {
		t.Skipf("/usr/bin/ctdb is not ctdb 4.17: %q %v", out, err)
	}
	return "/usr/sbin/ctdbd", "/usr/bin/ctdb"
}

// sh runs a command of the setup, failing the test when it fails.
func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// startIPCluster builds the network, starts the three daemons and waits
// until every node is OK and every public address is hosted. Everything
// is removed at the end of the test, also when it fails.
func startIPCluster(t *testing.T) *ipCluster {
	ctdbd, tool := realCtdbBinaries(t)
	// The names come from a netrig claim, so that a run killed before its
	// cleanup leaves nothing a later run does not remove.
	claim, err := netrig.NewClaim()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := claim.Release(); err != nil {
			t.Error(err)
		}
	})
	b := make([]byte, 2)
	rand.Read(b)
	c := &ipCluster{t: t, dir: t.TempDir(), iface: claim.Name("pub"),
		subnet: fmt.Sprintf("10.%d.%d.", b[0], b[1]), realTool: tool}
	addrs := testutil.LoopbackRange(t, 3, protocol.DefaultPort)

	sh(t, "ip", "link", "add", c.iface, "type", "bridge")
	sh(t, "ip", "link", "set", c.iface, "up")
	for k := range addrs {
		ns := claim.Name(fmt.Sprintf("n%d", k))
		c.netns = append(c.netns, ns)
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
		peer := claim.Name(fmt.Sprintf("p%d", k))
		sh(t, "ip", "link", "add", peer, "type", "veth", "peer", "name", c.iface, "netns", ns)
		sh(t, "ip", "link", "set", peer, "master", c.iface, "up")
		sh(t, "ip", "-n", ns, "link", "set", c.iface, "up")
	}

	bin := filepath.Join(c.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The scripts' firewall rules need iptables, which is not installed
	// here; they would only log its absence.
	for _, name := range []string{"iptables", "ip6tables"} {
		writeFile(t, filepath.Join(bin, name), "#!/bin/sh\nexit 0\n", 0o755)
	}
	t.Cleanup(c.stop)
	for k, a := range addrs {
		c.nodes = append(c.nodes, c.startNode(ctdbd, bin, k, a, addrs))
	}
	c.waitReady()
	return c
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// interfaceShim is the node's 10.interface: the packaged script, except
// for the link monitoring and for takeip of an address already present.
const interfaceShim = `#!/bin/sh
case "$1" in
startup|monitor) exit 0 ;;
takeip)
	if [ -n "$(ip -o addr show dev "$2" to "$3/32")" ]; then
		echo "redundant takeip $3 on $2"
		exit 0
	fi
	;;
esac
exec /usr/share/ctdb/events/legacy/10.interface.script "$@"
`

// startNode lays out node k's CTDB_BASE and starts its ctdbd in the
// foreground (-i), in a process group of its own that takes its event
// daemon and helpers along.
func (c *ipCluster) startNode(ctdbd, bin string, k int, addr netip.Addr, all []netip.Addr) *ipNode {
	t := c.t
	d := filepath.Join(c.dir, fmt.Sprintf("node%d", k))
	for _, sub := range []string{"run", "volatile", "persistent", "state", "var/scripts", "events/legacy"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var nodes strings.Builder
	for _, a := range all {
		fmt.Fprintln(&nodes, a)
	}
	writeFile(t, filepath.Join(d, "nodes"), nodes.String(), 0o644)
	if k < ipClusterNodesWithAddresses {
		writeFile(t, filepath.Join(d, "public_addresses"), c.publicAddresses(1, 2, 3), 0o644)
	}
	writeFile(t, filepath.Join(d, "ctdb.conf"), fmt.Sprintf("[logging]\n\tlocation = file:%s/log.ctdb\n\tlog level = NOTICE\n"+
		"[cluster]\n\tnode address = %s\n[database]\n\tvolatile database directory = %s/volatile\n"+
		"\tpersistent database directory = %s/persistent\n\tstate database directory = %s/state\n", d, addr, d, d, d), 0o644)
	for _, f := range []string{"functions", "notify.sh", "debug-hung-script.sh", "script.options"} {
		data, err := os.ReadFile(filepath.Join("/etc/ctdb", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, f), string(data), 0o755)
	}
	if err := os.Symlink("/usr/share/ctdb", filepath.Join(d, "share")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d, "events/legacy/10.interface.script"), interfaceShim, 0o755)
	eventd := filepath.Join(d, "ctdb-eventd")
	writeFile(t, eventd, fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s /usr/libexec/ctdb/ctdb-eventd \"$@\"\n", c.netns[k]), 0o755)

	log, err := os.Create(filepath.Join(d, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(ctdbd, "-i")
	cmd.Env = []string{"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "CTDB_TEST_MODE=yes", "CTDB_BASE=" + d,
		"CTDB_SCRIPT_VARDIR=" + filepath.Join(d, "var/scripts"), "CTDB_EVENTD=" + eventd}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ctdbd of node %d: %v", k, err)
	}
	n := &ipNode{base: d, socket: filepath.Join(d, "run", "ctdbd.socket"), cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(n.done)
	}()
	return n
}

// publicAddresses is a public_addresses file with SUBNET.i/24 on the
// public interface for each i.
func (c *ipCluster) publicAddresses(hosts ...int) string {
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s%d/24 %s\n", c.subnet, h, c.iface)
	}
	return b.String()
}

// stop shuts the daemons down, then kills what is left of each node's
// process group.
func (c *ipCluster) stop() {
	for _, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if cl, err := client.Connect(ctx, n.socket); err == nil {
			cl.Shutdown(protocol.CurrentNode)
			cl.Close()
		}
		cancel()
	}
	for _, n := range c.nodes {
		tm := time.NewTimer(10 * time.Second)
		select {
		case <-n.done:
		case <-tm.C:
		}
		tm.Stop()
		pg := n.cmd.Process.Pid
		syscall.Kill(-pg, syscall.SIGKILL)
		<-n.done
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(-pg, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c.t.Failed() {
		// In the foreground (-i) ctdbd logs to its standard error.
		for k, n := range c.nodes {
			if log, err := os.ReadFile(filepath.Join(n.base, "stderr")); err == nil {
				c.t.Logf("node %d log (end):\n%s", k, tail(log, 4000))
			}
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitReady waits until every node is RUNNING and OK in every node's
// view, and every public address is hosted.
func (c *ipCluster) waitReady() {
	testutil.WaitFor(c.t, 90*time.Second, "all nodes OK", func() error {
		for k, n := range c.nodes {
			if err := nodeOK(n.socket, len(c.nodes)); err != nil {
				return fmt.Errorf("node %d: %w", k, err)
			}
		}
		return nil
	})
	// The first takeover runs put every address on the first node to be
	// healthy, the next ones move some to the other: wait for both.
	c.waitHolders("every address hosted, by both nodes with addresses", func(h map[string]int) error {
		by := map[int]bool{}
		for i := 1; i <= 3; i++ {
			p, ok := h[c.ip(i)]
			if !ok || p < 0 {
				return fmt.Errorf("%s not hosted: %v", c.ip(i), h)
			}
			by[p] = true
		}
		if len(by) != ipClusterNodesWithAddresses {
			return fmt.Errorf("holders %v", h)
		}
		return nil
	})
}

// nodeOK checks one node: RUNNING, and n nodes OK in its node map.
func nodeOK(socket string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, socket)
	if err != nil {
		return err
	}
	defer cl.Close()
	rs, err := cl.GetRunstate(ctx, protocol.CurrentNode)
	if err != nil {
		return err
	}
	if rs != protocol.RunstateRunning {
		return fmt.Errorf("runstate %d", rs)
	}
	nm, err := cl.GetNodeMap(ctx, protocol.CurrentNode)
	if err != nil {
		return err
	}
	if len(nm.Nodes) != n {
		return fmt.Errorf("%d nodes", len(nm.Nodes))
	}
	for _, nd := range nm.Nodes {
		if nd.Flags != 0 {
			return fmt.Errorf("node %d is %s", nd.PNN, protocol.NodeFlagsString(nd.Flags))
		}
	}
	return nil
}

// ip is the public address SUBNET.i.
func (c *ipCluster) ip(i int) string { return c.subnet + strconv.Itoa(i) }

// real runs the real tool against node k.
func (c *ipCluster) real(k int, stdin string, args ...string) runResult {
	return c.realAt(c.nodes[k].socket, stdin, args...)
}

func (c *ipCluster) realAt(socket, stdin string, args ...string) runResult {
	cmd := exec.Command(c.realTool, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CTDB_SOCKET=" + socket}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		rc = ee.ExitCode()
	case err != nil:
		return runResult{stderr: fmt.Sprintf("run %s: %v", c.realTool, err), rc: -1}
	}
	return runResult{out.String(), errb.String(), rc}
}

// ours runs our tool (in this process) against node k.
func (c *ipCluster) ours(k int, stdin string, args ...string) runResult {
	return c.oursAt(c.nodes[k].socket, stdin, args...)
}

func (c *ipCluster) oursAt(socket, stdin string, args ...string) runResult {
	return runToolInput(nil, map[string]string{"CTDB_SOCKET": socket}, stdin, args...)
}

// tracedRun is a run of a tool and what it sent to the daemon.
type tracedRun struct {
	runResult
	traffic []string
}

func (r tracedRun) same(o tracedRun) bool {
	return r.runResult == o.runResult && slices.Equal(r.traffic, o.traffic)
}

// traced runs the real tool or ours against node k through a recording
// proxy.
func (c *ipCluster) traced(real bool, k int, stdin string, args ...string) tracedRun {
	p, err := startProxy(c.dir, c.nodes[k].socket)
	if err != nil {
		return tracedRun{runResult: runResult{stderr: err.Error(), rc: -1}}
	}
	var r runResult
	if real {
		r = c.realAt(p.path, stdin, args...)
	} else {
		r = c.oursAt(p.path, stdin, args...)
	}
	return tracedRun{r, p.stop()}
}

// holders is who hosts each public address, as "ctdb -X ip all" on node 0
// shows it (-1: nobody).
func (c *ipCluster) holders() (map[string]int, error) {
	r := c.real(0, "", "-X", "ip", "all")
	if r.rc != 0 {
		return nil, fmt.Errorf("ip all: rc %d: %s", r.rc, r.stderr)
	}
	h := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			return nil, fmt.Errorf("ip all: line %q", line)
		}
		p, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("ip all: line %q", line)
		}
		h[f[1]] = p
	}
	return h, nil
}

// waitHolders waits until check accepts the holders.
func (c *ipCluster) waitHolders(what string, check func(map[string]int) error) {
	c.t.Helper()
	// ctdbd disables its takeover runs for 20 s after a failed one (the
	// session's bad addip makes some): a wait must outlast one such pause.
	testutil.WaitFor(c.t, 45*time.Second, what, func() error {
		h, err := c.holders()
		if err != nil {
			return err
		}
		return check(h)
	})
}

// waitHeldBy waits until each address SUBNET.i is hosted by want[i].
func (c *ipCluster) waitHeldBy(want map[int]int) {
	c.t.Helper()
	c.waitHolders(fmt.Sprintf("addresses held by %v", want), func(h map[string]int) error {
		for i, p := range want {
			if h[c.ip(i)] != p {
				return fmt.Errorf("%s on %d, not %d", c.ip(i), h[c.ip(i)], p)
			}
		}
		return nil
	})
}

// canonicalHolders is where the tests put the addresses before each
// phase: node 0 hosts SUBNET.2, node 1 SUBNET.1 and SUBNET.3.
var canonicalHolders = map[int]int{1: 1, 2: 0, 3: 1}

// canonicalize moves the addresses to canonicalHolders with the real tool
// (its -t 1 holds the IP checks for 2 s only), again if a takeover run
// still under way moves them back. Takeover runs are allowed again when
// it returns: ctdbd drops a run asked for while they are held (a link set
// down in that window would then never release its addresses).
func (c *ipCluster) canonicalize() {
	c.t.Helper()
	everMoved := false
	defer func() {
		if everMoved {
			c.allowTakeoverRuns()
		}
	}()
	testutil.WaitFor(c.t, 30*time.Second, "the canonical holders", func() error {
		h, err := c.holders()
		if err != nil {
			return err
		}
		moved := false
		for i := 1; i <= 3; i++ {
			if h[c.ip(i)] == canonicalHolders[i] {
				continue
			}
			if r := c.real(0, "", "-t", "1", "moveip", c.ip(i), strconv.Itoa(canonicalHolders[i])); r.rc != 0 {
				return fmt.Errorf("moveip %s: %+v", c.ip(i), r)
			}
			moved, everMoved = true, true
		}
		if moved {
			return errors.New("moved, not yet checked")
		}
		return nil
	})
}

// allowTakeoverRuns lets every node's recovery daemon run takeover runs
// again at once (a DISABLE_IP_CHECK of 0 s), after moveips held them.
func (c *ipCluster) allowTakeoverRuns() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, c.nodes[0].socket)
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.DisableIPCheck(protocol.BroadcastConnected, 0); err != nil {
		c.t.Fatal(err)
	}
	// A control after the message: once it is answered, the daemon has
	// read the message.
	if _, err := cl.GetPNN(ctx, protocol.CurrentNode); err != nil {
		c.t.Fatal(err)
	}
}

// normalize replaces this run's random names in an output by those of
// the samples: interface ctdb0, subnet 10.99.0.0/24.
func (c *ipCluster) normalize(s string) string {
	s = strings.ReplaceAll(s, c.iface, "ctdb0")
	return strings.ReplaceAll(s, c.subnet, "10.99.0.")
}
