package tests

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/sambatest"
	"github.com/rctdb/rctdb/internal/sysmon"
	"github.com/rctdb/rctdb/internal/testutil"
)

// TestDropInTestMode runs ctdbd as CTDB 4.17's is run in test mode: three
// nodes, each with a CTDB_BASE laid out as 4.17 expects (ctdb.conf with
// nothing of rctdb's, the nodes file, events/), started with
// `CTDB_TEST_MODE=yes CTDB_BASE=<dir> ctdbd` and no arguments; the command
// returns once the daemon serves in the background. Debian's ctdb tool and
// a clustered smbd use the cluster; a second ctdbd on a running node's base
// or socket is refused; `ctdb shutdown` ends a node (exit 0, pid file and socket
// gone) and starting it again rejoins it; SIGTERM ends one as cleanly.
func TestDropInTestMode(t *testing.T) {
	d := startDropIn(t, false)
	d.waitAllOK(0, 60*time.Second)
	d.waitAllOK(2, 10*time.Second)
	// The daemon in the background runs with sysmon awake too.
	if got := runtimeGODEBUG(t, d.pids[0]); len(got) != 1 || !strings.HasSuffix(got[0], sysmon.Setting) {
		t.Errorf("the daemon in the background runs with %q, want %s", got, sysmon.Setting)
	}

	// A clustered smbd on node 0 keeps its passdb in the cluster's
	// persistent databases and serves a share.
	tmp := sambaDir(t)
	e := &sambaEnv{sockets: []string{d.socket(0)}}
	e.samba = startSamba(t, sambatest.Options{
		Nodes:    []sambatest.Node{{Socket: d.socket(0), Addr: d.addrs[0].String(), Dir: filepath.Join(tmp, "node0")}},
		ShareDir: filepath.Join(tmp, "share"),
	}, true)
	pw := e.loginAsRoot(t, 0)
	if _, err := e.server(0).SMBClient(sambaCtx(t), "", "root", pw, "ls"); err != nil {
		t.Fatalf("smbclient ls through the clustered smbd: %v", err)
	}

	// A second daemon on node 0's base is refused and names the pid
	// file and the running daemon; the running one keeps its pid file.
	pid0 := d.pids[0]
	out, rc := d.ctdbd(0)
	pidFile := filepath.Join(d.dir(0), "run", "ctdbd.pid")
	if rc == 0 || !strings.Contains(out, pidFile) || !strings.Contains(out, strconv.Itoa(pid0)) {
		t.Fatalf("second ctdbd on node 0's base: exit %d, %q; want a failure naming %s and pid %d", rc, out, pidFile, pid0)
	}
	if got := d.readPID(0); got != pid0 {
		t.Fatalf("pid file of node 0 holds %d after the refused start, want %d", got, pid0)
	}
	// So is one with a base of its own on node 0's socket (CTDB_SOCKET),
	// which stays node 0's (4.17 would remove it and take it over).
	intruder := len(d.addrs)
	d.layOut(intruder)
	out, rc = d.ctdbd(intruder, "CTDB_SOCKET="+d.socket(0))
	if rc == 0 || !strings.Contains(out, d.socket(0)) || !strings.Contains(out, "a daemon answers on it") {
		t.Fatalf("ctdbd on node 0's socket: exit %d, %q; want a failure naming the socket", rc, out)
	}
	if out, rc := d.tool(0, "pnn"); rc != 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("node 0 after the refused start on its socket: ctdb pnn exit %d, %q", rc, out)
	}
	d.checkRemoved(intruder) // the pid file it had created

	// ctdb shutdown ends node 2's daemon with exit status 0; it removes
	// its pid file and socket.
	victim := 2
	pid := d.pids[victim]
	if out, rc := d.tool(victim, "shutdown"); rc != 0 {
		t.Fatalf("ctdb shutdown on node %d: exit %d: %s", victim, rc, out)
	}
	if status := d.waitExit(pid, 20*time.Second); status != 0 {
		t.Fatalf("node %d's ctdbd exited with status %d after ctdb shutdown, want 0", victim, status)
	}
	d.checkRemoved(victim)

	// Started again the same way, it rejoins.
	if out, rc := d.ctdbd(victim); rc != 0 {
		t.Fatalf("restart of node %d: exit %d: %s", victim, rc, out)
	}
	d.waitAllOK(victim, 30*time.Second)
	d.waitAllOK(0, 10*time.Second)

	// SIGTERM ends a daemon as cleanly.
	pid = d.pids[1]
	syscall.Kill(pid, syscall.SIGTERM)
	if status := d.waitExit(pid, 20*time.Second); status != 0 {
		t.Fatalf("node 1's ctdbd exited with status %d after SIGTERM, want 0", status)
	}
	d.checkRemoved(1)
}

