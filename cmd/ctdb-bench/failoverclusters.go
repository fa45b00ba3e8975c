package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/netrig"
)

// The failover clusters run whole daemons inside the node namespaces of a
// rig (internal/netrig): node k listens on the rig's private address k, and
// its public addresses go on its eth0, which a bridge joins to the other
// nodes and to the client's namespace.

// rigNet is a rig as the failover workload sees it.
type rigNet struct{ rig *netrig.Rig }

func (n rigNet) Placement(addrs []netip.Addr) (map[netip.Addr][]int, error) {
	return n.rig.Placement(addrs...)
}

func (n rigNet) Listen(k int, port uint16) (net.Listener, error) {
	ln, err := n.rig.ListenTCP(k, netip.AddrPortFrom(netip.IPv4Unspecified(), port))
	if err != nil {
		return nil, err
	}
	return ln, nil
}

func (n rigNet) Dial(addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	c, err := n.rig.DialTCP(addr, timeout)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// publicAddresses is the public_addresses file every node gets: the rig's
// first n public addresses on its interface.
func publicAddresses(rig *netrig.Rig, n int) (string, []netip.Addr) {
	var b strings.Builder
	var addrs []netip.Addr
	for i := range n {
		p := rig.PublicAddr(i)
		fmt.Fprintf(&b, "%s %s\n", p, rig.Iface())
		addrs = append(addrs, p.Addr())
	}
	return b.String(), addrs
}

// failoverCluster is a cluster of either daemon in a rig, and how to end
// it.
type failoverCluster struct {
	bench.FailoverCluster
	logs string // glob of its nodes' logs
	stop func() error
}

// rctdbInRig lays out an rctdb cluster in dir whose nodes run in the rig's
// namespaces (as tests/publicip_test.go runs them); Start launches it
// through localcluster.
func rctdbInRig(dir string, rig *netrig.Rig, nodes, addrs int, ctdbd, logLevel, extra string, adjust ...func(*localcluster.Options)) *failoverCluster {
	public, pub := publicAddresses(rig, addrs)
	if extra != "" && !strings.HasSuffix(extra, "\n") {
		extra += "\n"
	}
	opts := localcluster.Options{N: nodes, Base: dir, Ctdbd: ctdbd, PublicAddresses: public, LogLevel: logLevel, Extra: extra, Timeout: time.Minute}
	var sockets []string
	for k := range nodes {
		opts.Addrs = append(opts.Addrs, rig.PrivateAddr(k))
		opts.Netns = append(opts.Netns, rig.NodeNS(k))
		sockets = append(sockets, filepath.Join(dir, fmt.Sprintf("node%d", k), "run", "ctdbd.socket"))
	}
	for _, f := range adjust {
		f(&opts)
	}
	var mu sync.Mutex
	var lc *localcluster.Cluster
	fc := &failoverCluster{logs: dir + "/node*/log.ctdb"}
	fc.FailoverCluster = bench.FailoverCluster{
		Target: bench.Target{Name: bench.Rctdb, Sockets: sockets},
		Net:    rigNet{rig},
		Addrs:  pub,
		Start: func(ctx context.Context) error {
			// Up waits until every node is OK; the workload watches the
			// same from the moment Up launched the daemons.
			c, err := localcluster.Up(ctx, opts)
			mu.Lock()
			lc = c
			mu.Unlock()
			return err
		},
		Kill: func(pnn uint32) error {
			mu.Lock()
			defer mu.Unlock()
			if lc == nil || int(pnn) >= len(lc.Nodes) {
				return fmt.Errorf("no node %d", pnn)
			}
			return syscall.Kill(lc.Nodes[pnn].PID, syscall.SIGKILL)
		},
	}
	fc.stop = func() error {
		mu.Lock()
		defer mu.Unlock()
		if lc == nil {
			return nil
		}
		if err := lc.Down(context.Background()); err != nil {
			return fmt.Errorf("stop rctdb cluster: %w", err)
		}
		return nil
	}
	return fc
}

// interfaceShim is each real ctdbd node's 10.interface: Debian's script,
// with what test mode leaves out or gets wrong. Test mode sends takeip for
// addresses a node already holds (it has no kernel check), which the
// packaged script fails on; and it sends no gratuitous ARP after a
// takeover, which production ctdbd does at once, so the shim asks the
// daemon for the same ARPs (ctdb gratarp: the daemon's own ARP code, three
// rounds a second apart, as the packaged script's updateip does).
// Everything else, the link monitoring included, is the packaged script.
const interfaceShim = `#!/bin/sh
case "$1" in
takeip)
	if [ -n "$(ip -o addr show dev "$2" to "$3/32")" ]; then
		echo "redundant takeip $3 on $2"
		exit 0
	fi
	/usr/share/ctdb/events/legacy/10.interface.script "$@" || exit $?
	ctdb gratarp "$3" "$2" >/dev/null 2>&1 </dev/null &
	exit 0
	;;
esac
exec /usr/share/ctdb/events/legacy/10.interface.script "$@"
`

// rigCtdbd is a cluster of the real ctdbd 4.17 with each whole daemon in
// a node namespace of a rig.
type rigCtdbd struct {
	bin, dir  string
	rig       *netrig.Rig
	public    string
	lock      bool
	nodeAddrs []string
	// share, if set, lays every node out with its own smbd serving it
	// (eventstest.LayOutSambaNode), and the same scripts as rctdb's
	// nodes get: 00.ctdb, 05.system, 10.interface (the shim), 50.samba.
	share string

	mu    sync.Mutex
	nodes []*realNode
}

// ctdbdInRig lays out a real ctdbd cluster in dir whose daemons run in
// test mode (CTDB_TEST_MODE, a CTDB_BASE per node) inside the rig's node
// namespaces, so that Debian's 10.interface adds and removes the public
// addresses on each node's own interface. With lock, the nodes share a
// cluster lock file (ctdb_mutex_fcntl_helper), as production clusters do.
// With share, every node runs its own smbd serving it (rigCtdbd.share).
func ctdbdInRig(dir string, rig *netrig.Rig, nodes, addrs int, lock bool, share string) (*failoverCluster, error) {
	bin, err := findRealCtdbd()
	if err != nil {
		return nil, err
	}
	public, pub := publicAddresses(rig, addrs)
	rc := &rigCtdbd{bin: bin, dir: dir, rig: rig, public: public, lock: lock, share: share}
	var sockets []string
	for k := range nodes {
		rc.nodeAddrs = append(rc.nodeAddrs, rig.PrivateAddr(k).String())
		sockets = append(sockets, filepath.Join(rc.nodeDir(k), "run", "ctdbd.socket"))
	}
	fc := &failoverCluster{logs: dir + "/node*/stderr", stop: rc.stop}
	fc.FailoverCluster = bench.FailoverCluster{
		Target:          bench.Target{Name: bench.Ctdbd, Sockets: sockets},
		Net:             rigNet{rig},
		Addrs:           pub,
		Start:           rc.start,
		Kill:            rc.kill,
		HoldsRecoveries: true,
		LastHoldStart:   rc.lastHoldStart,
	}
	return fc, nil
}

func (rc *rigCtdbd) nodeDir(k int) string { return filepath.Join(rc.dir, fmt.Sprintf("node%d", k)) }

// start lays out every node and launches its daemon; it does not wait.
func (rc *rigCtdbd) start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(rc.dir, "shared"), 0o755); err != nil {
		return err
	}
	for k := range rc.nodeAddrs {
		if err := rc.layOut(k); err != nil {
			return fmt.Errorf("lay out ctdbd node %d: %w", k, err)
		}
	}
	for k := range rc.nodeAddrs {
		if err := rc.launch(k); err != nil {
			return err
		}
	}
	return nil
}

