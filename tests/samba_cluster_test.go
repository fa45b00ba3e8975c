package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/sambatest"
)

// A clustered Samba on three nodes: one Debian smbd 4.17 per node
// (internal/sambatest), all serving one directory, driven by Samba's own
// clients (smbclient, pdbedit, net conf, python3-samba) and Debian's ctdb.
// Each test asserts what a user of the cluster sees across nodes.
//
// By default the daemons are a fresh 3-node rctdb cluster per test. With
//
//	RCTDB_SAMBA_SOCKETS=S0,S1,S2   CTDB client sockets of a running cluster
//	RCTDB_SAMBA_ADDRS=A0,A1,A2     the address each node's smbd binds (port 445)
//
// the tests use that cluster instead, whatever daemon runs it. That is how
// they are proven against the real ctdbd 4.17:
//
//	bash bench/scripts/real-ctdbd.sh up /tmp/rsmb-real 3 127.79.0
//	RCTDB_SAMBA_SOCKETS=/tmp/rsmb-real/node0/run/ctdbd.socket,/tmp/rsmb-real/node1/run/ctdbd.socket,/tmp/rsmb-real/node2/run/ctdbd.socket \
//	RCTDB_SAMBA_ADDRS=127.79.0.1,127.79.0.2,127.79.0.3 \
//	go test -race -count=1 -v -run SambaCluster ./tests/
//	bash bench/scripts/real-ctdbd.sh down /tmp/rsmb-real
//
// An external cluster keeps its persistent databases (passdb, registry)
// between tests and runs, so every test uses fresh random names, values
// and passwords and removes what it added to the registry.
// RCTDB_SAMBA_LOGLEVEL sets smbd's log level (default 1; 10 logs every
// control smbd sends to its daemon), and RCTDB_SAMBA_KEEP=1 keeps each
// test's Samba directories (smb.conf, smbd logs, the share) and logs where.
//
// The tests log in as root: it exists on every test machine and needs no
// Unix account to be created; its Samba account (passdb) is replaced with
// a random password by each test that logs in.

// sambaNodes is how many nodes the Samba tests use.
const sambaNodes = 3

// sambaEnv is one test's cluster: the daemons' sockets and the Samba on them.
type sambaEnv struct {
	sockets []string
	samba   *sambatest.Cluster
}

// server is node i's smbd and configuration.
func (e *sambaEnv) server(i int) *sambatest.Server { return e.samba.Servers[i] }

// must fails the test on err with the tail of every smbd log.
func (e *sambaEnv) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v\n%s", err, e.samba.LogTails(40))
	}
}

// sambaCluster sets up Samba on three daemon nodes (rctdb, or the cluster
// named by RCTDB_SAMBA_SOCKETS) with per-node smb.conf; with start it
// starts the three smbd and waits until each serves SMB.
func sambaCluster(t *testing.T, registry, start bool) *sambaEnv {
	t.Helper()
	tmp := sambaDir(t)
	env := &sambaEnv{}
	var addrs []string
	if socks := os.Getenv("RCTDB_SAMBA_SOCKETS"); socks != "" {
		env.sockets = strings.Split(socks, ",")
		addrs = strings.Split(os.Getenv("RCTDB_SAMBA_ADDRS"), ",")
		if len(env.sockets) < sambaNodes || len(addrs) != len(env.sockets) {
			t.Fatalf("RCTDB_SAMBA_SOCKETS (%d) and RCTDB_SAMBA_ADDRS (%d) must name the same %d or more nodes",
				len(env.sockets), len(addrs), sambaNodes)
		}
		t.Logf("using the running cluster at %s", socks)
	} else {
		for _, n := range cluster(t, sambaNodes).Nodes {
			env.sockets, addrs = append(env.sockets, n.Socket), append(addrs, n.Addr)
		}
	}
	var nodes []sambatest.Node
	for i := 0; i < sambaNodes; i++ {
		nodes = append(nodes, sambatest.Node{Socket: env.sockets[i], Addr: addrs[i], Dir: filepath.Join(tmp, fmt.Sprint("node", i))})
	}
	env.samba = startSamba(t, sambatest.Options{
		Nodes:    nodes,
		ShareDir: filepath.Join(tmp, "share"),
		LogLevel: os.Getenv("RCTDB_SAMBA_LOGLEVEL"),
		Registry: registry,
	}, start)
	return env
}

