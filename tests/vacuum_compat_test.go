package tests

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/sambatest"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// realCluster starts n nodes of Debian's ctdbd 4.17 in test mode on free
// loopback addresses, each with its own CTDB_BASE under a temporary
// directory, and stops them (and their helpers) when the test ends.
func realCluster(t *testing.T, n int) *localcluster.Cluster {
	t.Helper()
	bin := "/usr/sbin/ctdbd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("Debian's ctdbd is not installed (make test installs the ctdb package)")
	}
	base := t.TempDir()
	addrs := testutil.LoopbackRange(t, n, protocol.DefaultPort)
	var nodes []string
	for _, a := range addrs {
		nodes = append(nodes, a.String())
	}
	c := &localcluster.Cluster{Base: base}
	var cmds []*exec.Cmd
	t.Cleanup(func() { stopRealNodes(t, cmds) })
	for i, a := range nodes {
		d := filepath.Join(base, fmt.Sprintf("node%d", i))
		cmd := startRealNode(t, bin, d, a, nodes)
		cmds = append(cmds, cmd)
		c.Nodes = append(c.Nodes, localcluster.Node{PNN: uint32(i), Addr: a, Dir: d, Socket: filepath.Join(d, "run", "ctdbd.socket"), PID: cmd.Process.Pid})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	defer func() { t.Logf("ctdbd cluster up, all OK after %v", time.Since(start).Round(time.Millisecond)) }()
	if err := c.WaitHealthy(ctx); err != nil {
		for _, nd := range c.Nodes {
			b, _ := os.ReadFile(filepath.Join(nd.Dir, "stderr"))
			t.Logf("node %d:\n%s", nd.PNN, b)
		}
		t.Fatalf("real ctdbd cluster not healthy: %v", err)
	}
	return c
}