// checkRemoved checks that node k's daemon removed its pid file and socket.
func (d *dropIn) checkRemoved(k int) {
	d.t.Helper()
	for _, f := range []string{"ctdbd.pid", "ctdbd.socket"} {
		if _, err := os.Stat(filepath.Join(d.dir(k), "run", f)); !errors.Is(err, os.ErrNotExist) {
			d.t.Errorf("node %d's %s after it exited: %v, want it removed", k, f, err)
		}
	}
}

// TestDropInDebianLayout runs three nodes as on three Debian machines
// with the ctdb package installed: each in a mount namespace of its own
// where /etc/ctdb is a copy of the host's (Debian's ctdb.conf verbatim:
// logging to syslog, no node address, no database directories; Debian's
// enabled event scripts) with a nodes file, and /var/lib/ctdb and
// /run/ctdb are the node's; ctdbd is started with no arguments and no
// CTDB variables, as the package's unit starts it. Each node takes the
// first address of the nodes file it can bind, Debian's ctdb tool run
// there sees every node OK, and `ctdb shutdown` and a restart work.
func TestDropInDebianLayout(t *testing.T) {
	d := startDropIn(t, true)
	d.waitAllOK(0, 60*time.Second)
	for k := range d.addrs {
		if out, rc := d.tool(k, "pnn"); rc != 0 || strings.TrimSpace(out) != strconv.Itoa(k) {
			t.Fatalf("ctdb pnn on node %d: exit %d, %q", k, rc, out)
		}
	}

	pid := d.pids[1]
	if out, rc := d.tool(1, "shutdown"); rc != 0 {
		t.Fatalf("ctdb shutdown on node 1: exit %d: %s", rc, out)
	}
	if status := d.waitExit(pid, 20*time.Second); status != 0 {
		t.Fatalf("node 1's ctdbd exited with status %d after ctdb shutdown, want 0", status)
	}
	d.checkRemoved(1)
	if out, rc := d.ctdbd(1); rc != 0 {
		t.Fatalf("restart of node 1: exit %d: %s", rc, out)
	}
	d.waitAllOK(1, 30*time.Second)
	if out, _ := d.tool(1, "pnn"); strings.TrimSpace(out) != "1" {
		t.Fatalf("restarted node 1 is pnn %q", out)
	}
}

// startDropIn lays out three nodes (with debian, in Debian's layout) and
// starts their daemons one after the other, as 4.17's choice of a missing
// node address needs: each takes the first address nobody listens on yet.
// Every daemon is stopped and the directories removed at the test's end.
func startDropIn(t *testing.T, debian bool) *dropIn {
	t.Helper()
	// The daemons leave the command that started them: as this process's
	// orphans they come back here, to be waited for and their exit
	// status seen (sambatest does the same for smbd).
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); errno != 0 {
		t.Fatalf("become subreaper: %v", errno)
	}
	base, err := os.MkdirTemp("", "rctdb-dropin")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropIn{t: t, base: base, addrs: testutil.LoopbackRange(t, 3, 4379), debian: debian, pids: map[int]int{}}
	t.Cleanup(func() {
		d.stopAll()
		if t.Failed() && !debian { // Debian's ctdb.conf logs to syslog
			for k := range d.addrs {
				b, _ := os.ReadFile(filepath.Join(d.dir(k), "log.ctdb"))
				t.Logf("node %d log tail:\n%s", k, tailLines(string(b), 15))
			}
		}
		os.RemoveAll(base)
	})
	for k := range d.addrs {
		d.layOut(k)
	}
	for k := range d.addrs {
		if out, rc := d.ctdbd(k); rc != 0 {
			t.Fatalf("ctdbd of node %d: exit %d: %s", k, rc, out)
		}
	}
	return d
}

