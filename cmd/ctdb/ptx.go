package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/tdb"
)

// What pfetch, pstore, pdelete and ptrans share: a persistent or replicated
// database and a transaction of the client library on it (client.Tx), with
// the library's messages when a step fails.

// errnoEDEADLK: a g_lock asked for twice by the same process.
const errnoEDEADLK = int(syscall.EDEADLK)

// persistentRef finds the database arg names; volatile ones have no
// transactions.
func (t *tool) persistentRef(arg string) (dbRef, error) {
	ref, err := t.dbExists(arg)
	if err != nil {
		return ref, err
	}
	if ref.volatile() {
		t.eprintf("Transactions not supported on DB %s\n", ref.name)
		return ref, exitCode(1)
	}
	return ref, nil
}

// startTx is ctdb_transaction_start with the -t timeout for the attach of
// g_lock.tdb; a failure is reported as the library and the tool do.
func (t *tool) startTx(db *client.DB, readonly bool) (*client.Tx, error) {
	tx, err := db.TransactionTimeout(t.ctx, readonly, t.opts.timelimit)
	if err != nil {
		err = t.txErr(db, err, "transaction_start")
		if !fatal(err) {
			t.eprintf("Failed to start transaction on db %s\n", db.Name)
		}
		return nil, err
	}
	return tx, nil
}

// commitTx is ctdb_transaction_commit (no timeout) as the tool calls it:
// on failure "Failed to commit transaction on db NAME" and a cancel.
func (t *tool) commitTx(db *client.DB, tx *client.Tx) error {
	if err := tx.Commit(t.ctx); err != nil {
		err = t.txErr(db, err, "transaction_commit")
		if !fatal(err) {
			t.eprintf("Failed to commit transaction on db %s\n", db.Name)
			t.cancelTx(db, tx)
		}
		return err
	}
	return nil
}

// cancelTx is ctdb_transaction_cancel; the tool ignores its result, the
// library reports a failure.
func (t *tool) cancelTx(db *client.DB, tx *client.Tx) {
	if err := tx.Cancel(t.ctx); err != nil {
		t.txErr(db, err, "transaction_cancel")
	}
}

// txFailed reports a failed Fetch, Store or Delete in a transaction: the
// tool's message (e.g. "Failed to store record for key K"), then a cancel.
// The library prints nothing of its own here.
func (t *tool) txFailed(db *client.DB, tx *client.Tx, err error, msg string) error {
	err = t.txErr(db, err, "")
	if fatal(err) {
		return err
	}
	t.eprintf("%s", msg)
	t.cancelTx(db, tx)
	return err
}

