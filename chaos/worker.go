package chaos

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// WorkerArg is the argument that puts the campaign binary in worker mode.
const WorkerArg = "worker"

// Database names of the workloads.
const (
	persistentDB = "chaos_persistent.tdb"
	replicatedDB = "chaos_replicated.tdb"
	volatileDB   = "chaos_volatile.tdb"
	glockDB      = "chaos_glock.tdb" // the registers the g_lock sections guard
	glockTaskID  = 0x6c6f636b        // tells the section's g_lock from the transactions'
)

// WorkerSpec is what the campaign tells a worker process on its stdin.
type WorkerSpec struct {
	Socket string `json:"socket"`
	Node   int    `json:"node"`
	// Prefix starts every operation id of this worker; unique per worker.
	Prefix string `json:"prefix"`
	// Keys is the number of keys of each workload.
	Keys int `json:"keys"`
	// OpTimeout bounds one operation.
	OpTimeout time.Duration `json:"op_timeout"`
}

// workerLine is one line a worker writes: an operation's call or return,
// or why it stopped.
type workerLine struct {
	Op   *Op    `json:"op,omitempty"`
	Exit string `json:"exit,omitempty"`
}

// WorkerMain is the worker mode: it reads a WorkerSpec line from stdin,
// runs the workloads round-robin against one node until stdin closes or an
// operation leaves the connection in doubt, and reports every operation on
// stdout. It returns the exit status.
func WorkerMain(stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewScanner(stdin)
	if !in.Scan() {
		return 2
	}
	var spec WorkerSpec
	if err := json.Unmarshal(in.Bytes(), &spec); err != nil {
		fmt.Fprintf(stdout, "{\"exit\":%q}\n", "bad spec: "+err.Error())
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for in.Scan() {
		}
		cancel() // stdin closed: the campaign is over
	}()
	w := &worker{spec: spec, enc: json.NewEncoder(stdout)}
	err := w.run(ctx)
	msg := "stopped"
	if err != nil {
		msg = err.Error()
	}
	w.emit(workerLine{Exit: msg})
	return 0
}

type worker struct {
	spec WorkerSpec
	seq  int
	c    *client.Client
	dbs  map[Kind]*client.DB
	// mu serialises writes to stdout.
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *worker) emit(l workerLine) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(l) // a closed stdout means the campaign is gone
}

// errInDoubt ends a worker after an operation whose outcome it does not
// know: its connection, locks or transaction may be in any state, and a
// fresh process (started by the campaign) is the clean way on.
var errInDoubt = errors.New("operation in doubt")

func (w *worker) run(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, w.spec.OpTimeout)
	defer cancel()
	c, err := client.Connect(actx, w.spec.Socket)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	w.c = c
	w.dbs = map[Kind]*client.DB{}
	for _, a := range []struct {
		kind  Kind
		name  string
		flags uint8
	}{
		{KindPersistent, persistentDB, protocol.DBFlagPersistent},
		{KindReplicated, replicatedDB, protocol.DBFlagReplicated},
		{KindVolatile, volatileDB, 0},
		{KindGLock, glockDB, protocol.DBFlagPersistent},
	} {
		db, err := c.Attach(actx, a.name, a.flags)
		if err != nil {
			return fmt.Errorf("attach: %w", err)
		}
		defer db.Close()
		w.dbs[a.kind] = db
	}
	kinds := []Kind{KindPersistent, KindReplicated, KindVolatile, KindGLock}
	for i := 0; ctx.Err() == nil; i++ {
		kind := kinds[i%len(kinds)]
		key := kind.keyName((i / len(kinds)) % w.spec.Keys)
		if err := w.one(ctx, kind, key); err != nil {
			return err
		}
	}
	return nil
}

// keyName is the i-th key of a workload.
func (k Kind) keyName(i int) string { return string(k[0]) + strconv.Itoa(i) }