// dropIn is the test's cluster: one CTDB_BASE per node under base.
type dropIn struct {
	t     *testing.T
	base  string
	addrs []netip.Addr
	// debian runs each node with Debian's layout in a mount namespace of
	// its own instead of in test mode.
	debian bool
	mu     sync.Mutex
	pids   map[int]int // node -> pid of its running daemon
}

func (d *dropIn) dir(k int) string    { return filepath.Join(d.base, fmt.Sprint("node", k)) }
func (d *dropIn) socket(k int) string { return filepath.Join(d.dir(k), "run", "ctdbd.socket") }

// layOut writes node k's CTDB_BASE as 4.17's test mode wants it, or with
// debian a copy of the host's /etc/ctdb with a nodes file beside empty
// /var/lib/ctdb and /run/ctdb.
func (d *dropIn) layOut(k int) {
	dir := d.dir(k)
	if d.debian {
		for _, sub := range []string{"etc", "var", "run"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				d.t.Fatal(err)
			}
		}
		if out, err := exec.Command("cp", "-a", "/etc/ctdb/.", filepath.Join(dir, "etc")).CombinedOutput(); err != nil {
			d.t.Fatalf("copy /etc/ctdb: %v: %s", err, out)
		}
		var nodes strings.Builder
		for _, a := range d.addrs {
			fmt.Fprintln(&nodes, a)
		}
		if err := os.WriteFile(filepath.Join(dir, "etc", "nodes"), []byte(nodes.String()), 0o644); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Join(dir, "events", "legacy"), 0o755); err != nil {
		d.t.Fatal(err)
	}
	var nodes strings.Builder
	for _, a := range d.addrs {
		fmt.Fprintln(&nodes, a)
	}
	conf := fmt.Sprintf(`[logging]
	location = file:%[1]s/log.ctdb
	log level = NOTICE
[cluster]
	node address = %[2]s
[database]
	volatile database directory = %[1]s/volatile
	persistent database directory = %[1]s/persistent
	state database directory = %[1]s/state
`, dir, d.addrs[k%len(d.addrs)])
	for name, text := range map[string]string{"nodes": nodes.String(), "ctdb.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			d.t.Fatal(err)
		}
	}
}

// env is node k's environment: this process's without CTDB variables,
// plus test mode and the node's base.
func (d *dropIn) env(k int) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CTDB_") {
			env = append(env, kv)
		}
	}
	if d.debian {
		return env
	}
	return append(env, "CTDB_TEST_MODE=yes", "CTDB_BASE="+d.dir(k))
}

// debianMounts puts node k's directories in place of /etc/ctdb,
// /var/lib/ctdb and /run/ctdb for the command that follows in a shell.
func (d *dropIn) debianMounts(k int) string {
	dir := d.dir(k)
	return fmt.Sprintf("mount --bind %[1]s/etc /etc/ctdb && mount --bind %[1]s/var /var/lib/ctdb && "+
		"mount -t tmpfs tmpfs /run && mkdir /run/ctdb && mount --bind %[1]s/run /run/ctdb && ", dir)
}