// startRealNode lays out CTDB_BASE d for one ctdbd and starts it in the
// foreground, in a process group of its own so that its helpers end with it.
func startRealNode(t *testing.T, bin, d, addr string, nodes []string) *exec.Cmd {
	t.Helper()
	for _, sub := range []string{"run", "volatile", "persistent", "state", "var/scripts", "events/legacy"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf("[logging]\n\tlocation = file:%[1]s/log.ctdb\n\tlog level = NOTICE\n[cluster]\n\tnode address = %[2]s\n"+
		"[database]\n\tvolatile database directory = %[1]s/volatile\n\tpersistent database directory = %[1]s/persistent\n"+
		"\tstate database directory = %[1]s/state\n", d, addr)
	for name, content := range map[string]string{"nodes": strings.Join(nodes, "\n") + "\n", "ctdb.conf": conf} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"00.ctdb", "05.system"} {
		if err := os.Symlink("/usr/share/ctdb/events/legacy/"+s, filepath.Join(d, "events/legacy", s)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(d, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-i")
	cmd.Env = append(os.Environ(), "CTDB_TEST_MODE=yes", "CTDB_BASE="+d, "CTDB_SCRIPT_VARDIR="+filepath.Join(d, "var/scripts"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ctdbd on %s: %v", addr, err)
	}
	return cmd
}

// stopRealNodes kills the ctdbd this test started and everything in their
// process groups (event daemon, helpers): nothing of theirs outlives the
// test's temporary directory, so they need no orderly shutdown.
func stopRealNodes(t *testing.T, cmds []*exec.Cmd) {
	for _, cmd := range cmds {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, cmd := range cmds {
		cmd.Wait()
		if err := sambatest.ReapGroup(cmd.Process.Pid, 0, 10*time.Second); err != nil {
			t.Errorf("ctdbd's process group: %v", err)
		}
	}
}

// tdbRecord is what cattdb shows of one record.
type tdbRecord struct {
	dmaster uint32
	flags   uint32
	data    string
}

func (r tdbRecord) String() string {
	return fmt.Sprintf("dmaster %d flags %#x data %q", r.dmaster, r.flags, r.data)
}

var cattdbRecord = regexp.MustCompile(`key\(\d+\) = "([^"]*)"\ndmaster: (\d+)\nrsn: \d+\nflags: (0x[0-9a-f]+)[^\n]*\ndata\(\d+\) = "([^"]*)"`)

// nodeRecords reads the local TDB of db on every node (ctdb cattdb).
func nodeRecords(t *testing.T, c *localcluster.Cluster, db string) []map[string]tdbRecord {
	t.Helper()
	var all []map[string]tdbRecord
	for p := range c.Nodes {
		recs := map[string]tdbRecord{}
		for _, m := range cattdbRecord.FindAllStringSubmatch(mustTool(t, c, uint32(p), "cattdb", db), -1) {
			dm, _ := strconv.ParseUint(m[2], 10, 32)
			fl, _ := strconv.ParseUint(m[3], 0, 32)
			recs[m[1]] = tdbRecord{dmaster: uint32(dm), flags: uint32(fl), data: m[4]}
		}
		all = append(all, recs)
	}
	return all
}

// holdChain takes the chain lock of key in node pnn's TDB file of db in a
// worker process, as smbd holds it: through libtdb, with the open flags the
// daemon gives clients (the real ctdbd's TDB_MUTEX_LOCKING included). The
// lock is held until the returned function is called.
func holdChain(t *testing.T, c *localcluster.Cluster, pnn uint32, db, key string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := connect(t, c, pnn)
	id := protocol.DBID(db)
	r, err := cl.Control(ctx, protocol.CurrentNode, protocol.ControlGetDBPath, 0, 0, protocol.U32(id))
	if err != nil || r.Status != 0 {
		t.Fatalf("path of %s on node %d: %+v %v", db, pnn, r, err)
	}
	path := protocol.ParseCString(r.Data)
	r, err = cl.Control(ctx, protocol.CurrentNode, protocol.ControlDBOpenFlags, 0, 0, protocol.U32(id))
	if err != nil || r.Status != 0 || len(r.Data) < 4 {
		t.Fatalf("open flags of %s on node %d: %+v %v", db, pnn, r, err)
	}
	cmd := worker(map[string]string{"RCTDB_WORKER": "holdchain", "RCTDB_PATH": path, "RCTDB_KEY": key,
		"RCTDB_TDB_FLAGS": strconv.Itoa(int(int32(binary.LittleEndian.Uint32(r.Data))))})
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	release := sync.OnceFunc(func() {
		stdin.Close()
		cmd.Wait()
	})
	t.Cleanup(release)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("lock %q on node %d: %q %v", key, pnn, line, err)
	}
	return release
}

// holdChainWorker chain-locks RCTDB_KEY in the TDB file RCTDB_PATH opened
// with RCTDB_TDB_FLAGS, says "locked", and unlocks when its stdin closes.
func holdChainWorker() error {
	flags, err := strconv.Atoi(os.Getenv("RCTDB_TDB_FLAGS"))
	if err != nil {
		return err
	}
	t, err := tdb.Open(os.Getenv("RCTDB_PATH"), 0, flags, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	// A TDB_MUTEX_LOCKING chain lock is a mutex owned by this thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key := []byte(os.Getenv("RCTDB_KEY"))
	if err := t.ChainLockNonblock(key); err != nil {
		return err
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	return t.ChainUnlock(key)
}

// vacuumOn runs one vacuum pass of db on node pnn (DB_VACUUM), waiting for
// it to end.
func vacuumOn(t *testing.T, c *localcluster.Cluster, pnn uint32, db string, full bool) {
	t.Helper()
	v := protocol.DBVacuum{DBID: protocol.DBID(db), FullVacuumRun: full}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := connect(t, c, pnn).Control(ctx, protocol.CurrentNode, protocol.ControlDBVacuum, 0, 0, v.Marshal())
	if err != nil || r.Status != 0 {
		t.Fatalf("vacuum %s on node %d: %+v %v", db, pnn, r, err)
	}
}

// lmasterKey is a key whose lmaster is pnn in the vnn map [0 1 2].
func lmasterKey(prefix string, pnn uint32) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if protocol.Hash([]byte(k))%3 == pnn {
			return k
		}
	}
}

// vacuumScenario plays the cases in which vacuuming is visible to clients
// on a 3-node cluster and returns the records each node holds with some
// chains locked by a client, and after they are released.
func vacuumScenario(t *testing.T, c *localcluster.Cluster) (locked, released []map[string]tdbRecord) {
	const db = "vac.tdb"
	mustTool(t, c, 0, "attach", db)
	for p := range c.Nodes {
		// Vacuuming runs only when asked (DB_VACUUM) until the end.
		mustTool(t, c, uint32(p), "setvar", "VacuumInterval", "3600")
	}
	k := func(name string) string { return lmasterKey(name, 0) }
	// (1) Deleted on a node that is not the lmaster: once, and after a
	// migration with data, which leaves a stale copy on the first writer.
	mustTool(t, c, 1, "writekey", db, k("remote"), "v")
	mustTool(t, c, 1, "deletekey", db, k("remote"))
	mustTool(t, c, 1, "writekey", db, k("moved"), "v")
	mustTool(t, c, 2, "readkey", db, k("moved"))
	mustTool(t, c, 2, "deletekey", db, k("moved"))
	// (2) Recreated after the delete.
	mustTool(t, c, 1, "writekey", db, k("again"), "v")
	mustTool(t, c, 1, "deletekey", db, k("again"))
	mustTool(t, c, 1, "writekey", db, k("again"), "back")
	mustTool(t, c, 1, "writekey", db, k("elsewhere"), "v")
	mustTool(t, c, 1, "deletekey", db, k("elsewhere"))
	mustTool(t, c, 2, "writekey", db, k("elsewhere"), "back")
	// ... after the lmaster was asked to take it for deletion.
	mustTool(t, c, 1, "writekey", db, k("revived"), "v")
	mustTool(t, c, 1, "deletekey", db, k("revived"))
	vacuumOn(t, c, 1, db, false)
	mustTool(t, c, 1, "writekey", db, k("revived"), "back")
	// A record read where it never existed.
	mustTool(t, c, 2, "readkey", db, k("missing"))
	// (3) Held locked by a client: on the lmaster, for a record the
	// lmaster deletes alone; on a node with a stale copy the lmaster asks
	// to delete (TRY_DELETE_RECORDS).
	mustTool(t, c, 0, "writekey", db, k("lockedhere"), "v")
	mustTool(t, c, 0, "deletekey", db, k("lockedhere"))
	mustTool(t, c, 1, "writekey", db, k("lockedthere"), "v")
	mustTool(t, c, 0, "readkey", db, k("lockedthere"))
	mustTool(t, c, 0, "deletekey", db, k("lockedthere"))
	unlockHere := holdChain(t, c, 0, db, k("lockedhere"))
	unlockThere := holdChain(t, c, 1, db, k("lockedthere"))

	// A full run walks the whole database, which with 4.17 waits for
	// every locked chain: runs meeting locked records are fast runs. Two
	// rounds take a record deleted off its lmaster through VACUUM_FETCH,
	// the lmaster's take-over and, if it had data, its deletion.
	for range 2 {
		for _, p := range []uint32{1, 2, 0} {
			vacuumOn(t, c, p, db, false)
		}
	}
	// Traverses wait for locked chains: read once the locks are gone,
	// before vacuuming runs again.
	unlockHere()
	unlockThere()
	locked = nodeRecords(t, c, db)
	// 4.17 dropped the locked records from its delete queue: a full run
	// finds them again.
	for _, p := range []uint32{1, 2, 0} {
		vacuumOn(t, c, p, db, true)
	}
	released = nodeRecords(t, c, db)
	return locked, released
}

// vacuumByTunables deletes records with vacuuming left to the daemon's own
// schedule, set by `ctdb setvar` to a run every second, twice in a row, and
// returns how long until no node held them each time (a daemon vacuuming
// every 10 s whatever the tunable says cannot make both in time).
func vacuumByTunables(t *testing.T, c *localcluster.Cluster) []time.Duration {
	const db = "vac2.tdb"
	for p := range c.Nodes {
		mustTool(t, c, uint32(p), "setvar", "VacuumInterval", "1")
	}
	mustTool(t, c, 0, "attach", db)
	var took []time.Duration
	for i := range 2 {
		remote, local := lmasterKey(fmt.Sprint("remote", i), 0), lmasterKey(fmt.Sprint("local", i), 0)
		mustTool(t, c, 1, "writekey", db, remote, "v")
		mustTool(t, c, 1, "deletekey", db, remote)
		mustTool(t, c, 0, "writekey", db, local, "v")
		mustTool(t, c, 0, "deletekey", db, local)
		took = append(took, waitUntil(t, 8*time.Second, "deleted records vacuumed away at VacuumInterval 1", func() error {
			for p, recs := range nodeRecords(t, c, db) {
				if len(recs) > 0 {
					return fmt.Errorf("node %d holds %v", p, recs)
				}
			}
			return nil
		}))
	}
	return took
}

// sameRecords reports how two clusters' records differ, node by node.
func sameRecords(ctdbd, rctdb []map[string]tdbRecord) []string {
	var diffs []string
	for p := range ctdbd {
		for _, k := range sortedKeys(ctdbd[p], rctdb[p]) {
			want, inReal := ctdbd[p][k]
			got, inOurs := rctdb[p][k]
			switch {
			case !inOurs:
				diffs = append(diffs, fmt.Sprintf("node %d: %s: ctdbd keeps %v, rctdb nothing", p, k, want))
			case !inReal:
				diffs = append(diffs, fmt.Sprintf("node %d: %s: ctdbd keeps nothing, rctdb %v", p, k, got))
			case got != want:
				diffs = append(diffs, fmt.Sprintf("node %d: %s: ctdbd keeps %v, rctdb %v", p, k, want, got))
			}
		}
	}
	return diffs
}

func sortedKeys(ms ...map[string]tdbRecord) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func logRecords(t *testing.T, what string, recs []map[string]tdbRecord) {
	for p, m := range recs {
		var lines []string
		for _, k := range sortedKeys(m) {
			lines = append(lines, fmt.Sprintf("  %s: %v", k, m[k]))
		}
		t.Logf("%s, node %d:\n%s", what, p, strings.Join(lines, "\n"))
	}
}

// TestVacuumLikeCtdbd plays the vacuuming cases clients can observe on the
// real ctdbd 4.17 and on rctdb, 3 nodes each, and requires the same records
// (dmaster, flags, data) on the same nodes: while clients hold some records
// locked and after they let go. Then both must follow VacuumInterval set
// with `ctdb setvar`.
func TestVacuumLikeCtdbd(t *testing.T) {
	type result struct {
		locked, released []map[string]tdbRecord
	}
	var real, ours result
	play := func(t *testing.T, r *result, c *localcluster.Cluster) {
		start := time.Now()
		r.locked, r.released = vacuumScenario(t, c)
		logRecords(t, "with records locked", r.locked)
		logRecords(t, "after the locks went", r.released)
		t.Logf("scenario took %v", time.Since(start).Round(time.Millisecond))
		t.Logf("records vacuumed away %v after VacuumInterval 1", vacuumByTunables(t, c))
	}
	// The clusters are independent: they start and play at once.
	t.Run("daemons", func(t *testing.T) {
		t.Run("ctdbd", func(t *testing.T) {
			t.Parallel()
			play(t, &real, realCluster(t, 3))
		})
		t.Run("rctdb", func(t *testing.T) {
			t.Parallel()
			play(t, &ours, cluster(t, 3))
		})
	})
	if real.released == nil || ours.released == nil {
		t.FailNow()
	}
	for _, d := range sameRecords(real.locked, ours.locked) {
		t.Errorf("with records locked: %s", d)
	}
	for _, d := range sameRecords(real.released, ours.released) {
		t.Errorf("after the locks went: %s", d)
	}
}
