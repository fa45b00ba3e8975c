package tests

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/localcluster"
)

// smbdPID is the pid of node pnn's smbd (0 if none runs).
func smbdPID(c *localcluster.Cluster, pnn int) int {
	files, _ := filepath.Glob(filepath.Join(c.Nodes[pnn].Dir, eventstest.SambaPidDir, "smbd*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && syscall.Kill(pid, 0) == nil {
			return pid
		}
	}
	return 0
}

// smbLs lists the share through public address a from the client
// namespace, as a guest.
func (ic *ipCluster) smbLs(a netip.Addr) (string, error) {
	cmd := ic.rig.ClientCommand("timeout", "20", "smbclient", "//"+a.String()+"/share", "-N", "-s", "/dev/null", "-m", "SMB3", "-c", "ls")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("smbclient //%s/share ls: %v: %s", a, err, out)
	}
	return string(out), nil
}

// TestDebianScriptsServeSMB: Debian's 00.ctdb, 05.system, 10.interface
// and 50.samba on every node of a cluster in network namespaces.
// 50.samba starts each node's smbd and the cluster serves the share on
// its public addresses (10.interface adds and removes them, with rctdb's
// leases on top). smbd killed on the holder of an address: within one
// MonitorInterval plus the scripts' time the node is UNHEALTHY on every
// node and its address answers SMB on another; smbd started again: the
// node is healthy and takes an address back (LCP2 fills an empty node).
func TestDebianScriptsServeSMB(t *testing.T) {
	share, err := os.MkdirTemp("", "rctdb-share")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(share) })
	os.Chmod(share, 0o777)
	os.WriteFile(filepath.Join(share, "hello.txt"), []byte("hello\n"), 0o644)
	var base string
	ic := startIPClusterWith(t, 3, 3, func(o *localcluster.Options) {
		o.Env = []string{"CTDB_TEST_MODE=1"} // ctdb-config (00.ctdb) reads $CTDB_BASE/ctdb.conf
		// A node is OK after its first passing monitor. 50.samba's first
		// one (testparm, smbd's first answers) took over 6 s beside two
		// other make test runs, and each node that turns healthy makes a
		// takeover run whose ipreallocated cancels the monitors running
		// elsewhere, as 4.17's event daemon does.
		o.Timeout = 60 * time.Second
		o.Prepare = func(pnn uint32, dir string) error {
			base = filepath.Dir(dir)
			return eventstest.LayOutSambaNode(dir, share, "00.ctdb", "05.system", "10.interface", "50.samba")
		}
	})
	t.Cleanup(func() { killUnder(base) })
	for k := range ic.Nodes {
		if smbdPID(ic.Cluster, k) == 0 {
			t.Fatalf("node %d: no smbd runs after startup", k)
		}
	}
	for _, a := range ic.addrs {
		if out, err := ic.smbLs(a); err != nil || !strings.Contains(out, "hello.txt") {
			t.Fatalf("SMB on public address %s: %v\n%s", a, err, out)
		}
	}
	out, errs, rc := nodeEventTool(t, realCtdb(t), ic.Cluster, 0, "event", "status", "legacy", "monitor")
	for _, s := range []string{"00.ctdb", "05.system", "10.interface", "50.samba"} {
		if rc != 0 || !strings.Contains(out, s) || !strings.Contains(out, "OK") {
			t.Fatalf("ctdb event status legacy monitor: rc=%d\n%s%s", rc, out, errs)
		}
	}

	interval := 15 * time.Second // MonitorInterval's default
	placed, _ := ic.waitPlaced(t, nil, 10*time.Second)
	a := ic.addrs[0]
	victim := placed[a]
	pid := smbdPID(ic.Cluster, victim)
	start := time.Now()
	syscall.Kill(-pid, syscall.SIGKILL)
	dUnhealthy := everyoneSees(t, ic.Cluster, start, interval+20*time.Second, "the node without smbd UNHEALTHY", uint32(victim), unhealthy)
	dMoved := waitSince(t, start, interval+25*time.Second, "the address to answer SMB on another node", func() error {
		on, err := ic.rig.Holders(a)
		if err != nil {
			return err
		}
		if len(on) != 1 || on[0] == victim {
			return fmt.Errorf("%s is on %v", a, on)
		}
		_, err = ic.smbLs(a)
		return err
	})
	t.Logf("smbd killed on node %d: UNHEALTHY everywhere after %v, %s answers SMB on a survivor after %v (MonitorInterval %v)",
		victim, dUnhealthy.Round(time.Millisecond), a, dMoved.Round(time.Millisecond), interval)
	if limit := interval + 10*time.Second; dUnhealthy > limit {
		t.Errorf("UNHEALTHY after %v: more than MonitorInterval plus the scripts' time (%v)", dUnhealthy, limit)
	}

	// The administrator starts smbd again.
	start = time.Now()
	cmd := ic.rig.Command(victim, filepath.Join(ic.Nodes[victim].Dir, "bin", "test-service"), "smbd", "start")
	cmd.Env = append(os.Environ(), "CTDB_BASE="+ic.Nodes[victim].Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start smbd again: %v\n%s", err, out)
	}
	dHealthy := everyoneSees(t, ic.Cluster, start, interval+20*time.Second, "the node healthy again", uint32(victim), healthy)
	ic.waitPlaced(t, nil, 20*time.Second)
	dBack := time.Since(start)
	t.Logf("smbd started again on node %d: healthy everywhere after %v, addresses balanced again after %v", victim, dHealthy.Round(time.Millisecond), dBack.Round(time.Millisecond))
	for _, a := range ic.addrs {
		if _, err := ic.smbLs(a); err != nil {
			t.Errorf("after failback: %v", err)
		}
	}
}
