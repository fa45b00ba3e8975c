package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every IP command of Debian's ctdb 4.17 and of ours, run against an rctdb
// cluster with public addresses in network namespaces: both tools must
// print the same bytes and exit with the same status. Commands that change
// the cluster run once per tool, each from the same starting state, which
// the sequence restores. What rctdb answers is also checked against what
// ctdbd 4.17 answers in the same state (the rules of
// shared/reference/ctdb-failover-and-events.md, the samples in
// cmd/ctdb/testdata); the differences found so far are listed in
// knownDaemonDifferences and logged instead of failing the test.

// knownDaemonDifferences are the places where rctdb answers differently
// from ctdbd 4.17, reported to the daemon's owner.
var knownDaemonDifferences = map[string]string{
	"delip of a hosted address": "DEL_PUBLIC_IP (failover/controls.go, ctrlDelPublicIP) of an address the node " +
		"hosts drops it from GET_PUBLIC_IPS at once and the leader moves it away; ctdbd 4.17 only marks it " +
		"delete_pending: the node keeps it on its interface and in GET_PUBLIC_IPS until the next takeover run " +
		"(`ctdb ipreallocate`)",
}

// toolResult is one run of a tool.
type toolResult struct {
	stdout, stderr string
	rc             int
}

func (r toolResult) String() string {
	return fmt.Sprintf("stdout %q stderr %q rc %d", r.stdout, r.stderr, r.rc)
}

// toolPair runs Debian's tool and ours against the nodes of an ipCluster.
type toolPair struct {
	ic         *ipCluster
	real, ours string
	mu         sync.Mutex
	logged     map[string]bool // known differences seen
}

func newToolPair(t *testing.T, ic *ipCluster) *toolPair {
	return &toolPair{ic: ic, real: realCtdb(t), ours: filepath.Join(binDir, "ctdb"), logged: map[string]bool{}}
}

// exec runs tool (a path) against node pnn with stdin as standard input.
func (tp *toolPair) exec(t *testing.T, tool string, pnn int, stdin string, args ...string) toolResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+tp.ic.Nodes[pnn].Socket)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("slow: %s %q on node %d took %v", tool, args, pnn, d.Round(time.Millisecond))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return toolResult{out.String(), errb.String(), ee.ExitCode()}
	case err != nil:
		t.Errorf("run %s %q: %v", tool, args, err)
		return toolResult{rc: -1}
	}
	return toolResult{out.String(), errb.String(), 0}
}

// toolCmd is a command line for node pnn.
type toolCmd struct {
	pnn   int
	stdin string
	args  []string
}

func cmdOn(pnn int, args ...string) toolCmd { return toolCmd{pnn: pnn, args: args} }

func (c toolCmd) String() string {
	s := fmt.Sprintf("ctdb %s on node %d", strings.Join(c.args, " "), c.pnn)
	if c.stdin != "" {
		s += fmt.Sprintf(" (input %q)", c.stdin)
	}
	return s
}

// readOnly runs commands that change nothing with both tools, four at a
// time, and fails the test where the tools differ; it returns the real
// tool's results.
func (tp *toolPair) readOnly(t *testing.T, cmds []toolCmd) []toolResult {
	t.Helper()
	real, ours := make([]toolResult, len(cmds)), make([]toolResult, len(cmds))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			real[i] = tp.exec(t, tp.real, c.pnn, c.stdin, c.args...)
			ours[i] = tp.exec(t, tp.ours, c.pnn, c.stdin, c.args...)
		}()
	}
	wg.Wait()
	for i, c := range cmds {
		if real[i] != ours[i] {
			t.Errorf("%s: the tools differ\nreal: %v\nours: %v", c, real[i], ours[i])
		}
	}
	return real
}

// step runs one command of a sequence with the tool under test; want is
// what ctdbd 4.17 answers at that point (a difference listed under known
// is logged, see expect).
type step func(c toolCmd, want toolResult, known string) toolResult

