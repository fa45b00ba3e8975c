package client

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Transactions on persistent and replicated databases, as the ctdb client
// library (ctdb/client/client_db.c) makes them: a g_lock per database
// serialises the writers of the cluster, reads come from a write buffer or
// the local TDB, the writes collect in a record buffer, and commit sends
// that buffer, with the database's sequence number bumped, to the local
// daemon in one TRANS3_COMMIT, which writes it on every node.

// SeqnumKey is the key of a persistent database's sequence number record
// (its NUL included); the value is a little-endian u64.
const SeqnumKey = "__db_sequence_number__\x00"

// TxStep is the step of a transaction that failed.
type TxStep int

// The steps, in the order a transaction goes through them.
const (
	TxAttachGLock    TxStep = iota + 1 // attaching g_lock.tdb
	TxGLockFetch                       // locking the g_lock record
	TxGLockData                        // the g_lock record is no lock list (EPROTO)
	TxGLockDeadlock                    // we hold the lock already (EDEADLK)
	TxGLockCheck                       // asking whether a holder exists (PROCESS_EXISTS)
	TxGLockStore                       // writing the g_lock record
	TxFetch                            // reading a record from the local TDB
	TxStore                            // adding a record to the write buffer
	TxSeqnum                           // reading the sequence number at commit
	TxCommit                           // sending TRANS3_COMMIT
	TxSeqnumMismatch                   // a failed commit left an unexpected seqnum (EIO)
	TxUnlockFetch                      // locking the g_lock record to release it
	TxUnlockData                       // the g_lock record is no lock list (EPROTO)
	TxUnlockStore                      // writing the g_lock record back
	TxUnlockDelete                     // deleting the emptied g_lock record
)

var txStepNames = map[TxStep]string{
	TxAttachGLock: "attach g_lock.tdb", TxGLockFetch: "g_lock fetch lock",
	TxGLockData: "g_lock invalid lock data", TxGLockDeadlock: "g_lock deadlock",
	TxGLockCheck: "g_lock PROCESS_EXISTS", TxGLockStore: "g_lock store",
	TxFetch: "fetch", TxStore: "store", TxSeqnum: "seqnum fetch",
	TxCommit: "TRANS3_COMMIT", TxSeqnumMismatch: "seqnum mismatch",
	TxUnlockFetch: "g_lock unlock fetch lock", TxUnlockData: "g_lock unlock invalid lock data",
	TxUnlockStore: "g_lock unlock store", TxUnlockDelete: "g_lock unlock delete record",
}

func (s TxStep) String() string {
	if n, ok := txStepNames[s]; ok {
		return n
	}
	return fmt.Sprintf("step %d", int(s))
}

// TxError is a failed step of a transaction. Err is the cause: a
// *ControlError, a tdb error, a context error, or a syscall.Errno where
// the library returns one (EPROTO, EDEADLK, EINVAL, EIO), so that callers
// can report what the library reports.
type TxError struct {
	Step TxStep
	DB   string // the database of the transaction
	Err  error
}

func (e *TxError) Error() string {
	return fmt.Sprintf("transaction on %s: %s: %v", e.DB, e.Step, e.Err)
}

func (e *TxError) Unwrap() error { return e.Err }

// SeqnumMismatchError: TRANS3_COMMIT failed and the local sequence number
// is neither the one before the commit (resend) nor the next one (a
// recovery completed it).
type SeqnumMismatchError struct {
	Before, Now uint64
}

func (e *SeqnumMismatchError) Error() string {
	return fmt.Sprintf("seqnum 0x%x is not 0x%x + 1", e.Now, e.Before)
}

// Unwrap gives the library's return value, EIO.
func (e *SeqnumMismatchError) Unwrap() error { return syscall.EIO }

// CommitOvertakenError: TRANS3_COMMIT failed and the sequence number moved
// on by one, but by another writer's commit: Key does not hold what this
// transaction wrote (or read).
type CommitOvertakenError struct {
	Key string
}

func (e *CommitOvertakenError) Error() string {
	return fmt.Sprintf("commit failed and another commit changed record %q", e.Key)
}

// Unwrap gives what the library returns for a seqnum mismatch, EIO.
func (e *CommitOvertakenError) Unwrap() error { return syscall.EIO }

