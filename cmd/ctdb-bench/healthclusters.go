package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/netrig"
)

// The health clusters are the failover clusters with Debian's scripts
// for a Samba node on every node (eventstest.LayOutSambaNode): 00.ctdb,
// 05.system, 10.interface and 50.samba, which starts, monitors and stops
// the node's own smbd. The share is the run directory's share/, with one
// file that smbclient must list.

// shareFile is the file in the share that a listing must show.
const shareFile = "hello.txt"

// healthCluster is a cluster of either daemon with a smbd per node, and
// how to end it and everything it started.
type healthCluster struct {
	bench.HealthCluster
	logs string
	stop func() error
}

// makeShare creates the share every node serves.
func makeShare(dir string) (string, error) {
	share := filepath.Join(dir, "share")
	if err := os.MkdirAll(share, 0o777); err != nil {
		return "", err
	}
	// Guests are mapped to root ("force user"), but the directory must not
	// depend on the umask.
	if err := os.Chmod(share, 0o777); err != nil {
		return "", err
	}
	return share, os.WriteFile(filepath.Join(share, shareFile), []byte("hello\n"), 0o644)
}

// rctdbHealthInRig is an rctdb cluster in the rig whose nodes are laid
// out as Samba nodes.
func rctdbHealthInRig(dir string, rig *netrig.Rig, ctdbd, logLevel string) (*healthCluster, error) {
	share, err := makeShare(dir)
	if err != nil {
		return nil, err
	}
	fc := rctdbInRig(dir, rig, failoverNodes, failoverAddrs, ctdbd, logLevel, "", func(o *localcluster.Options) {
		o.Env = append(o.Env, "CTDB_TEST_MODE=1") // 00.ctdb's ctdb-config reads $CTDB_BASE/ctdb.conf
		o.Prepare = func(_ uint32, d string) error {
			return eventstest.LayOutSambaNode(d, share, "00.ctdb", "05.system", "10.interface", "50.samba")
		}
	})
	return withSamba(dir, rig, fc), nil
}

// ctdbdHealthInRig is a real ctdbd cluster in the rig whose nodes are laid
// out as Samba nodes.
func ctdbdHealthInRig(dir string, rig *netrig.Rig, lock bool) (*healthCluster, error) {
	share, err := makeShare(dir)
	if err != nil {
		return nil, err
	}
	fc, err := ctdbdInRig(dir, rig, failoverNodes, failoverAddrs, lock, share)
	if err != nil {
		return nil, err
	}
	return withSamba(dir, rig, fc), nil
}

// withSamba turns a failover cluster whose nodes run smbd into a health
// cluster; stopping it also kills what the scripts started.
func withSamba(dir string, rig *netrig.Rig, fc *failoverCluster) *healthCluster {
	sn := &sambaNodes{rig: rig}
	for _, s := range fc.Sockets {
		// The sockets are CTDB_BASE/run/ctdbd.socket.
		sn.dirs = append(sn.dirs, filepath.Dir(filepath.Dir(s)))
		sn.eventd = append(sn.eventd, filepath.Join(filepath.Dir(s), "eventd.socket"))
	}
	sn.clients = make([]*events.Client, len(sn.eventd))
	hc := &healthCluster{logs: fc.logs}
	hc.HealthCluster = bench.HealthCluster{
		Target:      fc.Target,
		Net:         fc.Net,
		Addrs:       fc.Addrs,
		Start:       fc.Start,
		LastMonitor: sn.lastMonitor,
		KillSMB:     sn.killSMB,
		StartSMB:    sn.startSMB,
		SMBRunning:  func(k int) (bool, error) { return sn.smbdPID(k) > 0, nil },
		ListShare:   sn.listShare,
	}
	hc.stop = func() error {
		err := fc.stop()
		sn.closeClients()
		return errors.Join(err, sn.killAll(dir))
	}
	return hc
}

// sambaNodes are the nodes' smbd and event daemons, seen from outside.
type sambaNodes struct {
	rig    *netrig.Rig
	dirs   []string // each node's CTDB_BASE
	eventd []string // each node's event daemon socket

	mu      sync.Mutex
	clients []*events.Client // connected on first use, again after an error
}

// lastMonitor reads node k's last completed monitor from its event
// daemon (ctdb-eventd, or rctdb's, which speaks its protocol).
func (sn *sambaNodes) lastMonitor(ctx context.Context, k int) (bench.MonitorRun, error) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if sn.clients[k] == nil {
		c, err := events.Dial(ctx, sn.eventd[k])
		if err != nil {
			return bench.MonitorRun{}, err
		}
		sn.clients[k] = c
	}
	res, st, err := sn.clients[k].Status(ctx, "legacy", "monitor")
	if err != nil {
		sn.clients[k].Close()
		sn.clients[k] = nil
		return bench.MonitorRun{}, err
	}
	return monitorRunOf(res, st)
}

