package tdb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rctdb/rctdb/protocol"
)

const volatileFlags = ClearIfFirst | NoSync | DisallowNesting | IncompatibleHash

// TestMain lets the test binary play a second process (smbd's part) that
// takes libtdb chain locks: TDB_TEST_HELPER=PATH:KEY locks KEY's chain in
// PATH, says "locked", waits for a line on stdin, unlocks and says "unlocked".
func TestMain(m *testing.M) {
	if spec := os.Getenv("TDB_TEST_HELPER"); spec != "" {
		os.Exit(lockHelper(spec))
	}
	goleak.VerifyTestMain(m) // no goroutine may outlive the tests
}

func lockHelper(spec string) int {
	path, key, _ := strings.Cut(spec, ":")
	db, err := Open(path, 0, 0, os.O_RDWR, 0)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer db.Close()
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return 0
		}
		switch strings.TrimSpace(line) {
		case "lock":
			if err := db.ChainLock([]byte(key)); err != nil {
				fmt.Println("error", err)
				return 1
			}
			fmt.Println("locked")
		case "trylock":
			if err := db.ChainLockNonblock([]byte(key)); err != nil {
				fmt.Println("busy")
			} else {
				fmt.Println("locked")
			}
		case "unlock":
			db.ChainUnlock([]byte(key))
			fmt.Println("unlocked")
		}
	}
}

// helper is a second process driving libtdb chain locks.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startHelper(t *testing.T, path, key string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TDB_TEST_HELPER="+path+":"+key)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	return h
}

func (h *helper) do(t *testing.T, cmd string) string {
	t.Helper()
	fmt.Fprintln(h.in, cmd)
	line, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return strings.TrimSpace(line)
}