// Tx is a transaction on a persistent or replicated database. It holds the
// database's g_lock from Transaction to Commit or Cancel. A Tx is not safe
// for concurrent use.
type Tx struct {
	db       *DB
	glock    *DB
	lockKey  []byte // "transaction_db_0x%08x" and its NUL
	sid      protocol.ServerID
	readonly bool
	updated  bool
	recs     []protocol.RecData // the write buffer; data starts with the ltdb header
	released bool
}

// Transaction starts a transaction on db, as ctdb_transaction_start:
// attach g_lock.tdb (once per client), then take the g_lock
// "transaction_db_0x<db id>" in it, a read lock when readonly, else a
// write lock, waiting while a live process holds a conflicting one. Only
// persistent and replicated databases have transactions (else EINVAL).
func (db *DB) Transaction(ctx context.Context, readonly bool) (*Tx, error) {
	return db.TransactionTimeout(ctx, readonly, 0)
}

// TransactionTimeout is Transaction with a limit on the attach of
// g_lock.tdb alone (0: none), as the ctdb tool gives its -t timeout to
// that attach and then waits for the lock without limit.
func (db *DB) TransactionTimeout(ctx context.Context, readonly bool, attachTimeout time.Duration) (*Tx, error) {
	if db.volatile() {
		return nil, &TxError{Step: TxAttachGLock, DB: db.Name, Err: syscall.EINVAL}
	}
	actx, cancel := ctx, context.CancelFunc(func() {})
	if attachTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, attachTimeout)
	}
	g, err := db.c.gLockDB(actx)
	cancel()
	if err != nil {
		return nil, &TxError{Step: TxAttachGLock, DB: db.Name, Err: err}
	}
	tx := &Tx{
		db: db, glock: g, readonly: readonly,
		lockKey: fmt.Appendf(nil, "transaction_db_0x%08x\x00", db.ID),
		sid:     db.c.serverID(db.ID),
	}
	typ := protocol.GLockWrite
	if readonly {
		typ = protocol.GLockRead
	}
	if err := g.gLockLock(ctx, tx.lockKey, tx.sid, typ); err != nil {
		return nil, tx.wrap(err)
	}
	return tx, nil
}

// LockName is the name of the transaction's g_lock, without its NUL.
func (tx *Tx) LockName() string { return string(tx.lockKey[:len(tx.lockKey)-1]) }

// wrap names the transaction's database in a *TxError.
func (tx *Tx) wrap(err error) error {
	if te, ok := err.(*TxError); ok {
		te.DB = tx.db.Name
		return te
	}
	return err
}

// buffered returns the newest record of the write buffer for key.
func (tx *Tx) buffered(key []byte) (protocol.LtdbHeader, []byte, bool) {
	for i := len(tx.recs) - 1; i >= 0; i-- {
		r := &tx.recs[i]
		if bytes.Equal(r.Key, key) {
			h, _ := protocol.DecodeLtdbHeader(r.Data)
			return h, r.Data[protocol.LtdbHeaderSize:], true
		}
	}
	return protocol.LtdbHeader{}, nil, false
}

// current is the record as the transaction sees it: from the write buffer,
// else from the local TDB.
func (tx *Tx) current(key []byte) (protocol.LtdbHeader, []byte, bool, error) {
	if h, d, ok := tx.buffered(key); ok {
		return h, d, true, nil
	}
	h, d, err := tx.db.FetchLocal(key)
	return h, d, false, err
}

// add appends a record to the write buffer.
func (tx *Tx) add(key []byte, h protocol.LtdbHeader, data []byte) {
	tx.recs = append(tx.recs, protocol.RecData{
		Key:  append([]byte(nil), key...),
		Data: append(h.AppendTo(nil), data...),
	})
}

// Fetch returns the record's data as the transaction sees it (nil or
// empty: no record). As ctdb_transaction_fetch_record does, a record read
// from the local TDB joins the write buffer with its header unchanged, and
// so goes out with the commit.
func (tx *Tx) Fetch(key []byte) ([]byte, error) {
	h, d, inBuffer, err := tx.current(key)
	if err != nil {
		return nil, &TxError{Step: TxFetch, DB: tx.db.Name, Err: err}
	}
	if !inBuffer {
		tx.add(key, h, d)
	}
	return append([]byte(nil), d...), nil
}