// ctdbd runs `ctdbd` with no arguments for node k, with extra added to
// its environment, and returns its output and exit status. On success it
// records the daemon's pid.
func (d *dropIn) ctdbd(k int, extra ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ctdbd"))
	if d.debian {
		cmd = exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private",
			"sh", "-c", d.debianMounts(k)+`exec "$0"`, filepath.Join(binDir, "ctdbd"))
	}
	cmd.Env = append(d.env(k), extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The daemon must not keep our output pipe; if it did, this bounds
	// the wait.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		d.t.Fatalf("ctdbd of node %d did not return within 30s (does it fork?): %s", k, out.String())
	}
	rc := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			d.t.Fatalf("ctdbd of node %d: %v", k, err)
		}
		rc = ee.ExitCode()
	}
	if rc == 0 {
		pid := d.readPID(k)
		if pid <= 0 {
			d.t.Fatalf("ctdbd of node %d returned 0 without a pid file", k)
		}
		d.mu.Lock()
		d.pids[k] = pid
		d.mu.Unlock()
	}
	return out.String(), rc
}

func (d *dropIn) readPID(k int) int {
	b, err := os.ReadFile(filepath.Join(d.dir(k), "run", "ctdbd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// tool runs Debian's ctdb on node k, found through CTDB_TEST_MODE and
// CTDB_BASE, or through the default paths in the node's namespace, as an
// admin's scripts find it.
func (d *dropIn) tool(k int, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, realCtdb(d.t), args...)
	if d.debian {
		// In the daemon's mount namespace, where /etc/ctdb and
		// /run/ctdb are the node's.
		d.mu.Lock()
		pid := d.pids[k]
		d.mu.Unlock()
		cmd = exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", realCtdb(d.t)}, args...)...)
	}
	cmd.Env = d.env(k)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("ctdb %v on node %d: %v", args, k, err)
	}
	return string(out), 0
}

// waitAllOK waits until `ctdb status` on node k shows every node OK.
func (d *dropIn) waitAllOK(k int, timeout time.Duration) {
	d.t.Helper()
	waitUntil(d.t, timeout, fmt.Sprintf("ctdb status on node %d to show every node OK", k), func() error {
		out, rc := d.tool(k, "status")
		if rc != 0 {
			return fmt.Errorf("exit %d: %s", rc, out)
		}
		for i, a := range d.addrs {
			if !strings.Contains(out, fmt.Sprintf("pnn:%d %-16s OK", i, a)) {
				return fmt.Errorf("node %d not OK:\n%s", i, out)
			}
		}
		return nil
	})
}

// waitExit waits for the daemon pid (an orphan reparented to this
// process) to exit and returns its exit status (-1 if a signal ended it).
func (d *dropIn) waitExit(pid int, timeout time.Duration) int {
	d.t.Helper()
	ws, err := reap(pid, timeout)
	if err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
		reap(pid, 5*time.Second)
		d.t.Fatalf("daemon %d: %v", pid, err)
	}
	d.mu.Lock()
	for k, p := range d.pids {
		if p == pid {
			delete(d.pids, k)
		}
	}
	d.mu.Unlock()
	if ws.Exited() {
		return ws.ExitStatus()
	}
	return -1
}

// reap waits up to timeout for pid, a child of this process, to exit.
func reap(pid int, timeout time.Duration) (syscall.WaitStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR:
		case err != nil:
			return ws, fmt.Errorf("wait: %w (not reparented to this process?)", err)
		case got == pid:
			return ws, nil
		}
		if time.Now().After(deadline) {
			return ws, fmt.Errorf("still runs after %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopAll ends every daemon the test started: SIGTERM, and SIGKILL to its
// whole session (its event scripts) if it does not go within 10s.
func (d *dropIn) stopAll() {
	d.mu.Lock()
	var pids []int
	for _, p := range d.pids {
		pids = append(pids, p)
	}
	d.mu.Unlock()
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGTERM)
	}
	for _, p := range pids {
		if _, err := reap(p, 10*time.Second); err != nil {
			syscall.Kill(-p, syscall.SIGKILL)
			syscall.Kill(p, syscall.SIGKILL)
			reap(p, 5*time.Second)
		}
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
