package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/protocol"
)

// Node is one node of a local cluster.
type Node struct {
	PNN    uint32 `json:"pnn"`
	Addr   string `json:"addr"`
	PID    int    `json:"pid"`
	Dir    string `json:"dir"`
	Socket string `json:"socket"`
	Config string `json:"config"`
	// Netns is the network namespace the node's daemon runs in ("": this
	// process's).
	Netns string `json:"netns,omitempty"`
}

// Cluster is a local cluster and where it lives.
type Cluster struct {
	Base      string `json:"base"`
	ClusterID string `json:"cluster_id"`
	Ctdbd     string `json:"ctdbd"`
	Port      int    `json:"port"`
	Nodes     []Node `json:"nodes"`
	// LogLevel, MetricsPort and Extra are the options every node's
	// configuration was written with, for nodes added later.
	LogLevel    string `json:"log_level,omitempty"`
	MetricsPort int    `json:"metrics_port,omitempty"`
	Extra       string `json:"extra,omitempty"`
	// Env is added to every daemon's environment (and so its event
	// scripts').
	Env []string `json:"env,omitempty"`
	// TLS says the node links are mutual TLS (tls.go).
	TLS bool `json:"tls,omitempty"`

	// procs holds the processes this process started, to reap them.
	mu    sync.Mutex
	procs map[uint32]*exec.Cmd
}

// Options configure Up.
type Options struct {
	// N is the number of nodes.
	N int
	// Base is the cluster's directory.
	Base string
	// Addr is the first node's loopback address; the others follow it.
	// Zero: a free 127.x.y.1 range is picked at random.
	Addr netip.Addr
	// Ctdbd is the daemon binary; empty: "ctdbd" beside this executable,
	// else on PATH.
	Ctdbd string
	// Port every node listens on (default 4379).
	Port int
	// LogLevel of the daemons (default NOTICE).
	LogLevel string
	// MetricsPort, if set, makes every node serve /metrics on its own
	// address and this port.
	MetricsPort int
	// Extra is appended to every node's ctdb.conf (sections and keys).
	Extra string
	// Timeout bounds the wait for every node to see every node OK.
	Timeout time.Duration
	// Addrs, if set, are the nodes' addresses (one per node), used as they
	// are; Netns, if set, names the network namespace each node's daemon
	// runs in. Together they put whole nodes in namespaces of a test rig.
	Addrs []netip.Addr
	Netns []string
	// PublicAddresses, if set, is written as every node's public_addresses.
	PublicAddresses string
	// Env is added to every daemon's environment (and so its event
	// scripts'): NAME=VALUE entries, later ones win.
	Env []string
	// TLS makes a cluster CA and node certificates and turns on mutual
	// TLS on the node links (tls.go).
	TLS bool
	// Prepare, if set, is called with each node's directory ($CTDB_BASE)
	// after it is laid out and before its daemon first starts: event
	// scripts, notify.sh, script.options and the like go there.
	Prepare func(pnn uint32, dir string) error
}

const stateFile = "cluster.json"

// Load reads the cluster recorded in base.
func Load(base string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(base, stateFile))
	if err != nil {
		return nil, fmt.Errorf("no local cluster in %s: %w", base, err)
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(base, stateFile), err)
	}
	return &c, nil
}

// Save records the cluster in its base directory.
func (c *Cluster) Save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Base, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.Base, stateFile))
}

// Up creates a cluster in opts.Base, or starts the stopped cluster recorded
// there (keeping its state), and waits until every node sees every node OK.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Base == "" {
		return nil, errors.New("up: a base directory is required")
	}
	base, err := filepath.Abs(opts.Base)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	c, err := Load(base)
	switch {
	case err == nil:
		if c.anyAlive() {
			return nil, fmt.Errorf("up: the cluster in %s is running; use down first", base)
		}
		if opts.N != 0 && opts.N != len(c.Nodes) {
			return nil, fmt.Errorf("up: %s holds a stopped %d-node cluster, not %d nodes; use down --purge first", base, len(c.Nodes), opts.N)
		}
		if opts.Ctdbd != "" {
			c.Ctdbd = opts.Ctdbd
		}
	default:
		if c, err = create(base, opts); err != nil {
			return nil, err
		}
	}
	for i := range c.Nodes {
		if err := c.start(uint32(i)); err != nil {
			c.Down(context.Background())
			return nil, err
		}
	}
	if err := c.Save(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := c.WaitHealthy(wctx); err != nil {
		return c, fmt.Errorf("up: %w (logs in %s/node*/log.ctdb)", err, base)
	}
	return c, nil
}