// one runs one operation and reports its call and return.
func (w *worker) one(ctx context.Context, kind Kind, key string) error {
	w.seq++
	op := Op{ID: w.spec.Prefix + "-" + strconv.Itoa(w.seq), Kind: kind, Node: w.spec.Node, Key: key}
	op.Call = monoNow()
	w.emit(workerLine{Op: &op})
	octx, cancel := context.WithTimeout(ctx, w.spec.OpTimeout)
	defer cancel()
	var err error
	switch kind {
	case KindPersistent, KindReplicated:
		err = w.transaction(octx, w.dbs[kind], &op)
	case KindVolatile:
		err = w.increment(octx, &op)
	case KindGLock:
		err = w.section(octx, &op)
	}
	op.Return = monoNow()
	if err != nil {
		op.Err = err.Error()
	}
	if op.Result == "" {
		op.Result = ResultOK
	}
	if op.Result == ResultUnknown {
		op.Return = 0 // concurrent with everything after its call
	}
	w.emit(workerLine{Op: &op})
	if err != nil || w.c.Err() != nil {
		return fmt.Errorf("%s %s: %w", kind, op.ID, errInDoubt)
	}
	return nil
}

// transaction reads the register and writes its successor in one
// transaction.
func (w *worker) transaction(ctx context.Context, db *client.DB, op *Op) error {
	tx, err := db.Transaction(ctx, false)
	if err != nil {
		op.Result = ResultFailed
		return err
	}
	cur, err := tx.Fetch([]byte(op.Key))
	if err == nil {
		op.Read = string(cur)
		err = w.storeNext(tx, op)
	}
	if err != nil {
		op.Result = ResultFailed
		tx.Cancel(ctx)
		return err
	}
	return commit(ctx, tx, op)
}

// storeNext puts the successor of op.Read into tx.
func (w *worker) storeNext(tx *client.Tx, op *Op) error {
	n, err := registerSeq(op.Read)
	if err != nil {
		return err
	}
	op.Wrote = registerValue(n+1, op.ID)
	return tx.Store([]byte(op.Key), []byte(op.Wrote))
}

// commit commits tx and judges the outcome: a failure while releasing the
// g_lock comes after a successful commit; any other failure of Commit may
// or may not have committed.
func commit(ctx context.Context, tx *client.Tx, op *Op) error {
	err := tx.Commit(ctx)
	if err == nil {
		return nil
	}
	var te *client.TxError
	if errors.As(err, &te) && te.Step >= client.TxUnlockFetch {
		return err // committed; the result stays ok
	}
	op.Result = ResultUnknown
	return err
}

// section takes the key's g_lock, reads the register from the local TDB
// without a transaction and commits its successor in a write-only
// transaction: only the g_lock keeps two sections apart.
func (w *worker) section(ctx context.Context, op *Op) error {
	l, err := w.c.GLock(ctx, "chaos_section_"+op.Key, glockTaskID, true)
	if err != nil {
		op.Result = ResultFailed
		return err
	}
	db := w.dbs[KindGLock]
	_, cur, err := db.FetchLocal([]byte(op.Key))
	if err != nil {
		op.Result = ResultFailed
		l.Unlock(ctx)
		return err
	}
	op.Read = string(cur)
	tx, err := db.Transaction(ctx, false)
	if err == nil {
		if err = w.storeNext(tx, op); err != nil {
			tx.Cancel(ctx)
		}
	}
	if err != nil {
		op.Result = ResultFailed
		l.Unlock(ctx)
		return err
	}
	if err := commit(ctx, tx, op); err != nil {
		if op.Result == ResultOK {
			l.Unlock(ctx)
		}
		return err
	}
	// The section's own unlock failing leaves a stale entry that the next
	// locker clears (its process is gone once this worker ends).
	if err := l.Unlock(ctx); err != nil {
		return err
	}
	return nil
}

// increment fetch-locks the key's counter, adds one and stores it.
func (w *worker) increment(ctx context.Context, op *Op) error {
	rec, err := w.dbs[KindVolatile].FetchLock(ctx, []byte(op.Key))
	if err != nil {
		op.Result = ResultFailed
		return err
	}
	var v uint64
	if len(rec.Data) == 8 {
		v = binary.LittleEndian.Uint64(rec.Data)
	}
	op.Read = strconv.FormatUint(v, 10)
	op.Wrote = strconv.FormatUint(v+1, 10)
	if err := rec.Store(binary.LittleEndian.AppendUint64(nil, v+1)); err != nil {
		op.Result = ResultUnknown
		return err
	}
	return nil
}