// eachTool runs a sequence that changes the cluster and restores it, once
// with the real tool and once with ours (in that order), fails the test
// where the two runs' results differ, and checks the real tool's results
// against ctdbd 4.17's answers.
func (tp *toolPair) eachTool(t *testing.T, name string, do func(run step)) {
	t.Helper()
	type record struct {
		cmd       toolCmd
		want, got toolResult
		known     string
	}
	var runs [2][]record
	for k, tool := range []string{tp.real, tp.ours} {
		start := time.Now()
		do(func(c toolCmd, want toolResult, known string) toolResult {
			r := tp.exec(t, tool, c.pnn, c.stdin, c.args...)
			runs[k] = append(runs[k], record{c, want, r, known})
			return r
		})
		t.Logf("%s with %s: %v", name, tool, time.Since(start).Round(time.Millisecond))
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("%s: the real tool's sequence ran %d commands, ours %d", name, len(runs[0]), len(runs[1]))
	}
	for i, r := range runs[0] {
		if o := runs[1][i]; o.cmd.String() != r.cmd.String() || o.got != r.got {
			t.Errorf("%s, step %d: the tools differ\nreal: %s: %v\nours: %s: %v", name, i+1, r.cmd, r.got, o.cmd, o.got)
		}
		tp.expect(t, r.cmd, r.got, r.want, r.known)
	}
}

// observe runs the real tool to watch the cluster (not compared).
func (tp *toolPair) observe(t *testing.T, pnn int, args ...string) toolResult {
	return tp.exec(t, tp.real, pnn, "", args...)
}

// restorePlacement moves the addresses back to the holders given (with
// the real tool), so that the next tool starts from the same state.
func (tp *toolPair) restorePlacement(t *testing.T, holders map[netip.Addr]int) {
	t.Helper()
	now := tp.ic.state(t)
	for a, h := range holders {
		if now.holder[a] != h {
			mustTool(t, tp.ic.Cluster, 0, "moveip", a.String(), fmt.Sprint(h))
			waitHolders(t, tp.ic, a, h)
		}
	}
	waitBalanced(t, tp.ic, nil)
}

// waitBalanced waits until every address is on one node, none on a node
// in not, evenly.
func waitBalanced(t *testing.T, ic *ipCluster, not []int) {
	t.Helper()
	_, d := ic.waitPlaced(t, not, 10*time.Second)
	t.Logf("every address on one node (none on %v) after %v", not, d.Round(time.Millisecond))
}

// waitHolders waits until address a is on node h only (h -1: on none)
// and returns how long it took.
func waitHolders(t *testing.T, ic *ipCluster, a netip.Addr, h int) time.Duration {
	t.Helper()
	want := []int{h}
	if h < 0 {
		want = nil
	}
	d := waitUntil(t, 10*time.Second, fmt.Sprintf("%s on %v", a, want), func() error {
		on, err := ic.rig.Holders(a)
		if err != nil {
			return err
		}
		if !slices.Equal(on, want) {
			return fmt.Errorf("%s is on %v", a, on)
		}
		return nil
	})
	t.Logf("%s on %v after %v", a, want, d.Round(time.Millisecond))
	return d
}

// expect checks rctdb's answer (through the real tool) against ctdbd
// 4.17's in the same state; a difference listed under known is logged.
func (tp *toolPair) expect(t *testing.T, c toolCmd, got, want toolResult, known string) {
	t.Helper()
	switch {
	case got == want:
	case known != "":
		tp.mu.Lock()
		tp.logged[known] = true
		tp.mu.Unlock()
		t.Logf("%s: rctdb differs from ctdbd 4.17 (known: %s)\nrctdb:  %v\nctdbd: %v", c, known, got, want)
	default:
		t.Errorf("%s: rctdb differs from ctdbd 4.17\nrctdb:  %v\nctdbd: %v", c, got, want)
	}
}

// noteKnown logs a known difference seen outside a command's output.
func (tp *toolPair) noteKnown(t *testing.T, known, format string, args ...any) {
	t.Helper()
	tp.mu.Lock()
	tp.logged[known] = true
	tp.mu.Unlock()
	t.Logf("rctdb differs from ctdbd 4.17 (known: %s): %s", known, fmt.Sprintf(format, args...))
}

// TestIPCommandsBothTools compares both tools on every form of the public
// IP commands.
func TestIPCommandsBothTools(t *testing.T) {
	started := time.Now()
	ic := startIPCluster(t, 3, 3)
	tp := newToolPair(t, ic)
	// Connection lists reach the other nodes within a second, not 20.
	for p := range ic.Nodes {
		mustTool(t, ic.Cluster, uint32(p), "setvar", "TickleUpdateInterval", "1")
	}
	t.Run("read only", func(t *testing.T) { readOnlyForms(t, tp) })
	t.Run("setifacelink", func(t *testing.T) { setifacelink(t, tp) })
	t.Run("addip and delip", func(t *testing.T) { addipDelip(t, tp) })
	t.Run("reloadips", func(t *testing.T) { reloadips(t, tp) })
	// Last: a node's first connection-list push comes one old
	// TickleUpdateInterval (20 s) after its start.
	t.Run("tickles and moveip", func(t *testing.T) { ticklesAndMoveip(t, tp) })
	for key, what := range knownDaemonDifferences {
		if tp.logged[key] {
			t.Logf("known difference from ctdbd 4.17 seen: %s", what)
		}
	}
	t.Logf("both tools compared in %v (cluster start included)", time.Since(started).Round(time.Millisecond))
}