// Store writes a record in the transaction, as
// ctdb_transaction_store_record: data equal to the current data is a
// no-op; otherwise the record joins the write buffer with the current
// header, dmaster set to our node and rsn + 1. A read-only transaction
// refuses it (EINVAL).
func (tx *Tx) Store(key, data []byte) error {
	if tx.readonly {
		return &TxError{Step: TxStore, DB: tx.db.Name, Err: syscall.EINVAL}
	}
	h, old, _, err := tx.current(key)
	if err != nil {
		return &TxError{Step: TxStore, DB: tx.db.Name, Err: err}
	}
	if bytes.Equal(old, data) {
		return nil
	}
	h.DMaster = tx.db.c.pnn
	h.RSN++
	tx.add(key, h, data)
	tx.updated = true
	return nil
}

// Delete deletes a record in the transaction: a store of empty data.
func (tx *Tx) Delete(key []byte) error { return tx.Store(key, nil) }

// localSeqnum reads the database's sequence number from the local TDB, as
// ctdb_transaction_fetch_db_seqnum: no data is 0, else it must be 8 bytes
// (EINVAL).
func (tx *Tx) localSeqnum() (uint64, error) {
	_, d, err := tx.db.FetchLocal([]byte(SeqnumKey))
	if err != nil {
		return 0, &TxError{Step: TxSeqnum, DB: tx.db.Name, Err: err}
	}
	if len(d) == 0 {
		return 0, nil
	}
	v, err := protocol.ParseU64(d)
	if err != nil || len(d) != 8 {
		return 0, &TxError{Step: TxSeqnum, DB: tx.db.Name, Err: syscall.EINVAL}
	}
	return v, nil
}

// Commit ends the transaction, as ctdb_transaction_commit. A read-only
// transaction, or one that changed nothing, is cancelled. Otherwise the
// local sequence number + 1 joins the write buffer, and TRANS3_COMMIT
// (srvid 0, the record buffer) goes to our node, without timeout but ctx.
// When it answers a non-zero status (a recovery interfered) the local
// sequence number tells what happened: unchanged, the commit is sent
// again; one more, a recovery completed it; anything else is a
// *SeqnumMismatchError. Then the g_lock is released.
func (tx *Tx) Commit(ctx context.Context) error {
	if tx.readonly || !tx.updated {
		return tx.Cancel(ctx)
	}
	before, err := tx.localSeqnum()
	if err != nil {
		return err
	}
	if err := tx.Store([]byte(SeqnumKey), protocol.U64(before+1)); err != nil {
		return err
	}
	buf := (&protocol.RecBuffer{DBID: tx.db.ID, Records: tx.recs}).Marshal()
	c := tx.db.c
	for {
		r, err := c.Control(ctx, c.pnn, protocol.ControlTrans3Commit, 0, 0, buf)
		if err != nil {
			return &TxError{Step: TxCommit, DB: tx.db.Name, Err: err}
		}
		if r.Status == 0 {
			break
		}
		now, err := tx.localSeqnum()
		if err != nil {
			return err
		}
		if now == before {
			continue
		}
		if now != before+1 {
			return &TxError{Step: TxSeqnumMismatch, DB: tx.db.Name, Err: &SeqnumMismatchError{Before: before, Now: now}}
		}
		if err := tx.landed(); err != nil {
			return err
		}
		break
	}
	return tx.unlock(ctx)
}

// landed checks, after a failed commit that the sequence number says a
// recovery completed, that the local records are the write buffer's. The
// library (and 4.17's) takes the seqnum's step alone as proof, but another
// writer's commit moves it on by one just as well: a node that lost its
// g_lock while cut off, and whose commit was refused, would report
// another client's commit as its own.
func (tx *Tx) landed() error {
	for _, r := range tx.recs {
		if string(r.Key) == SeqnumKey {
			continue
		}
		_, d, err := tx.db.FetchLocal(r.Key)
		if err != nil {
			return &TxError{Step: TxSeqnum, DB: tx.db.Name, Err: err}
		}
		if !bytes.Equal(d, r.Data[protocol.LtdbHeaderSize:]) {
			return &TxError{Step: TxSeqnumMismatch, DB: tx.db.Name, Err: &CommitOvertakenError{Key: string(r.Key)}}
		}
	}
	return nil
}

// Cancel ends the transaction without writing anything: it releases the
// g_lock (again, if a failed Commit already tried).
func (tx *Tx) Cancel(ctx context.Context) error {
	return tx.unlock(ctx)
}

// unlock releases the g_lock once.
func (tx *Tx) unlock(ctx context.Context) error {
	if tx.released {
		return nil
	}
	if err := tx.glock.gLockUnlock(ctx, tx.lockKey, tx.sid); err != nil {
		return tx.wrap(err)
	}
	tx.released = true
	return nil
}