// layOut writes node k's CTDB_BASE: configuration, nodes, public
// addresses, the files the event scripts source, and the scripts Debian
// enables (10.interface through the shim), or with a share the node's
// own smbd and 50.samba.
func (rc *rigCtdbd) layOut(k int) error {
	d := rc.nodeDir(k)
	for _, sub := range []string{"run", "volatile", "persistent", "state", "var/scripts", "events/legacy"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	lock := ""
	if rc.lock {
		lock = fmt.Sprintf("\tcluster lock = %s\n", filepath.Join(rc.dir, "shared", "cluster.lock"))
	}
	conf := fmt.Sprintf("[logging]\n\tlocation = file:%s/log.ctdb\n\tlog level = NOTICE\n[cluster]\n\tnode address = %s\n%s"+
		"[database]\n\tvolatile database directory = %s/volatile\n\tpersistent database directory = %s/persistent\n"+
		"\tstate database directory = %s/state\n", d, rc.nodeAddrs[k], lock, d, d, d)
	files := []struct {
		name, content string
		mode          os.FileMode
	}{
		{"ctdb.conf", conf, 0o644},
		{"nodes", strings.Join(rc.nodeAddrs, "\n") + "\n", 0o644},
		{"public_addresses", rc.public, 0o644},
		{"events/legacy/10.interface.script", interfaceShim, 0o755},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f.name), []byte(f.content), f.mode); err != nil {
			return err
		}
	}
	packaged := []string{"notify.sh", "debug-hung-script.sh", "script.options"}
	if rc.share != "" {
		// functions is linked there.
		if err := eventstest.LayOutSambaNode(d, rc.share, "00.ctdb", "05.system", "50.samba"); err != nil {
			return err
		}
	} else {
		packaged = append(packaged, "functions")
		for _, s := range []string{"00.ctdb.script", "01.reclock.script", "05.system.script"} {
			if err := os.Symlink("/usr/share/ctdb/events/legacy/"+s, filepath.Join(d, "events/legacy", s)); err != nil {
				return err
			}
		}
	}
	for _, f := range packaged {
		b, err := os.ReadFile(filepath.Join("/etc/ctdb", f))
		if err != nil {
			return fmt.Errorf("Debian's ctdb package: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, f), b, 0o755); err != nil {
			return err
		}
	}
	return os.Symlink("/usr/share/ctdb", filepath.Join(d, "share"))
}