// state is what ctdbd 4.17 reports about the cluster, from the rig's
// kernels: each node's public addresses (on the rig's one interface),
// their holders and the nodes whose interface link is down.
func (ic *ipCluster) state(t *testing.T) *ipState {
	t.Helper()
	s := &ipState{iface: ic.rig.Iface(), holder: map[netip.Addr]int{}, down: map[int]bool{}}
	placed, err := ic.placed()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ic.addrs {
		s.holder[a] = -1
		if on := placed[a]; len(on) == 1 {
			s.holder[a] = on[0]
		}
	}
	for range ic.Nodes {
		s.known = append(s.known, slices.Clone(ic.addrs))
	}
	return s
}

// ipState is a cluster's public-address state, for rendering what ctdbd
// 4.17 answers.
type ipState struct {
	iface  string
	known  [][]netip.Addr // by node
	holder map[netip.Addr]int
	down   map[int]bool
}

func (s *ipState) knows(pnn int, a netip.Addr) bool { return slices.Contains(s.known[pnn], a) }

// held counts the addresses node pnn holds.
func (s *ipState) held(pnn int) int {
	n := 0
	for _, h := range s.holder {
		if h == pnn {
			n++
		}
	}
	return n
}

// ip is `ctdb ip` on node pnn (all: `ip all`), with -v, and with -X
// (sep "|") or -x SEP -X (sep SEP) when sep is not "".
func (s *ipState) ip(pnn int, all, verbose bool, sep string) string {
	var addrs []netip.Addr
	for p := range s.known {
		if all || p == pnn {
			for _, a := range s.known[p] {
				if !slices.Contains(addrs, a) {
					addrs = append(addrs, a)
				}
			}
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	var b strings.Builder
	switch {
	case sep != "" && verbose:
		fmt.Fprintf(&b, "%[1]sPublic IP%[1]sNode%[1]sActiveInterfaces%[1]sAvailableInterfaces%[1]sConfiguredInterfaces%[1]s\n", sep)
	case sep != "":
		fmt.Fprintf(&b, "%[1]sPublic IP%[1]sNode%[1]s\n", sep)
	case all:
		b.WriteString("Public IPs on ALL nodes\n")
	default:
		fmt.Fprintf(&b, "Public IPs on node %d\n", pnn)
	}
	for _, a := range addrs {
		h := s.holder[a]
		if !verbose {
			if sep != "" {
				fmt.Fprintf(&b, "%[1]s%[2]s%[1]s%[3]d%[1]s\n", sep, a, h)
			} else {
				fmt.Fprintf(&b, "%s %d\n", a, h)
			}
			continue
		}
		// The interfaces as the node asked (all: the holder) sees them.
		asked := pnn
		if all {
			asked = h
		}
		var active, avail, conf string
		if asked >= 0 {
			conf = s.iface
			if h == asked {
				active = s.iface
			}
			if !s.down[asked] {
				avail = s.iface
			}
		}
		if sep != "" {
			fmt.Fprintf(&b, "%[1]s%[2]s%[1]s%[3]d%[1]s%[4]s%[1]s%[5]s%[1]s%[6]s%[1]s\n", sep, a, h, active, avail, conf)
		} else {
			fmt.Fprintf(&b, "%s node[%d] active[%s] available[%s] configured[%s]\n", a, h, active, avail, conf)
		}
	}
	return b.String()
}

// ipinfo is `ctdb ipinfo A` on node pnn.
func (s *ipState) ipinfo(pnn int, a netip.Addr) toolResult {
	if !s.knows(pnn, a) {
		return toolResult{fmt.Sprintf("Node %d does not know about IP %s\n", pnn, a), "Control GET_PUBLIC_IP_INFO failed, ret=-1\n", 1}
	}
	link, active := "up", ""
	if s.down[pnn] {
		link = "down"
	}
	if s.holder[a] == pnn {
		active = " (active)"
	}
	return toolResult{stdout: fmt.Sprintf("Public IP[%s] info on node %d\nIP:%s\nCurrentNode:%d\nNumInterfaces:1\n"+
		"Interface[1]: Name:%s Link:%s References:%d%s\n", a, pnn, a, uint32(s.holder[a]), s.iface, link, s.held(pnn), active)}
}

// ifaces is `ctdb ifaces` on node pnn, machine readable with sep.
func (s *ipState) ifaces(pnn int, sep string) string {
	if len(s.known[pnn]) == 0 {
		return fmt.Sprintf("No interfaces configured on node %d\n", pnn)
	}
	up := 1
	if s.down[pnn] {
		up = 0
	}
	if sep != "" {
		return fmt.Sprintf("%[1]sName%[1]sLinkStatus%[1]sReferences%[1]s\n%[1]s%[2]s%[1]s%[3]d%[1]s%[4]d%[1]s\n", sep, s.iface, up, s.held(pnn))
	}
	return fmt.Sprintf("Interfaces on node %d\nname:%s link:%s references:%d\n", pnn, s.iface, map[int]string{0: "down", 1: "up"}[up], s.held(pnn))
}

// usage is the real tool's usage text for one command.
func usage(cmd, args, help string) toolResult {
	return toolResult{stdout: "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]\n" +
		"        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]\n" +
		"        [-X] [-v|--verbose] [-T|--maxruntime=INT]\n\n" +
		"Commands:\n" + fmt.Sprintf("  %-15s %-27s  %s\n", cmd, args, help), rc: 1}
}

// readOnlyForms: ip, ipinfo, ifaces, gettickles of an empty list,
// gratarp, ipreallocate and the error forms of the commands that change
// state, in the balanced state of startIPCluster.
func readOnlyForms(t *testing.T, tp *toolPair) {
	ic := tp.ic
	s := ic.state(t)
	type check struct {
		cmd  toolCmd
		want toolResult
	}
	var checks []check
	add := func(c toolCmd, want toolResult) { checks = append(checks, check{c, want}) }
	// Every form of ip; -Y is -X, and -x without -X changes nothing.
	for _, f := range []struct {
		opts []string
		sep  string // "": plain text
		only []int  // the forms (bit 0: -v, bit 1: all) to run, if not all
	}{
		{nil, "", nil}, {[]string{"-X"}, "|", nil}, {[]string{"-x", ";", "-X"}, ";", nil},
		{[]string{"-Y"}, "|", []int{0, 3}}, {[]string{"-x", ";"}, "", []int{1, 2}},
	} {
		for form := range 4 {
			if f.only != nil && !slices.Contains(f.only, form) {
				continue
			}
			v, all := form&1 != 0, form&2 != 0
			args := append(slices.Clone(f.opts), "ip")
			if v {
				args = append(args, "-v")
			}
			if all {
				args = append(args, "all")
			}
			add(cmdOn(0, args...), toolResult{stdout: s.ip(0, all, v, f.sep)})
		}
	}
	add(cmdOn(0, "ip", "all", "-v"), toolResult{stdout: s.ip(0, true, true, "")})
	add(cmdOn(0, "-n", "1", "ip", "-v"), toolResult{stdout: s.ip(1, false, true, "")})
	add(cmdOn(2, "-n", "0", "-X", "ip", "-v", "all"), toolResult{stdout: s.ip(0, true, true, "|")})
	add(cmdOn(2, "-Y", "-x", ",", "ip"), toolResult{stdout: s.ip(2, false, false, ",")})
	add(cmdOn(0, "ip", "foo"), usage("ip", "[all]", "show public ips"))
	add(cmdOn(0, "ip", "all", "extra"), usage("ip", "[all]", "show public ips"))

	unknown := ic.rig.PublicAddr(150).Addr() // nobody's
	for _, a := range ic.addrs {
		add(cmdOn(0, "ipinfo", a.String()), s.ipinfo(0, a))
	}
	add(cmdOn(1, "-X", "ipinfo", ic.addrs[0].String()), s.ipinfo(1, ic.addrs[0]))
	add(cmdOn(0, "-n", "2", "ipinfo", ic.addrs[1].String()), s.ipinfo(2, ic.addrs[1]))
	add(cmdOn(2, "ipinfo", "::ffff:"+ic.addrs[2].String()), s.ipinfo(2, ic.addrs[2]))
	add(cmdOn(0, "ipinfo", unknown.String()), s.ipinfo(0, unknown))
	add(cmdOn(0, "ipinfo", "bad"), toolResult{stderr: "Invalid IP address bad\n", rc: 1})
	add(cmdOn(0, "ipinfo"), usage("ipinfo", "<ip>", "show public ip details"))

	add(cmdOn(0, "ifaces"), toolResult{stdout: s.ifaces(0, "")})
	add(cmdOn(1, "-X", "ifaces"), toolResult{stdout: s.ifaces(1, "|")})
	add(cmdOn(2, "-Y", "-x", ":", "ifaces"), toolResult{stdout: s.ifaces(2, ":")})
	add(cmdOn(0, "-n", "2", "ifaces"), toolResult{stdout: s.ifaces(2, "")})
	add(cmdOn(0, "ifaces", "x"), usage("ifaces", "", "show interfaces"))

	a := ic.addrs[0]
	h := s.holder[a]
	emptyList := fmt.Sprintf("Connections for IP: %s\nNum connections: 0\n", a)
	add(cmdOn(h, "gettickles", a.String()), toolResult{stdout: emptyList})
	add(cmdOn(h, "-X", "gettickles", a.String()), toolResult{stdout: "|Source IP|Port|Destiation IP|Port|\n"})
	add(cmdOn(h, "gettickles", a.String(), "445"), toolResult{stdout: emptyList})
	add(cmdOn(h, "gettickles", unknown.String()), toolResult{stderr: "Control GET_TCP_TICKLE_LIST failed, ret=1\nFailed to get list of connections\n", rc: 1})
	add(cmdOn(h, "gettickles", a.String(), "x"), toolResult{rc: 22})

	add(cmdOn(h, "gratarp", a.String(), s.iface), toolResult{})
	add(cmdOn(0, "-n", fmt.Sprint(h), "gratarp", a.String(), s.iface), toolResult{})
	add(cmdOn(0, "gratarp", unknown.String(), "nosuch"), toolResult{})
	add(cmdOn(0, "gratarp", "bad", s.iface), toolResult{stderr: "Invalid IP address bad\n", rc: 1})
	add(cmdOn(0, "gratarp", a.String()), usage("gratarp", "<ip> <interface>", "send a gratuitous arp"))

	add(cmdOn(0, "setifacelink", "nosuch", "up"), toolResult{stdout: "Interface nosuch not configured on node 0\n", rc: 1})
	add(cmdOn(0, "setifacelink", s.iface, "sideways"), usage("setifacelink", "<iface> up|down", "set interface link status"))
	add(cmdOn(0, "addip", a.String()+"/24", s.iface), toolResult{stderr: fmt.Sprintf("Node already knows about IP %s\n", a)})
	add(cmdOn(0, "addip", a.String(), s.iface), toolResult{stderr: fmt.Sprintf("Invalid IP/Mask %s\n", a), rc: 1})
	add(cmdOn(0, "delip", unknown.String()), toolResult{stderr: fmt.Sprintf("Node does not know about IP address %s\n", unknown)})
	add(cmdOn(0, "moveip", "bad", "1"), toolResult{stderr: "Invalid IP address bad\n", rc: 1})
	add(cmdOn(0, "moveip", a.String(), "x"), toolResult{stderr: "Invalid PNN x\n", rc: 1})
	add(cmdOn(0, "-n", "1", "moveip", a.String(), "1"), toolResult{stderr: "Node cannot be specified for command moveip\n", rc: 1})
	add(cmdOn(0, "reloadips", "9"), toolResult{stderr: "Node 9 does not exist\n", rc: 1})
	add(cmdOn(0, "-n", "1", "reloadips"), toolResult{stderr: "Node cannot be specified for command reloadips\n", rc: 1})
	add(cmdOn(0, "addtickle", "bad", a.String()+":445"), toolResult{stderr: "Invalid IP address bad\n", rc: 1})
	add(cmdOn(0, "deltickle", "a", "b", "c"), usage("deltickle", "<ip>:<port> <ip>:<port>", "delete a tickle"))

	cmds := make([]toolCmd, len(checks))
	for i, c := range checks {
		cmds[i] = c.cmd
	}
	got := tp.readOnly(t, cmds)
	for i, c := range checks {
		tp.expect(t, c.cmd, got[i], c.want, "")
	}

	// A takeover run in a balanced cluster moves nothing.
	for _, c := range []toolCmd{cmdOn(0, "ipreallocate"), cmdOn(0, "sync"), cmdOn(0, "-n", "1", "ipreallocate"), cmdOn(2, "ipreallocate")} {
		got := tp.readOnly(t, []toolCmd{c})
		tp.expect(t, c, got[0], toolResult{}, "")
	}
	if after := ic.state(t); !maps.Equal(after.holder, s.holder) {
		t.Errorf("ipreallocate in a balanced cluster moved addresses: %v, was %v", after.holder, s.holder)
	}
	oursJSON(t, tp, s)
}

// oursJSON checks our tool's --json documents of ip, ipinfo and ifaces
// against the same state.
func oursJSON(t *testing.T, tp *toolPair, s *ipState) {
	type ipDoc struct {
		PNN *uint32 `json:"pnn"`
		All bool    `json:"all"`
		IPs []struct {
			Address    string   `json:"address"`
			PNN        *int     `json:"pnn"`
			Active     *string  `json:"active_interface"`
			Available  []string `json:"available_interfaces"`
			Configured []string `json:"configured_interfaces"`
		} `json:"ips"`
	}
	decode := func(c toolCmd, v any) bool {
		r := tp.exec(t, tp.ours, c.pnn, "", c.args...)
		if r.rc != 0 || r.stderr != "" {
			t.Errorf("%s: %v", c, r)
			return false
		}
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Errorf("%s: %v in %q", c, err, r.stdout)
			return false
		}
		return true
	}
	for _, f := range []struct {
		pnn, asked int
		all        bool
		args       []string
	}{
		{0, 0, false, []string{"--json", "ip"}},
		{0, 0, true, []string{"--json", "ip", "all", "-v"}},
		{0, 1, false, []string{"--json", "-n", "1", "ip", "-v"}},
	} {
		c := cmdOn(f.pnn, f.args...)
		var doc ipDoc
		if !decode(c, &doc) {
			continue
		}
		// Rendered as -v's lines, the document says what ctdbd's answers do.
		var b strings.Builder
		for _, ip := range doc.IPs {
			h, active := -1, ""
			if ip.PNN != nil {
				h = *ip.PNN
			}
			if ip.Active != nil {
				active = *ip.Active
			}
			fmt.Fprintf(&b, "%s node[%d] active[%s] available[%s] configured[%s]\n", ip.Address, h, active,
				strings.Join(ip.Available, ","), strings.Join(ip.Configured, ","))
		}
		want := s.ip(f.asked, f.all, true, "")
		want = want[strings.Index(want, "\n")+1:]
		if got := b.String(); got != want || doc.All != f.all || (doc.PNN == nil) != f.all {
			t.Errorf("%s: document %+v\nas text %q\nwant     %q", c, doc, got, want)
		}
	}
	a := tp.ic.addrs[1]
	var info struct {
		PNN         int    `json:"pnn"`
		Address     string `json:"address"`
		CurrentNode *int   `json:"current_node"`
		Interfaces  []struct {
			Name       string `json:"name"`
			LinkUp     bool   `json:"link_up"`
			References int    `json:"references"`
			Active     bool   `json:"active"`
		} `json:"interfaces"`
	}
	if c := cmdOn(2, "--json", "ipinfo", a.String()); decode(c, &info) {
		if info.PNN != 2 || info.Address != a.String() || info.CurrentNode == nil || *info.CurrentNode != s.holder[a] ||
			len(info.Interfaces) != 1 || info.Interfaces[0].Name != s.iface || !info.Interfaces[0].LinkUp ||
			info.Interfaces[0].References != s.held(2) || info.Interfaces[0].Active != (s.holder[a] == 2) {
			t.Errorf("%s: %+v", c, info)
		}
	}
	var ifaces struct {
		PNN        int `json:"pnn"`
		Interfaces []struct {
			Name       string `json:"name"`
			LinkUp     bool   `json:"link_up"`
			References int    `json:"references"`
		} `json:"interfaces"`
	}
	if c := cmdOn(0, "--json", "-n", "1", "ifaces"); decode(c, &ifaces) {
		if ifaces.PNN != 1 || len(ifaces.Interfaces) != 1 || ifaces.Interfaces[0].Name != s.iface ||
			!ifaces.Interfaces[0].LinkUp || ifaces.Interfaces[0].References != s.held(1) {
			t.Errorf("%s: %+v", c, ifaces)
		}
	}
}