// create lays out a new cluster: addresses, nodes file, per-node config.
func create(base string, opts Options) (*Cluster, error) {
	if opts.N < 1 {
		return nil, errors.New("up: at least one node is required")
	}
	if opts.Port == 0 {
		opts.Port = config.DefaultPort
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "NOTICE"
	}
	ctdbd, err := findCtdbd(opts.Ctdbd)
	if err != nil {
		return nil, err
	}
	addrs := opts.Addrs
	if len(addrs) == 0 {
		if addrs, err = pickAddrs(opts.Addr, opts.N, opts.Port); err != nil {
			return nil, err
		}
	}
	if len(addrs) != opts.N || len(opts.Netns) != 0 && len(opts.Netns) != opts.N {
		return nil, fmt.Errorf("up: %d nodes, %d addresses and %d namespaces", opts.N, len(addrs), len(opts.Netns))
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	idb := make([]byte, 8)
	rand.Read(idb)
	c := &Cluster{
		Base: base, ClusterID: "local-" + hex.EncodeToString(idb), Ctdbd: ctdbd, Port: opts.Port,
		LogLevel: opts.LogLevel, MetricsPort: opts.MetricsPort, Extra: opts.Extra, Env: opts.Env, TLS: opts.TLS,
	}
	if c.TLS {
		if err := c.makeCA(); err != nil {
			return nil, fmt.Errorf("up: %w", err)
		}
	}
	nodes := make([]config.Node, opts.N)
	for i, a := range addrs {
		nodes[i] = config.Node{PNN: uint32(i), Addr: a}
	}
	nodesPath := filepath.Join(base, "nodes")
	f, err := os.Create(nodesPath)
	if err != nil {
		return nil, err
	}
	if err := config.WriteNodes(f, nodes); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	for i, a := range addrs {
		if err := c.layOutNode(uint32(i), a); err != nil {
			return nil, err
		}
		if len(opts.Netns) > 0 {
			c.Nodes[i].Netns = opts.Netns[i]
		}
		if opts.PublicAddresses != "" {
			if err := os.WriteFile(filepath.Join(c.Nodes[i].Dir, "public_addresses"), []byte(opts.PublicAddresses), 0o644); err != nil {
				return nil, err
			}
		}
		if opts.Prepare != nil {
			if err := opts.Prepare(uint32(i), c.Nodes[i].Dir); err != nil {
				return nil, fmt.Errorf("up: prepare node %d: %w", i, err)
			}
		}
	}
	return c, nil
}

// nodesPath is the nodes file every node of the cluster reads.
func (c *Cluster) nodesPath() string { return filepath.Join(c.Base, "nodes") }

// layOutNode creates node pnn's directory and configuration and records it.
func (c *Cluster) layOutNode(pnn uint32, a netip.Addr) error {
	dir := filepath.Join(c.Base, "node"+strconv.Itoa(int(pnn)))
	n := Node{
		PNN: pnn, Addr: a.String(), Dir: dir,
		Socket: filepath.Join(dir, "run", "ctdbd.socket"),
		Config: filepath.Join(dir, "ctdb.conf"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	opts := Options{LogLevel: c.LogLevel, MetricsPort: c.MetricsPort, Extra: c.Extra}
	if err := os.WriteFile(n.Config, []byte(nodeConfig(c, n, c.nodesPath(), opts)), 0o644); err != nil {
		return err
	}
	c.Nodes = append(c.Nodes, n)
	if c.TLS {
		return c.IssueNodeCert(pnn)
	}
	return nil
}

func nodeConfig(c *Cluster, n Node, nodesPath string, opts Options) string {
	return fmt.Sprintf(`# Written by ctdb-local for node %d of cluster %s.
[logging]
	location = file:%s
	log level = %s
[cluster]
	node address = %s
	nodes file = %s
	cluster id = %s
	port = %d
	socket = %s
[database]
	volatile database directory = %s
	persistent database directory = %s
	state database directory = %s
[raft]
	data directory = %s
%s%s%s`, n.PNN, c.ClusterID,
		filepath.Join(n.Dir, "log.ctdb"), opts.LogLevel,
		n.Addr, nodesPath, c.ClusterID, c.Port, n.Socket,
		filepath.Join(n.Dir, "volatile"), filepath.Join(n.Dir, "persistent"), filepath.Join(n.Dir, "state"),
		filepath.Join(n.Dir, "raft"), metricsSection(n, opts), tlsSection(c, n), opts.Extra)
}

func metricsSection(n Node, opts Options) string {
	if opts.MetricsPort == 0 {
		return ""
	}
	return fmt.Sprintf("[metrics]\n\taddress = %s\n", net.JoinHostPort(n.Addr, strconv.Itoa(opts.MetricsPort)))
}

// findCtdbd locates the daemon binary.
func findCtdbd(path string) (string, error) {
	if path != "" {
		return filepath.Abs(path)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "ctdbd")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("ctdbd")
	if err != nil {
		return "", errors.New("up: ctdbd not found beside ctdb-local or on PATH; pass --ctdbd")
	}
	return filepath.Abs(p)
}

// pickAddrs returns n consecutive loopback addresses whose port is free:
// from first if given, else from a random 127.a.b.1.
func pickAddrs(first netip.Addr, n, port int) ([]netip.Addr, error) {
	try := func(start netip.Addr) ([]netip.Addr, error) {
		out := make([]netip.Addr, n)
		a := start
		for i := range out {
			if !a.Is4() || !a.IsLoopback() {
				return nil, fmt.Errorf("address %s is not IPv4 loopback", a)
			}
			ln, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(port)).String())
			if err != nil {
				return nil, fmt.Errorf("address %s:%d is in use: %w", a, port, err)
			}
			ln.Close()
			out[i] = a
			a = a.Next()
		}
		return out, nil
	}
	if first.IsValid() {
		return try(first)
	}
	for attempt := 0; attempt < 50; attempt++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(200*250))
		v := int(x.Int64())
		start := netip.AddrFrom4([4]byte{127, byte(20 + v/250), byte(1 + v%250), 1})
		if addrs, err := try(start); err == nil {
			return addrs, nil
		}
	}
	return nil, errors.New("up: no free 127.x.y.z range found")
}