// sambaDir makes the directory of one test's Samba, short because Samba
// puts sockets below it; removed at the test's end unless RCTDB_SAMBA_KEEP
// is set.
func sambaDir(t *testing.T) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", "rsmb")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("RCTDB_SAMBA_KEEP") != "" {
		t.Logf("Samba directories kept in %s", tmp)
	} else {
		t.Cleanup(func() { os.RemoveAll(tmp) })
	}
	return tmp
}

// startSamba writes every node's smb.conf; with start it starts their smbd
// (stopped at the test's end) and waits until each serves SMB.
func startSamba(t *testing.T, opts sambatest.Options, start bool) *sambatest.Cluster {
	t.Helper()
	sc, err := sambatest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !start {
		return sc
	}
	t.Cleanup(func() {
		if err := sc.Stop(); err != nil {
			t.Errorf("stop Samba: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	began := time.Now()
	if err := sc.Start(ctx); err != nil {
		t.Fatalf("start Samba: %v", err)
	}
	t.Logf("%d smbd serving SMB after %v", len(opts.Nodes), time.Since(began).Round(time.Millisecond))
	return sc
}

// sambaCtx bounds one Samba step.
func sambaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// randomHex is n random bytes in hex, for names, values and passwords.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loginAsRoot gives root a Samba account with a fresh password through
// node pnn and returns the password.
func (e *sambaEnv) loginAsRoot(t *testing.T, pnn int) string {
	t.Helper()
	pw := "Rt-" + randomHex(8)
	e.must(t, e.server(pnn).AddUser(sambaCtx(t), "root", pw))
	return pw
}

// TestSambaClusterFileAcrossNodes: bytes put through node 0's smbd are
// read back identical through nodes 1 and 2.
func TestSambaClusterFileAcrossNodes(t *testing.T) {
	e := sambaCluster(t, false, true)
	pw := e.loginAsRoot(t, 0)
	size, _ := rand.Int(rand.Reader, big.NewInt(192<<10))
	data := make([]byte, 64<<10+int(size.Int64()))
	rand.Read(data)
	local := t.TempDir()
	src := filepath.Join(local, "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	name := "file-" + randomHex(6) + ".bin"
	_, err := e.server(0).SMBClient(sambaCtx(t), "", "root", pw, fmt.Sprintf("put %s %s", src, name))
	e.must(t, err)
	for _, pnn := range []int{1, 2} {
		dst := filepath.Join(local, fmt.Sprint("got", pnn))
		_, err := e.server(pnn).SMBClient(sambaCtx(t), "", "root", pw, fmt.Sprintf("get %s %s", name, dst))
		e.must(t, err)
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("through node %d: got %d bytes, not the %d put through node 0", pnn, len(got), len(data))
		}
	}
	if got, err := os.ReadFile(filepath.Join(e.samba.ShareDir, name)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the shared directory does not hold the bytes put (%v)", err)
	}
	t.Logf("%d bytes put through node 0, read back through nodes 1 and 2", len(data))
}

// TestSambaClusterPdbeditLogin: an account added with pdbedit through
// node 0 (passdb.tdb, a persistent clustered database) logs in through
// node 2 at once; a wrong password does not.
func TestSambaClusterPdbeditLogin(t *testing.T) {
	e := sambaCluster(t, false, true)
	ctx := sambaCtx(t)
	pw := "Pw-" + randomHex(8)
	// An external cluster may hold root's account from an earlier run:
	// removed through node 1, it is gone through node 2 too.
	has, err := e.server(1).HasUser(ctx, "root")
	e.must(t, err)
	if has {
		_, err := e.server(1).PDBEdit(ctx, "", "--delete", "--user=root")
		e.must(t, err)
		has, err := e.server(2).HasUser(ctx, "root")
		e.must(t, err)
		if has {
			t.Fatal("root's account deleted through node 1 is still listed through node 2")
		}
	}
	if out, err := e.server(2).SMBClient(ctx, "", "root", pw, "ls"); err == nil {
		t.Fatalf("login through node 2 before the account exists succeeded:\n%s", out)
	}
	_, err = e.server(0).PDBEdit(ctx, pw+"\n"+pw+"\n", "--create", "--user=root", "--password-from-stdin")
	e.must(t, err)
	has, err = e.server(2).HasUser(ctx, "root")
	e.must(t, err)
	if !has {
		t.Fatal("pdbedit --list through node 2 does not show the account added through node 0")
	}
	_, err = e.server(2).SMBClient(ctx, "", "root", pw, "ls")
	e.must(t, err)
	out, err := e.server(2).SMBClient(ctx, "", "root", pw+"x", "ls")
	if err == nil {
		t.Fatalf("login through node 2 with a wrong password succeeded:\n%s", out)
	}
	if !strings.Contains(out, "NT_STATUS_LOGON_FAILURE") {
		t.Errorf("wrong password through node 2: want NT_STATUS_LOGON_FAILURE, got %v", err)
	}
}

// TestSambaClusterNetConf: configuration set with net conf through node 1
// (registry.tdb, a persistent clustered database) is listed through node
// 0, and a share added through node 1 is served by node 0's smbd.
func TestSambaClusterNetConf(t *testing.T) {
	e := sambaCluster(t, true, true)
	ctx := sambaCtx(t)
	token := randomHex(8)
	_, err := e.server(1).Net(ctx, "conf", "setparm", "global", "rctdbtest:token", token)
	e.must(t, err)
	t.Cleanup(func() { e.server(2).Net(context.Background(), "conf", "delparm", "global", "rctdbtest:token") })
	out, err := e.server(0).Net(ctx, "conf", "list")
	e.must(t, err)
	if !strings.Contains(out, "rctdbtest:token = "+token) {
		t.Fatalf("net conf list through node 0 lacks the parameter set through node 1:\n%s", out)
	}
	out, err = e.server(2).Net(ctx, "conf", "getparm", "global", "rctdbtest:token")
	e.must(t, err)
	if strings.TrimSpace(out) != token {
		t.Fatalf("net conf getparm through node 2: %q, want %q", out, token)
	}

	share := "rt" + randomHex(4)
	dir := filepath.Join(e.samba.ShareDir, share)
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = e.server(1).Net(ctx, "conf", "addshare", share, dir, "writeable=y")
	e.must(t, err)
	t.Cleanup(func() { e.server(2).Net(context.Background(), "conf", "delshare", share) })
	pw := e.loginAsRoot(t, 2)
	_, err = e.server(0).SMBClient(ctx, share, "root", pw, "mkdir made-through-node0")
	e.must(t, err)
	if _, err := os.Stat(filepath.Join(dir, "made-through-node0")); err != nil {
		t.Fatalf("the share added through node 1 and used through node 0 is not %s: %v", dir, err)
	}

	_, err = e.server(2).Net(ctx, "conf", "delshare", share)
	e.must(t, err)
	_, err = e.server(2).Net(ctx, "conf", "delparm", "global", "rctdbtest:token")
	e.must(t, err)
	out, err = e.server(0).Net(ctx, "conf", "list")
	e.must(t, err)
	if strings.Contains(out, token) || strings.Contains(out, "["+share+"]") {
		t.Fatalf("net conf list through node 0 still shows what node 2 deleted:\n%s", out)
	}
}

// shareModeScript opens a file through node 0 allowing only readers, then
// tries opens through node 1, closes node 0's handle and tries again; it
// prints one JSON line per step. Arguments: conf0 addr0 conf1 addr1
// share user password name.
const shareModeScript = `
import sys, json
from samba.samba3 import libsmb_samba_internal as libsmb
from samba.samba3 import param as s3param
from samba import credentials, NTSTATUSError
from samba.dcerpc import security

conf0, addr0, conf1, addr1, share, user, pw, name = sys.argv[1:9]

def conn(conf, addr):
    lp = s3param.get_context()
    lp.load(conf)
    creds = credentials.Credentials()
    creds.guess(lp)
    creds.set_username(user)
    creds.set_password(pw)
    return libsmb.Conn(addr, share, lp, creds)

def out(**kw):
    print(json.dumps(kw), flush=True)

FILE_OPEN, FILE_OPEN_IF = 1, 3
ALL = libsmb.FILE_SHARE_READ | libsmb.FILE_SHARE_WRITE | libsmb.FILE_SHARE_DELETE

def try_open(c, access, step):
    try:
        f = c.create(name, DesiredAccess=access, ShareAccess=ALL, CreateDisposition=FILE_OPEN)
    except NTSTATUSError as e:
        out(step=step, ok=False, status="0x%08x" % (e.args[0] & 0xffffffff), msg=str(e.args[1]))
        return
    c.close(f)
    out(step=step, ok=True)

c0, c1 = conn(conf0, addr0), conn(conf1, addr1)
f0 = c0.create(name, DesiredAccess=security.SEC_FILE_READ_DATA | security.SEC_FILE_WRITE_DATA,
               ShareAccess=libsmb.FILE_SHARE_READ, CreateDisposition=FILE_OPEN_IF)
out(step="open0", ok=True)
try_open(c1, security.SEC_FILE_READ_DATA, "read1")
try_open(c1, security.SEC_FILE_WRITE_DATA, "write1")
c0.close(f0)
out(step="close0", ok=True)
try_open(c1, security.SEC_FILE_WRITE_DATA, "write1-after-close")
`

// TestSambaClusterShareModes: a file open through node 0 with a share mode
// that denies writers (locking.tdb, a volatile clustered database, holds
// it) makes an open for writing through node 1 fail with
// NT_STATUS_SHARING_VIOLATION, while readers are let in; once node 0
// closes it, node 1 opens it for writing.
func TestSambaClusterShareModes(t *testing.T) {
	e := sambaCluster(t, false, true)
	pw := e.loginAsRoot(t, 0)
	s0, s1 := e.server(0), e.server(1)
	name := "locked-" + randomHex(6) + ".txt"
	out, err := s0.Python(sambaCtx(t), shareModeScript, s0.Conf, s0.Addr, s1.Conf, s1.Addr, sambatest.ShareName, "root", pw, name)
	e.must(t, err)
	type step struct {
		Step   string `json:"step"`
		OK     bool   `json:"ok"`
		Status string `json:"status"`
		Msg    string `json:"msg"`
	}
	got := map[string]step{}
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, `{"step"`) {
			continue // Samba's client debug output, at high log levels
		}
		var s step
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("script output %q: %v\n%s", l, err, out)
		}
		got[s.Step] = s
	}
	const sharingViolation = "0xc0000043"
	want := []struct {
		step   string
		ok     bool
		status string
	}{
		{"open0", true, ""},
		{"read1", true, ""},
		{"write1", false, sharingViolation},
		{"close0", true, ""},
		{"write1-after-close", true, ""},
	}
	for _, w := range want {
		s, seen := got[w.step]
		switch {
		case !seen:
			t.Errorf("step %s did not run; output:\n%s", w.step, out)
		case s.OK != w.ok || s.Status != w.status:
			t.Errorf("step %s: ok=%v status=%s (%s), want ok=%v status=%s", w.step, s.OK, s.Status, s.Msg, w.ok, w.status)
		}
	}
	if t.Failed() {
		t.Log(e.samba.LogTails(40))
	}
}

// ctdbAt runs Debian's ctdb tool against the daemon at socket.
func ctdbAt(t *testing.T, socket string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, realCtdb(t), args...)
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+socket)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ctdb %s at %s: %w; stderr: %s", strings.Join(args, " "), socket, err, errb.String())
	}
	return out.String(), nil
}