func openTemp(t *testing.T) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.tdb.0")
	db, err := Open(path, 1009, volatileFlags, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRecords(t *testing.T) {
	db := openTemp(t)
	if _, err := db.Fetch([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fetch of a missing record: %v", err)
	}
	if err := db.Store([]byte("k"), []byte("v1"), Insert); err != nil {
		t.Fatal(err)
	}
	if err := db.Store([]byte("k"), []byte("v2"), Insert); !errors.Is(err, ErrExists) {
		t.Fatalf("insert over an existing record: %v", err)
	}
	if err := db.StoreV([]byte("k"), [][]byte{[]byte("head"), []byte("-tail")}, Replace); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Fetch([]byte("k")); err != nil || string(v) != "head-tail" {
		t.Fatalf("fetch %q %v", v, err)
	}
	if err := db.Store(nil, []byte("empty key"), Replace); err != nil {
		t.Fatal(err)
	}
	if !db.Exists([]byte("k")) || !db.Exists(nil) {
		t.Fatal("stored records do not exist")
	}
	n := 0
	if _, err := db.TraverseRead(func(k, v []byte) bool { n++; return true }); err != nil || n != 2 {
		t.Fatalf("traverse saw %d records: %v", n, err)
	}
	if err := db.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if db.Flags()&IncompatibleHash == 0 || db.HashSize() != 1009 {
		t.Fatalf("flags %#x hash size %d", db.Flags(), db.HashSize())
	}
	db.Close()
	var terr error
	if _, terr = db.Fetch([]byte("k")); !errors.Is(terr, ErrClosed) {
		t.Fatalf("fetch after close: %v", terr)
	}
}

func TestErrorsNameTheFile(t *testing.T) {
	_, err := Open("/nonexistent/dir/x.tdb", 0, 0, os.O_RDWR, 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/x.tdb") {
		t.Fatalf("error %v", err)
	}
	db := openTemp(t)
	_, err = db.Fetch([]byte("nope"))
	if err == nil || !strings.Contains(err.Error(), db.Path()) {
		t.Fatalf("error %v does not name %s", err, db.Path())
	}
}

func TestJenkinsHashMatchesProtocol(t *testing.T) {
	for i := 0; i < 2000; i++ {
		k := make([]byte, rand.IntN(40))
		for j := range k {
			k[j] = byte(rand.Uint32())
		}
		if a, b := JenkinsHash(k), protocol.Hash(k); a != b {
			t.Fatalf("%x: libtdb %08x, protocol %08x", k, a, b)
		}
	}
}

func TestChainKey(t *testing.T) {
	for i := 0; i < 10000; i++ {
		h := rand.Uint32()
		if got := JenkinsHash(ChainKey(h)); got != h {
			t.Fatalf("ChainKey(%08x) hashes to %08x", h, got)
		}
	}
}

// TestOFDLocksExcludeOtherProcesses proves the daemon's locking scheme
// against libtdb in another process: our OFD lock on a chain's byte keeps
// the other process's chain lock out, and its chain lock keeps ours out,
// with the holder's pid visible.
func TestOFDLocksExcludeOtherProcesses(t *testing.T) {
	db := openTemp(t)
	lf, err := OpenLockFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	key := []byte("record-17")
	off := ChainOffset(Chain(JenkinsHash(key), db.HashSize()))
	h := startHelper(t, db.Path(), string(key))

	// Ours first: the other process cannot lock the chain.
	if ok, err := lf.TryLock(off, 1); !ok || err != nil {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	if got := h.do(t, "trylock"); got != "busy" {
		t.Fatalf("other process took a chain we hold: %s", got)
	}
	// While we hold it and mark it, libtdb here proceeds without locking.
	if err := db.ChainLockMark(key); err != nil {
		t.Fatal(err)
	}
	if err := db.Store(key, []byte("ours"), Replace); err != nil {
		t.Fatal(err)
	}
	if err := db.ChainLockUnmark(key); err != nil {
		t.Fatal(err)
	}
	lf.Unlock(off, 1)
	if got := h.do(t, "trylock"); got != "locked" {
		t.Fatalf("other process cannot lock a released chain: %s", got)
	}

	// Theirs: our try fails, the holder's pid is visible, a blocking wait
	// returns as soon as they unlock.
	if ok, _ := lf.TryLock(off, 1); ok {
		t.Fatal("took a chain another process holds")
	}
	pid, held, err := lf.Holder(off, 1)
	if err != nil || !held || int(pid) != h.cmd.Process.Pid {
		t.Fatalf("holder %d %v %v, want pid %d", pid, held, err, h.cmd.Process.Pid)
	}
	got := make(chan time.Time, 1)
	go func() {
		if err := lf.Lock(off, 1); err != nil {
			t.Error(err)
		}
		got <- time.Now()
	}()
	select {
	case <-got:
		t.Fatal("blocking lock returned while another process holds the chain")
	case <-time.After(200 * time.Millisecond):
	}
	released := time.Now()
	h.do(t, "unlock")
	select {
	case at := <-got:
		if d := at.Sub(released); d > 100*time.Millisecond {
			t.Errorf("waiter got the lock %v after release", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter never got the lock")
	}
	// A chain we do not hold, in the same file, stays free for others.
	other := []byte("other-key")
	for Chain(JenkinsHash(other), db.HashSize()) == Chain(JenkinsHash(key), db.HashSize()) {
		other = append(other, 'x')
	}
	h2 := startHelper(t, db.Path(), string(other))
	if got := h2.do(t, "trylock"); got != "locked" {
		t.Fatalf("unrelated chain blocked: %s", got)
	}
	lf.Unlock(off, 1)
}

// TestAllRecordLockExcludesChains: the all-record range as one OFD lock
// stops chain locks of other processes.
func TestAllRecordLockExcludesChains(t *testing.T) {
	db := openTemp(t)
	lf, err := OpenLockFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	h := startHelper(t, db.Path(), "any")
	if ok, err := lf.TryLock(AllRecordOffset, 0); !ok || err != nil {
		t.Fatalf("all-record lock: %v %v", ok, err)
	}
	if err := db.LockAllMark(); err != nil {
		t.Fatal(err)
	}
	if got := h.do(t, "trylock"); got != "busy" {
		t.Fatalf("chain lock during all-record lock: %s", got)
	}
	if err := db.Store([]byte("during freeze"), []byte("x"), Replace); err != nil {
		t.Fatal(err)
	}
	db.LockAllUnmark()
	lf.Unlock(AllRecordOffset, 0)
	if got := h.do(t, "trylock"); got != "locked" {
		t.Fatalf("after unlock: %s", got)
	}
}

// TestTraverseMarkedChain walks one chain under an OFD lock, with the
// chain marked through a ChainKey.
func TestTraverseMarkedChain(t *testing.T) {
	db := openTemp(t)
	byChain := map[uint32]int{}
	for i := 0; i < 3000; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		if err := db.Store(k, []byte("v"), Replace); err != nil {
			t.Fatal(err)
		}
		byChain[Chain(JenkinsHash(k), db.HashSize())]++
	}
	lf, _ := OpenLockFile(db.Path())
	defer lf.Close()
	total := 0
	for c := uint32(0); c < uint32(db.HashSize()); c++ {
		if ok, err := lf.TryLock(ChainOffset(c), 1); !ok || err != nil {
			t.Fatalf("chain %d: %v %v", c, ok, err)
		}
		ck := ChainKey(c)
		db.ChainLockMark(ck)
		n := 0
		if _, err := db.TraverseChain(c, func(k, v []byte) bool {
			if Chain(JenkinsHash(k), db.HashSize()) != c {
				t.Errorf("key %q in chain %d", k, c)
			}
			n++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		db.ChainLockUnmark(ck)
		lf.Unlock(ChainOffset(c), 1)
		if n != byChain[c] {
			t.Fatalf("chain %d: %d records, want %d", c, n, byChain[c])
		}
		total += n
	}
	if total != 3000 {
		t.Fatalf("%d records", total)
	}
}

func TestTransactionsSeqnumWipeRepack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.tdb.0")
	db, err := Open(path, 0, DisallowNesting|Seqnum, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s0 := db.Seqnum()
	if err := db.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	db.Store([]byte("a"), []byte("1"), Replace)
	if err := db.TransactionCancel(); err != nil {
		t.Fatal(err)
	}
	if db.Exists([]byte("a")) {
		t.Fatal("cancelled transaction left a record")
	}
	db.TransactionStart()
	db.Store([]byte("b"), bytes.Repeat([]byte("x"), 1000), Replace)
	if err := db.TransactionCommit(); err != nil {
		t.Fatal(err)
	}
	if !db.Exists([]byte("b")) || db.Seqnum() == s0 {
		t.Fatalf("committed record missing or seqnum unchanged (%d)", db.Seqnum())
	}
	if err := db.Wipe(); err != nil || db.Exists([]byte("b")) {
		t.Fatalf("wipe: %v", err)
	}
	if err := db.Repack(); err != nil {
		t.Fatal(err)
	}
	if db.FreelistSize() < 0 || db.MapSize() <= 0 {
		t.Fatalf("freelist %d map %d", db.FreelistSize(), db.MapSize())
	}
}

func TestClearIfFirstWipesOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.tdb.0")
	db, _ := Open(path, 101, volatileFlags, os.O_CREATE|os.O_RDWR, 0o600)
	db.Store([]byte("k"), []byte("v"), Replace)
	// libtdb refuses a second handle on one file in one process: the daemon
	// keeps exactly one.
	if _, err := Open(path, 0, volatileFlags, os.O_RDWR, 0); err == nil {
		t.Fatal("second handle in one process opened")
	}
	db.Close()
	db2, _ := Open(path, 101, volatileFlags, os.O_CREATE|os.O_RDWR, 0o600)
	defer db2.Close()
	if db2.Exists([]byte("k")) {
		t.Fatal("first opener after everyone closed did not wipe")
	}
}

// TestOpenOrCreateLeavesAForeignFileAlone: tdb_open with O_CREAT writes
// a new database over a file that is not a TDB; OpenOrCreate refuses it,
// naming the file, and changes none of its bytes. A missing or empty
// file becomes a new database, and a TDB opens with its records.
func TestOpenOrCreateLeavesAForeignFileAlone(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tdb.0")
	db, err := OpenOrCreate(good, 17, Default, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Store([]byte("k"), []byte("v"), Insert); err != nil {
		t.Fatal(err)
	}
	db.Close()
	valid, _ := os.ReadFile(good)
	for name, content := range map[string][]byte{
		"junk":       []byte("precious data that is no TDB"),
		"short":      []byte("TDB"),
		"cut header": valid[:100],
		"tdb magic":  append([]byte("TDB file\n"), make([]byte, 300)...),
	} {
		// CLEAR_IF_FIRST makes libtdb truncate the file before it reads
		// it: a file with a TDB's magic is then a TDB to wipe, as ctdbd
		// wipes a volatile database; without it, it must be whole.
		for _, flags := range []int{Default, ClearIfFirst} {
			if flags == ClearIfFirst && bytes.HasPrefix(content, []byte("TDB file\n")) {
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%d", name, flags))
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := OpenOrCreate(path, 17, flags, 0o600)
			if err == nil {
				db.Close()
				t.Errorf("%s, flags %d: opened", name, flags)
			} else if !errors.Is(err, ErrNotTDB) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error %q does not name the file or is not ErrNotTDB", name, err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, content) {
				t.Errorf("%s, flags %d: the file was changed", name, flags)
			}
		}
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, path := range []string{empty, filepath.Join(dir, "new"), good} {
		db, err := OpenOrCreate(path, 17, Default, 0o600)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if path == good {
			if v, err := db.Fetch([]byte("k")); err != nil || string(v) != "v" {
				t.Errorf("the TDB lost its record: %q %v", v, err)
			}
		}
		db.Close()
	}
}