// txErr prints what the client library prints when a step of a
// transaction fails during op ("transaction_start", "transaction_commit",
// "transaction_cancel") and returns its return value, or the error that
// ends the tool.
func (t *tool) txErr(db *client.DB, err error, op string) error {
	if t.ctx.Err() != nil {
		return errMaxRuntime
	}
	if errors.Is(err, client.ErrClosed) {
		return errDisconnected
	}
	var te *client.TxError
	if !errors.As(err, &te) {
		return exitCode(errnoEIO)
	}
	lock := fmt.Sprintf("transaction_db_0x%08x", db.ID)
	var code int
	switch te.Step {
	case client.TxAttachGLock:
		if errors.Is(te.Err, syscall.EINVAL) {
			return exitCode(errnoEINVAL) // a volatile database
		}
		msg, c := attachFailure("g_lock.tdb", te.Err)
		t.eprintf("%s", msg)
		t.eprintf("transaction_start: %s attach g_lock.tdb failed\n", db.Name)
		return exitCode(c)
	case client.TxGLockFetch, client.TxUnlockFetch:
		if ferr := t.fetchLockErr("g_lock.tdb", te.Err); fatal(ferr) {
			return ferr
		}
		t.eprintf("%s: %s fetch lock failed\n", gLockFunc(te.Step), lock)
		code = errnoEIO
	case client.TxGLockData, client.TxUnlockData:
		t.eprintf("%s: %s invalid lock data\n", gLockFunc(te.Step), lock)
		code = errnoEPROTO
	case client.TxGLockDeadlock:
		t.eprintf("g_lock_lock: %s deadlock\n", lock)
		code = errnoEDEADLK
	case client.TxGLockCheck, client.TxCommit:
		c, ferr := t.errCode(te.Err)
		if ferr != nil {
			return ferr
		}
		if te.Step == client.TxCommit {
			t.eprintf("transaction_commit: %s TRANS3_COMMIT failed, ret=%d\n", db.Name, c)
			return exitCode(c)
		}
		t.eprintf("g_lock_lock: %s PROCESS_EXISTS failed, ret=%d\n", lock, c)
		code = c
	case client.TxGLockStore, client.TxUnlockStore:
		var de *tdb.Error
		if errors.As(te.Err, &de) {
			t.eprintf("store_record: g_lock.tdb tdb_storev failed, %s\n", de.Msg)
		}
		code = errnoEIO
	case client.TxUnlockDelete:
		c, ferr := t.deleteErr("g_lock.tdb", te.Err)
		if ferr != nil {
			return ferr
		}
		t.eprintf("g_lock_unlock %s delete record failed, ret=%d\n", lock, c)
		code = c
	case client.TxSeqnum:
		if errors.Is(te.Err, syscall.EINVAL) {
			return exitCode(errnoEINVAL)
		}
		t.eprintf("transaction_commit: %s seqnum fetch failed, ret=%d\n", db.Name, errnoEIO)
		return exitCode(errnoEIO)
	case client.TxSeqnumMismatch:
		var me *client.SeqnumMismatchError
		if errors.As(te.Err, &me) {
			t.eprintf("transaction_commit: %s seqnum mismatch 0x%x != 0x%x + 1\n", db.Name, me.Now, me.Before)
		}
		return exitCode(errnoEIO)
	default: // TxFetch, TxStore: EINVAL (read-only) or EIO (the TDB)
		if errors.Is(te.Err, syscall.EINVAL) {
			return exitCode(errnoEINVAL)
		}
		return exitCode(errnoEIO)
	}
	// The g_lock steps end the operation that ran them.
	switch op {
	case "transaction_start":
		t.eprintf("transaction_start: %s g_lock lock failed, ret=%d\n", db.Name, code)
	case "transaction_commit", "transaction_cancel":
		t.eprintf("%s: %s g_lock unlock failed, ret=%d\n", op, db.Name, code)
	}
	return exitCode(code)
}

// gLockFunc names the library function of a g_lock step in its messages.
func gLockFunc(s client.TxStep) string {
	if s >= client.TxUnlockFetch {
		return "g_lock_unlock"
	}
	return "g_lock_lock"
}

// persistentKey is how pfetch, pstore and pdelete start: find the
// database named by args[0] (persistent or replicated), attach it and
// parse the key args[1]. The database is to be closed by the caller.
func (t *tool) persistentKey(args []string) (dbRef, *client.DB, []byte, error) {
	ref, err := t.persistentRef(args[0])
	if err != nil {
		return ref, nil, nil, err
	}
	db, err := t.attachRef(ref)
	if err != nil {
		return ref, nil, nil, err
	}
	key, err := t.parseArg(args[1], "key")
	if err != nil {
		db.Close()
		return ref, nil, nil, err
	}
	return ref, db, key, nil
}

// storeInTx is the end of pstore and pdelete: a transaction with one store
// (nil data: a delete), committed; failMsg is the tool's message when the
// store fails.
func (t *tool) storeInTx(ref dbRef, db *client.DB, key, value []byte, failMsg string) error {
	tx, err := t.startTx(db, false)
	if err != nil {
		return err
	}
	if err := tx.Store(key, value); err != nil {
		return t.txFailed(db, tx, err, failMsg)
	}
	if err := t.commitTx(db, tx); err != nil {
		return err
	}
	if t.opts.json {
		return t.printJSON(t.keyJSON(ref, key))
	}
	return nil
}