// TestSambaClusterCtdbPstore: a record stored in a persistent database
// with ctdb pstore through node 0 is fetched with ctdb pfetch through node
// 2 as soon as pstore returns; an overwrite and a delete through other
// nodes are seen everywhere too.
func TestSambaClusterCtdbPstore(t *testing.T) {
	e := sambaCluster(t, false, false)
	db, key := "rctdb_samba_p.tdb", "key-"+randomHex(4)
	mustCtdb := func(pnn int, args ...string) string {
		t.Helper()
		out, err := ctdbAt(t, e.sockets[pnn], args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// pfetch prints the value and a newline; nothing and a newline for a
	// missing or deleted key.
	pfetch := func(pnn int) string {
		t.Helper()
		return strings.TrimSuffix(mustCtdb(pnn, "pfetch", db, key), "\n")
	}
	mustCtdb(0, "attach", db, "persistent")
	v1, v2 := "v1-"+randomHex(8), "v2-"+randomHex(8)
	mustCtdb(0, "pstore", db, key, v1)
	if got := pfetch(2); got != v1 {
		t.Fatalf("pfetch through node 2 right after pstore through node 0: %q, want %q", got, v1)
	}
	mustCtdb(2, "pstore", db, key, v2)
	for _, pnn := range []int{0, 1} {
		if got := pfetch(pnn); got != v2 {
			t.Errorf("pfetch through node %d after pstore through node 2: %q, want %q", pnn, got, v2)
		}
	}
	mustCtdb(1, "pdelete", db, key)
	for _, pnn := range []int{0, 2} {
		if got := pfetch(pnn); got != "" {
			t.Errorf("pfetch through node %d after pdelete through node 1: %q, want nothing", pnn, got)
		}
	}
}
