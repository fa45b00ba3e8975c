package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// The worker roles of the recovery workload (see recovery.go): the
// fillers write the records straight into each node's file, the clients
// fetch-lock and increment the working set across the kill, the check
// reads the survivors' files at the end. All of them open TDB files, so
// none of this runs in the parent.

// recoveryKey is the key of record i.
func recoveryKey(i int) []byte { return fmt.Appendf(nil, "rec-%08d", i) }

// recoveryIndex is the index of a record's key, or -1 for another key.
func recoveryIndex(key []byte) int {
	s, ok := strings.CutPrefix(string(key), "rec-")
	if !ok || len(s) != 8 {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return i
}

// recoveryPad follows the counter in every record's value, so that a
// record is as big as a small smbd record.
var recoveryPad = []byte("sixteen bytes...")

// recoveryValue is a record's value: the counter, then the pad. Record i
// is filled with the counter i; each client update adds one.
func recoveryValue(c uint64) []byte {
	return append(binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(recoveryPad)), c), recoveryPad...)
}

// recoveryCounter reads a value's counter; ok is false for an empty
// (missing or deleted) record.
func recoveryCounter(v []byte) (c uint64, ok bool) {
	if len(v) < 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(v), true
}

// fillHolder is the node that holds record i after the fill: its lmaster
// under the vnn map of the fill, so that the lmaster, which every
// migration asks first, is the dmaster and the cluster's state is one the
// daemons could have made themselves.
func fillHolder(vnnmap []uint32, i int) uint32 {
	m := protocol.VNNMap{Map: vnnmap}
	return m.LMaster(protocol.Hash(recoveryKey(i)))
}

func init() {
	roles["recovery-fill"] = recoveryFill
	roles["recovery-client"] = recoveryClient
	roles["recovery-check"] = recoveryCheckRole
}

// fillSpec: write the records of [0, Records) whose holder is the node
// behind Socket into its file of DB.
type fillSpec struct {
	Socket  string   `json:"socket"`
	DB      string   `json:"db"`
	Records int      `json:"records"`
	VNNMap  []uint32 `json:"vnnmap"`
}

type fillResult struct {
	PNN     uint32        `json:"pnn"`
	Stored  int           `json:"stored"`
	Elapsed time.Duration `json:"elapsed"`
}