// start launches node pnn's daemon in its own session, so that it outlives
// this process.
func (c *Cluster) start(pnn uint32) error {
	n := &c.Nodes[pnn]
	out, err := os.OpenFile(filepath.Join(n.Dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	// In the foreground (--interactive): this process supervises it.
	cmd := exec.Command(c.Ctdbd, "--interactive", "--config", n.Config)
	if n.Netns != "" {
		// ip netns exec execs the daemon: the pid stays the daemon's.
		cmd = exec.Command("ip", "netns", "exec", n.Netns, c.Ctdbd, "--interactive", "--config", n.Config)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %d: %w", pnn, err)
	}
	n.PID = cmd.Process.Pid
	c.mu.Lock()
	if c.procs == nil {
		c.procs = make(map[uint32]*exec.Cmd)
	}
	c.procs[pnn] = cmd
	c.mu.Unlock()
	go cmd.Wait() // reap it if it dies while we run
	return nil
}

// Alive reports whether node pnn's process runs (stopped counts as running).
func (c *Cluster) Alive(pnn uint32) bool {
	pid := c.Nodes[pnn].PID
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie answers kill(0) too; /proc tells it apart.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	return !isZombie(b)
}

func isZombie(stat []byte) bool {
	// The state follows the command name in parentheses: "pid (comm) S ...".
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] == 'Z'
		}
	}
	return false
}

func (c *Cluster) anyAlive() bool {
	for i := range c.Nodes {
		if c.Alive(uint32(i)) {
			return true
		}
	}
	return false
}

// WaitHealthy waits until every node is RUNNING, has a valid generation
// and sees every node OK.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	var all []uint32
	for i := range c.Nodes {
		all = append(all, uint32(i))
	}
	return c.WaitNodesOK(ctx, all, all)
}

// WaitNodesOK waits until each observer is RUNNING with a valid generation,
// out of recovery, and shows each of want with flags 0.
func (c *Cluster) WaitNodesOK(ctx context.Context, observers, want []uint32) error {
	return c.wait(ctx, observers, true, func(nm *protocol.NodeMap) error {
		for _, p := range want {
			node, ok := nm.Node(p)
			if !ok || node.Flags != 0 {
				return fmt.Errorf("node %d is %s", p, protocol.NodeFlagsString(node.Flags))
			}
		}
		return nil
	})
}

// WaitFlags waits until check accepts the node map of every observer,
// each RUNNING with a valid generation.
func (c *Cluster) WaitFlags(ctx context.Context, observers []uint32, check func(*protocol.NodeMap) error) error {
	return c.wait(ctx, observers, false, check)
}