// monitorRunOf reads a STATUS reply: EINVAL says that no monitor has
// completed yet.
func monitorRunOf(res int32, st *events.Status) (bench.MonitorRun, error) {
	switch {
	case res == int32(syscall.EINVAL):
		return bench.MonitorRun{}, nil
	case res != 0 || st == nil:
		return bench.MonitorRun{}, fmt.Errorf("status of the monitor event: result %d", res)
	case len(st.Scripts) == 0:
		return bench.MonitorRun{}, errors.New("status of the monitor event: no scripts")
	}
	m := bench.MonitorRun{Begin: st.Scripts[0].Begin, OK: st.Summary == 0}
	var took []string
	for _, s := range st.Scripts {
		if s.Status != events.ScriptDisabled {
			took = append(took, fmt.Sprintf("%s %v", s.Name, s.End.Sub(s.Begin).Round(time.Millisecond)))
		}
		if s.End.After(m.End) {
			m.End = s.End
		}
		if s.Status != 0 && s.Status != events.ScriptDisabled && m.Failure == "" {
			out, _, _ := strings.Cut(strings.TrimSpace(s.Output), "\n")
			m.Failure = fmt.Sprintf("%s (status %d): %s", s.Name, s.Status, out)
		}
	}
	m.Scripts = strings.Join(took, ", ")
	return m, nil
}

func (sn *sambaNodes) closeClients() {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for k, c := range sn.clients {
		if c != nil {
			c.Close()
			sn.clients[k] = nil
		}
	}
}

// smbdPIDs are the pids node k's smbd pid files name that are alive.
func (sn *sambaNodes) smbdPIDs(k int) []int {
	files, _ := filepath.Glob(filepath.Join(sn.dirs[k], eventstest.SambaPidDir, "smbd*.pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (sn *sambaNodes) smbdPID(k int) int {
	if pids := sn.smbdPIDs(k); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// killSMB kills node k's smbd with SIGKILL: its process group (smbd
// makes one when it daemonises, and its children stay in it).
func (sn *sambaNodes) killSMB(k int) error {
	pids := sn.smbdPIDs(k)
	if len(pids) == 0 {
		return fmt.Errorf("no smbd runs on node %d", k)
	}
	for _, pid := range pids {
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("kill smbd process group %d of node %d: %w", pid, k, err)
		}
	}
	return nil
}

// startSMB starts node k's smbd as an administrator would: the node's
// service command, in its namespace, with its CTDB_BASE.
func (sn *sambaNodes) startSMB(ctx context.Context, k int) error {
	cmd := sn.rig.Command(k, filepath.Join(sn.dirs[k], "bin", "test-service"), "smbd", "start")
	cmd.Env = []string{"PATH=" + systemPath, "CTDB_BASE=" + sn.dirs[k]}
	if out, err := runCtx(ctx, cmd); err != nil {
		return fmt.Errorf("service smbd start: %w: %s", err, strings.TrimSpace(out))
	}
	return nil
}

// listShare lists the share through addr from the client's namespace, as
// a guest, and checks that it shows the share's file.
func (sn *sambaNodes) listShare(ctx context.Context, addr netip.Addr) error {
	cmd := sn.rig.ClientCommand("smbclient", "//"+addr.String()+"/share", "-N", "-s", "/dev/null", "-m", "SMB3", "-c", "ls")
	cmd.Env = []string{"PATH=" + systemPath, "HOME=/nonexistent"}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := runCtx(ctx, cmd)
	if err != nil {
		return fmt.Errorf("smbclient: %w: %s", err, strings.TrimSpace(out))
	}
	if !strings.Contains(out, shareFile) {
		return fmt.Errorf("smbclient ls shows no %s: %s", shareFile, strings.TrimSpace(out))
	}
	return nil
}

// runCtx runs cmd and returns its output; the context kills it.
func runCtx(ctx context.Context, cmd *exec.Cmd) (string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return out.String(), ctx.Err()
	}
}

// killAll kills every smbd of the nodes and every other process of the
// run directory (smbd daemonises out of the daemons' process groups; the
// scripts may have left helpers), and waits until they are gone.
func (sn *sambaNodes) killAll(dir string) error {
	for k := range sn.dirs {
		for _, pid := range sn.smbdPIDs(k) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs := clusterProcesses(dir)
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of %s still running after SIGKILL: %v", dir, procs)
		}
		for pid := range procs {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