// recoveryFill attaches the database (creating it on that node), opens
// the node's file with the open flags the daemon gives (DB_OPEN_FLAGS)
// and, once told to go, stores the node's records in one transaction,
// each with the header {rsn 1, dmaster this node}, as smbd leaves a
// record it created and holds.
func recoveryFill(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
	s, err := decodeSpec[fillSpec](raw)
	if err != nil {
		return nil, err
	}
	// The transaction holds the allrecord lock from start to commit. With
	// TDB_MUTEX_LOCKING (the real ctdbd's databases) that is a robust
	// mutex owned by the OS thread that took it: a commit on another
	// thread cannot release it (EPERM), and once tdb_close has unmapped
	// the mutexes not even the owner's death frees it, so every chain
	// lock on that file would wait forever. Stay on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	c, err := client.Connect(ctx, s.Socket)
	if err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	defer c.Close()
	db, err := c.Attach(ctx, s.DB, 0)
	if err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	path, id := db.Path, db.ID
	db.Close() // libtdb allows one handle per file and process
	r, err := c.Control(ctx, protocol.CurrentNode, protocol.ControlDBOpenFlags, 0, 0, protocol.U32(id))
	if err == nil && (r.Status != 0 || len(r.Data) < 4) {
		err = fmt.Errorf("status %d", r.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("fill: open flags of %s: %w", s.DB, err)
	}
	f, err := tdb.Open(path, 0, int(int32(binary.LittleEndian.Uint32(r.Data))), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	defer f.Close()
	if _, err := w.ready(nil); err != nil {
		return nil, err
	}
	res := fillResult{PNN: c.PNN()}
	start := time.Now()
	if err := f.TransactionStart(); err != nil {
		return nil, fmt.Errorf("fill %s on node %d: %w", s.DB, res.PNN, err)
	}
	h := protocol.LtdbHeader{RSN: 1, DMaster: res.PNN}
	for i := 0; i < s.Records; i++ {
		if fillHolder(s.VNNMap, i) != res.PNN {
			continue
		}
		v := append(h.AppendTo(nil), recoveryValue(uint64(i))...)
		if err := f.Store(recoveryKey(i), v, tdb.Replace); err != nil {
			f.TransactionCancel()
			return nil, fmt.Errorf("fill %s on node %d: store record %d: %w", s.DB, res.PNN, i, err)
		}
		res.Stored++
	}
	if err := f.TransactionCommit(); err != nil {
		return nil, fmt.Errorf("fill %s on node %d: commit: %w", s.DB, res.PNN, err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// recClientSpec: a client process that owns the working-set keys i <
// Keys with i % Of == Index (so that it alone writes them and knows their
// values) and fetch-locks and increments them in turn until told to stop.
type recClientSpec struct {
	Socket string   `json:"socket"`
	DB     string   `json:"db"`
	Index  int      `json:"index"`
	Of     int      `json:"of"`
	Keys   int      `json:"keys"`
	VNNMap []uint32 `json:"vnnmap"` // of the fill
	Victim uint32   `json:"victim"`
	// Pause after each update.
	Pause time.Duration `json:"pause"`
	// GiveUp: a key that keeps failing this long ends the client.
	GiveUp time.Duration `json:"give_up"`
	// Timeout bounds the whole run of the client.
	Timeout time.Duration `json:"timeout"`
}

// gap is a pause between two operations of a client that completed, in
// Unix nanoseconds.
type gap struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Pauses shorter than gapMin are not recorded; at most maxGaps are.
const (
	gapMin  = 5 * time.Millisecond
	maxGaps = 10000
)

type recClientResult struct {
	Ops     uint64 `json:"ops"`
	Latency Hist   `json:"latency"`
	// Errors are failed fetch-locks the client retried; LastErr is the
	// last of them.
	Errors  uint64 `json:"errors"`
	LastErr string `json:"last_err,omitempty"`
	// Lost counts keys found empty that the killed node held and no
	// client had written (CTDB drops them with the node).
	Lost uint64 `json:"lost"`
	// Bad counts values that were not the last one written.
	Bad      uint64   `json:"bad"`
	Examples []string `json:"examples,omitempty"`
	// Last is the last confirmed value of every key the client wrote.
	Last map[int]uint64 `json:"last"`
	Gaps []gap          `json:"gaps,omitempty"`
}

// warmMsg is what a client sends once it has updated each of its keys.
type warmMsg struct {
	Warm bool `json:"warm"`
}

// recoveryClient is one client process. After its first pass over its
// keys it tells the parent (a second "ready" line, {"warm": true}); any
// further line from the parent, or its end, stops it.
func recoveryClient(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
	s, err := decodeSpec[recClientSpec](raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	sess, err := startSession(ctx, w, s.Socket, s.DB, 0)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	// Stop: a blocked fetch-lock ends with the context; one blocked in a
	// chain lock (a frozen database) ends when the parent kills us.
	opCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		var m workerMsg
		readMsg(w.in, &m)
		stop()
	}()
	var keys []int
	for i := s.Index; i < s.Keys; i += s.Of {
		keys = append(keys, i)
	}
	cl := &recClient{spec: s, db: sess.db, res: recClientResult{Last: map[int]uint64{}}, prev: time.Now()}
	for pass := 0; ; pass++ {
		for _, i := range keys {
			if opCtx.Err() != nil && ctx.Err() == nil {
				return cl.res, nil // told to stop
			}
			if err := cl.update(opCtx, i); err != nil {
				if opCtx.Err() != nil && ctx.Err() == nil {
					return cl.res, nil // told to stop
				}
				return cl.res, err
			}
		}
		if pass == 0 {
			b, _ := json.Marshal(warmMsg{Warm: true})
			if err := w.out.Encode(workerMsg{Ready: b}); err != nil {
				return cl.res, fmt.Errorf("send warm: %w", err)
			}
		}
	}
}

// recClient is a client's state.
type recClient struct {
	spec recClientSpec
	db   *client.DB
	res  recClientResult
	prev time.Time // when the last operation completed
}

// update fetch-locks key i (retrying failures until GiveUp), checks its
// value and stores it incremented. An error ends the client: it gave up,
// its local store failed, or ctx ended.
func (cl *recClient) update(ctx context.Context, i int) error {
	key := recoveryKey(i)
	start := time.Now()
	var rec *client.Record
	for {
		var err error
		if rec, err = cl.db.FetchLock(ctx, key); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cl.res.Errors++
		cl.res.LastErr = err.Error()
		if time.Since(start) > cl.spec.GiveUp {
			return fmt.Errorf("gave up on %s after %v and %d errors: %w", key, time.Since(start).Round(time.Millisecond), cl.res.Errors, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	cl.res.Latency.Add(time.Since(start))
	v, has := recoveryCounter(rec.Data)
	want, written := cl.res.Last[i]
	bad := ""
	switch {
	case written && !has:
		bad = fmt.Sprintf("%s is empty, last written %d", key, want)
	case written && v != want:
		bad = fmt.Sprintf("%s holds %d, last written %d", key, v, want)
	case !written && has && v != uint64(i):
		bad = fmt.Sprintf("%s holds %d, filled with %d", key, v, i)
	case !written && !has && fillHolder(cl.spec.VNNMap, i) == cl.spec.Victim:
		cl.res.Lost++
	case !written && !has:
		bad = fmt.Sprintf("%s is empty, filled with %d on node %d", key, i, fillHolder(cl.spec.VNNMap, i))
	}
	if bad != "" {
		cl.res.Bad++
		if len(cl.res.Examples) < 5 {
			cl.res.Examples = append(cl.res.Examples, bad)
		}
	}
	next := v + 1
	if err := rec.Store(recoveryValue(next)); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	cl.res.Last[i] = next
	cl.res.Ops++
	now := time.Now()
	if now.Sub(cl.prev) >= gapMin && len(cl.res.Gaps) < maxGaps {
		cl.res.Gaps = append(cl.res.Gaps, gap{From: cl.prev.UnixNano(), To: now.UnixNano()})
	}
	cl.prev = now
	if cl.spec.Pause > 0 {
		time.Sleep(cl.spec.Pause)
		cl.prev = time.Now() // a pause of our own is no stall
	}
	return nil
}

// recCheckSpec: read the survivors' files of DB and compare every record
// with what it must hold.
type recCheckSpec struct {
	Sockets []string `json:"sockets"` // the survivors'
	DB      string   `json:"db"`
	Records int      `json:"records"`
	VNNMap  []uint32 `json:"vnnmap"` // of the fill
	Victim  uint32   `json:"victim"`
	// Written is the last confirmed value of every key a client wrote.
	Written map[int]uint64 `json:"written"`
}

// recCheckCounts are what the check found besides its verdict.
type recCheckCounts struct {
	// Kept: records no client wrote that a survivor held, with their
	// fill value.
	Kept uint64 `json:"kept"`
	// KeptWritten: keys clients wrote, with their last confirmed value.
	KeptWritten uint64 `json:"kept_written"`
	// Lost and KeptVictim: records the killed node held (and no client
	// wrote), gone or still there.
	Lost       uint64 `json:"lost"`
	KeptVictim uint64 `json:"kept_victim"`
}

// recCheckResult is the check's verdict and counts.
type recCheckResult struct {
	checkResult
	Counts recCheckCounts `json:"counts"`
}

// recoveryCheckRole runs recoveryCheck in a worker; it is ready at once.
func recoveryCheckRole(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
	s, err := decodeSpec[recCheckSpec](raw)
	if err != nil {
		return nil, err
	}
	if _, err := w.ready(nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return recoveryCheck(ctx, s)
}

// recoveryCheck reads each survivor's file directly (the copy a node
// holds as dmaster is the record's current value; the others are stale
// copies) and checks every record: a key a client wrote holds its last
// confirmed value; any other record a survivor held holds its fill value;
// a record of the killed node holds its fill value or is gone.
func recoveryCheck(ctx context.Context, s recCheckSpec) (*recCheckResult, error) {
	const none = -1
	holder := make([]int32, s.Records)
	value := make([]uint64, s.Records)
	for i := range holder {
		holder[i] = none
	}
	res := &recCheckResult{}
	var bad []string
	var nbad int
	addBad := func(format string, args ...any) {
		nbad++
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	for _, sock := range s.Sockets {
		c, err := client.Connect(ctx, sock)
		if err != nil {
			return nil, fmt.Errorf("check records: %w", err)
		}
		defer c.Close()
		db, err := c.Attach(ctx, s.DB, 0)
		if err != nil {
			return nil, fmt.Errorf("check records: %w", err)
		}
		defer db.Close()
		pnn := c.PNN()
		err = db.TraverseLocal(func(key []byte, h protocol.LtdbHeader, data []byte) bool {
			i := recoveryIndex(key)
			if i < 0 || i >= s.Records || h.DMaster != pnn {
				return true
			}
			v, ok := recoveryCounter(data)
			if !ok {
				return true // empty: as good as gone
			}
			if holder[i] != none {
				addBad("%s is held by node %d and node %d", key, holder[i], pnn)
			}
			holder[i], value[i] = int32(pnn), v
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("check records: traverse %s on node %d: %w", s.DB, pnn, err)
		}
	}
	n := &res.Counts
	for i := 0; i < s.Records; i++ {
		key := recoveryKey(i)
		want, written := s.Written[i]
		has := holder[i] != none
		switch {
		case written && !has:
			addBad("%s, last written %d by a client, is gone", key, want)
		case written && value[i] != want:
			addBad("%s holds %d, last written %d by a client", key, value[i], want)
		case written:
			n.KeptWritten++
		case fillHolder(s.VNNMap, i) == s.Victim && !has:
			n.Lost++
		case fillHolder(s.VNNMap, i) == s.Victim && value[i] == uint64(i):
			n.KeptVictim++
		case !has:
			addBad("%s, filled on node %d, is gone", key, fillHolder(s.VNNMap, i))
		case value[i] != uint64(i):
			addBad("%s holds %d, filled with %d", key, value[i], i)
		default:
			n.Kept++
		}
	}
	if nbad > 0 {
		res.Failed = fmt.Sprintf("%d records wrong: %s", nbad, strings.Join(bad, "; "))
	}
	return res, nil
}
