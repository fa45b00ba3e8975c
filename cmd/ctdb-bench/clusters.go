package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// A cluster the compare command started, and how to end it.
type cluster struct {
	target bench.Target
	logs   string // where its nodes' logs are
	stop   func() error
}

// startRctdb starts an n-node rctdb cluster as ctdb-local does, on
// consecutive loopback addresses from first, with the ctdbd binary
// (empty: the one beside ctdb-bench).
func startRctdb(ctx context.Context, base string, n int, first, ctdbd string) (*cluster, error) {
	a, err := netip.ParseAddr(first)
	if err != nil {
		return nil, fmt.Errorf("start rctdb: address %q: %w", first, err)
	}
	dir := filepath.Join(base, "rctdb")
	c, err := localcluster.Up(ctx, localcluster.Options{N: n, Base: dir, Addr: a, Ctdbd: ctdbd, Timeout: 30 * time.Second})
	if err != nil {
		if c != nil {
			c.Down(context.Background())
		}
		return nil, fmt.Errorf("start rctdb cluster: %w", err)
	}
	t := bench.Target{Name: bench.Rctdb}
	for _, nd := range c.Nodes {
		t.Sockets = append(t.Sockets, nd.Socket)
	}
	return &cluster{target: t, logs: dir + "/node*/log.ctdb", stop: func() error {
		if err := c.Down(context.Background()); err != nil {
			return fmt.Errorf("stop rctdb cluster: %w", err)
		}
		return nil
	}}, nil
}

// realNode is one real ctdbd this process started.
type realNode struct {
	dir    string
	socket string
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process is reaped
}

// startCtdbd starts an n-node cluster of the real ctdbd 4.17 in test mode,
// as bench/scripts/real-ctdbd.sh does: per-node CTDB_BASE with its own
// ctdb.conf, nodes file, event scripts 00.ctdb and 05.system, and each
// node on its own loopback address prefix.1, prefix.2, ... Each daemon
// runs in the foreground (-i) as our child, in a process group of its own
// so that its helpers (event daemon, lock helpers) end with it.
func startCtdbd(ctx context.Context, base string, n int, prefix string) (*cluster, error) {
	bin, err := findRealCtdbd()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, "ctdbd")
	var addrs []string
	for i := 1; i <= n; i++ {
		a := fmt.Sprintf("%s.%d", prefix, i)
		if err := portFree(a); err != nil {
			return nil, fmt.Errorf("start ctdbd cluster: %w (ctdbd has no cluster identity: another cluster there would merge with ours)", err)
		}
		addrs = append(addrs, a)
	}
	var nodes []*realNode
	stop := func() error { return stopCtdbd(nodes) }
	for i, a := range addrs {
		nd, err := startRealNode(bin, filepath.Join(dir, fmt.Sprintf("node%d", i)), a, addrs)
		if err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	lc := &localcluster.Cluster{}
	t := bench.Target{Name: bench.Ctdbd}
	for _, nd := range nodes {
		lc.Nodes = append(lc.Nodes, localcluster.Node{Socket: nd.socket})
		t.Sockets = append(t.Sockets, nd.socket)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := lc.WaitHealthy(wctx); err != nil {
		stop()
		return nil, fmt.Errorf("start ctdbd cluster: not all nodes OK: %w (logs in %s/node*/stderr)", err, dir)
	}
	// In the foreground (-i) ctdbd logs to its stderr, whatever ctdb.conf says.
	return &cluster{target: t, logs: dir + "/node*/stderr", stop: stop}, nil
}

// findRealCtdbd finds Debian's ctdbd (in /usr/sbin, which a user's PATH
// may lack).
func findRealCtdbd() (string, error) {
	if p, err := exec.LookPath("ctdbd"); err == nil && !strings.Contains(p, "rctdb") {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/ctdbd"); err == nil {
		return "/usr/sbin/ctdbd", nil
	}
	return "", errors.New("the real ctdbd is not installed: install Debian's ctdb package (scripts/install-deps.sh), or use --only=rctdb")
}

// portFree checks that nothing listens on addr's CTDB port.
func portFree(addr string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "4379"))
	if err != nil {
		return fmt.Errorf("address %s:4379 is in use", addr)
	}
	return l.Close()
}

func startRealNode(bin, d, addr string, nodes []string) (*realNode, error) {
	for _, sub := range []string{"run", "volatile", "persistent", "state", "var/scripts", "events/legacy"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return nil, fmt.Errorf("start ctdbd: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "nodes"), []byte(strings.Join(nodes, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("start ctdbd: %w", err)
	}
	conf := fmt.Sprintf("[logging]\n\tlocation = file:%s/log.ctdb\n\tlog level = NOTICE\n[cluster]\n\tnode address = %s\n"+
		"[database]\n\tvolatile database directory = %s/volatile\n\tpersistent database directory = %s/persistent\n"+
		"\tstate database directory = %s/state\n", d, addr, d, d, d)
	if err := os.WriteFile(filepath.Join(d, "ctdb.conf"), []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("start ctdbd: %w", err)
	}
	for _, s := range []string{"00.ctdb", "05.system"} {
		link := filepath.Join(d, "events/legacy", s)
		os.Remove(link)
		if err := os.Symlink("/usr/share/ctdb/events/legacy/"+s, link); err != nil {
			return nil, fmt.Errorf("start ctdbd: %w", err)
		}
	}
	out, err := os.OpenFile(filepath.Join(d, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start ctdbd: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-i")
	cmd.Env = append(os.Environ(), "CTDB_TEST_MODE=yes", "CTDB_BASE="+d, "CTDB_SCRIPT_VARDIR="+filepath.Join(d, "var/scripts"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ctdbd on %s: %w", addr, err)
	}
	nd := &realNode{dir: d, socket: filepath.Join(d, "run", "ctdbd.socket"), cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(nd.done)
	}()
	return nd, nil
}

// stopCtdbd shuts every node down (the shutdown control, then SIGTERM,
// then SIGKILL) and kills what remains of each node's process group.
func stopCtdbd(nodes []*realNode) error {
	var errs []error
	for _, nd := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if c, err := client.Connect(ctx, nd.socket); err == nil {
			c.Shutdown(protocol.CurrentNode)
			c.Close()
		}
		cancel()
	}
	for _, nd := range nodes {
		if !waitDone(nd.done, 10*time.Second) {
			nd.cmd.Process.Signal(syscall.SIGTERM)
			if !waitDone(nd.done, 5*time.Second) {
				nd.cmd.Process.Kill()
				if !waitDone(nd.done, 5*time.Second) {
					errs = append(errs, fmt.Errorf("stop ctdbd pid %d: still running after SIGKILL", nd.cmd.Process.Pid))
				}
			}
		}
		// The group is the one this process made for the node: its
		// event daemon and helpers, if any outlived ctdbd. Wait until
		// the group is gone (they are reaped by init once ctdbd is).
		pg := -nd.cmd.Process.Pid
		syscall.Kill(pg, syscall.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pg, 0) == nil {
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("stop ctdbd: process group %d still has processes", -pg))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

func waitDone(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