func (c *Cluster) wait(ctx context.Context, observers []uint32, normal bool, check func(*protocol.NodeMap) error) error {
	var last error
	for {
		last = nil
		for _, p := range observers {
			if err := c.observe(ctx, p, normal, check); err != nil {
				last = fmt.Errorf("node %d: %w", p, err)
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) observe(ctx context.Context, pnn uint32, normal bool, check func(*protocol.NodeMap) error) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := client.Connect(cctx, c.Nodes[pnn].Socket)
	if err != nil {
		return err
	}
	defer cl.Close()
	nm, err := cl.GetNodeMap(cctx, protocol.CurrentNode)
	if err != nil {
		return err
	}
	rs, err := cl.GetRunstate(cctx, protocol.CurrentNode)
	if err != nil {
		return err
	}
	// A node banned or stopped since its start stays in FIRST_RECOVERY
	// until a recovery includes it, as in CTDB 4.17.
	self, _ := nm.Node(pnn)
	if rs != protocol.RunstateRunning && (rs != protocol.RunstateFirstRecovery || self.Flags&protocol.NodeFlagsInactive == 0) {
		return fmt.Errorf("runstate %s", rs)
	}
	vm, err := cl.GetVNNMap(cctx, protocol.CurrentNode)
	if err != nil {
		return err
	}
	if vm.Generation == protocol.InvalidGeneration {
		return errors.New("no valid generation yet")
	}
	if normal {
		rm, err := cl.GetRecMode(cctx, protocol.CurrentNode)
		if err != nil {
			return err
		}
		if rm != protocol.RecoveryNormal {
			return errors.New("in recovery")
		}
	}
	return check(nm)
}

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.Nodes) }

// Socket is node pnn's client socket.
func (c *Cluster) Socket(pnn uint32) string { return c.Nodes[pnn].Socket }

// Signal sends sig to node pnn's process.
func (c *Cluster) Signal(pnn uint32, sig syscall.Signal) error {
	if int(pnn) >= len(c.Nodes) {
		return fmt.Errorf("no node %d (the cluster has %d)", pnn, len(c.Nodes))
	}
	pid := c.Nodes[pnn].PID
	if pid <= 0 || !c.Alive(pnn) {
		return fmt.Errorf("node %d is not running", pnn)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal node %d (pid %d): %w", pnn, pid, err)
	}
	return nil
}

// Kill sends SIGKILL to node pnn and waits until its process is gone.
func (c *Cluster) Kill(pnn uint32) error {
	if err := c.Signal(pnn, syscall.SIGKILL); err != nil {
		return err
	}
	return c.waitGone(pnn, 5*time.Second)
}

func (c *Cluster) waitGone(pnn uint32, d time.Duration) error {
	deadline := time.Now().Add(d)
	for c.Alive(pnn) {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d (pid %d) did not exit", pnn, c.Nodes[pnn].PID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Stop shuts node pnn down with SIGTERM, then SIGKILL after grace.
func (c *Cluster) Stop(pnn uint32, grace time.Duration) error {
	if !c.Alive(pnn) {
		return nil
	}
	syscall.Kill(c.Nodes[pnn].PID, syscall.SIGCONT) // a paused node cannot exit
	if err := c.Signal(pnn, syscall.SIGTERM); err != nil {
		return err
	}
	if c.waitGone(pnn, grace) != nil {
		syscall.Kill(c.Nodes[pnn].PID, syscall.SIGKILL)
		return c.waitGone(pnn, 5*time.Second)
	}
	return nil
}

// Restart stops node pnn if it runs and starts it again with its state.
func (c *Cluster) Restart(pnn uint32) error {
	if int(pnn) >= len(c.Nodes) {
		return fmt.Errorf("no node %d (the cluster has %d)", pnn, len(c.Nodes))
	}
	if err := c.Stop(pnn, 10*time.Second); err != nil {
		return err
	}
	if err := c.start(pnn); err != nil {
		return err
	}
	return c.Save()
}

// Start starts every stopped node again with its state and waits until each
// node is RUNNING with a valid generation, whatever the node flags.
func (c *Cluster) Start(ctx context.Context) error {
	for i := range c.Nodes {
		if c.Alive(uint32(i)) {
			continue
		}
		if err := c.start(uint32(i)); err != nil {
			return err
		}
	}
	if err := c.Save(); err != nil {
		return err
	}
	var all []uint32
	for i := range c.Nodes {
		all = append(all, uint32(i))
	}
	return c.WaitFlags(ctx, all, func(*protocol.NodeMap) error { return nil })
}

// Down stops every node; the base directory stays for its logs and state.
func (c *Cluster) Down(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Stop(uint32(i), 10*time.Second); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Line renders node pnn as ctdb-local prints it.
func (c *Cluster) Line(pnn uint32) string {
	n := c.Nodes[pnn]
	return fmt.Sprintf("node %d pnn=%d addr=%s pid=%d socket=%s", pnn, n.PNN, n.Addr, n.PID, n.Socket)
}