// launch starts node k's ctdbd in the foreground (-i) inside its
// namespace, in a process group of its own that takes its event daemon,
// recovery daemon and lock helper along.
func (rc *rigCtdbd) launch(k int) error {
	d := rc.nodeDir(k)
	out, err := os.OpenFile(filepath.Join(d, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// ip netns exec execs ctdbd: the pid stays the daemon's.
	cmd := rc.rig.Command(k, rc.bin, "-i")
	cmd.Env = []string{"PATH=" + systemPath, "CTDB_TEST_MODE=yes", "CTDB_BASE=" + d,
		"CTDB_SCRIPT_VARDIR=" + filepath.Join(d, "var/scripts")}
	// In the foreground ctdbd logs to its standard error without times;
	// the log is read against the workload's times, so they are added.
	// The copy ends when the node's whole process group has exited.
	stamped := &stampedWriter{w: out}
	cmd.Stdout, cmd.Stderr = stamped, stamped
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start ctdbd of node %d: %w", k, err)
	}
	nd := &realNode{dir: d, socket: filepath.Join(d, "run", "ctdbd.socket"), cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		out.Close()
		close(nd.done)
	}()
	rc.mu.Lock()
	rc.nodes = append(rc.nodes, nd)
	rc.mu.Unlock()
	return nil
}

func (rc *rigCtdbd) kill(pnn uint32) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if int(pnn) >= len(rc.nodes) {
		return fmt.Errorf("no node %d", pnn)
	}
	return rc.nodes[pnn].cmd.Process.Signal(syscall.SIGKILL)
}

// stop kills every node's process group (the rig goes with the run, so
// nothing needs a clean shutdown) and waits until the groups are gone.
func (rc *rigCtdbd) stop() error {
	rc.mu.Lock()
	nodes := rc.nodes
	rc.mu.Unlock()
	var errs []error
	for _, nd := range nodes {
		syscall.Kill(-nd.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, nd := range nodes {
		if !waitDone(nd.done, 5*time.Second) {
			errs = append(errs, fmt.Errorf("stop ctdbd pid %d: still running after SIGKILL", nd.cmd.Process.Pid))
		}
		pg := -nd.cmd.Process.Pid
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pg, 0) == nil {
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("stop ctdbd: process group %d still has processes", -pg))
				break
			}
			syscall.Kill(pg, syscall.SIGKILL)
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// systemPath is the PATH of the daemons' and smbd's environments: the
// scripts call tools in the sbin directories too.
const systemPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// stampLayout is the time stampedWriter puts before each line.
const stampLayout = "2006-01-02T15:04:05.000000Z"

// holdLine starts the line ctdbd's recovery daemon logs when it begins to
// hold new recoveries back for RerecoveryTimeout: after a recovery and the
// takeover run that follows it (ctdb_recoverd.c, do_recovery).
const holdLine = "Just finished a recovery."

// lastHoldStart is when a node's recovery daemon (the leader's) last began
// to hold recoveries back, read from the nodes' logs; clients cannot see it.
func (rc *rigCtdbd) lastHoldStart() (time.Time, error) {
	var last time.Time
	for k := range rc.nodeAddrs {
		b, err := os.ReadFile(filepath.Join(rc.nodeDir(k), "stderr"))
		if err != nil {
			return time.Time{}, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			stamp, text, ok := strings.Cut(l, " ")
			if !ok || !strings.HasPrefix(text, holdLine) {
				continue
			}
			if t, err := time.Parse(stampLayout, stamp); err == nil && t.After(last) {
				last = t
			}
		}
	}
	if last.IsZero() {
		return time.Time{}, fmt.Errorf("no node logged %q", holdLine)
	}
	return last, nil
}

// stampedWriter writes each line with the time it arrived; only the
// command's copying goroutine writes to it.
type stampedWriter struct {
	w       io.Writer
	partial []byte
}

func (s *stampedWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			break
		}
		line := append(s.partial, p[:i+1]...)
		s.partial = s.partial[:0]
		p = p[i+1:]
		if _, err := fmt.Fprintf(s.w, "%s %s", time.Now().UTC().Format(stampLayout), line); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}
