package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// What readkey, writekey and deletekey share: a volatile database attached
// and a record locked with the client library's ctdb_fetch_lock.

// volatileDB finds and attaches the volatile database arg names; keys of
// persistent and replicated databases are refused.
func (t *tool) volatileDB(arg string) (dbRef, *client.DB, error) {
	ref, err := t.dbExists(arg)
	if err != nil {
		return ref, nil, err
	}
	if !ref.volatile() {
		t.eprintf("DB %s is not a volatile database\n", ref.name)
		return ref, nil, exitCode(1)
	}
	db, err := t.attachRef(ref)
	return ref, db, err
}

// fetchLock is ctdb_fetch_lock: the record locked, migrated here first if
// need be (the calls have no timeout). Failures are EIO, with the
// library's message when the chain lock fails.
func (t *tool) fetchLock(db *client.DB, key []byte) (*client.Record, error) {
	if len(key) == 0 && !t.localDMaster(db, key) {
		// The protocol library refuses a REQ_CALL without a key, so the
		// migration fails before anything is sent.
		t.eprintf("fetch_lock: %s CALL failed, ret=%d\n", db.Name, errnoEINVAL)
		return nil, exitCode(errnoEINVAL)
	}
	rec, err := db.FetchLock(t.ctx, key)
	if err == nil {
		return rec, nil
	}
	return nil, t.fetchLockErr(db.Name, err)
}

// fetchLockErr reports a failed ctdb_fetch_lock of database name as the
// library does (a message only for a failed chain lock) and returns its
// return value, EIO, or the error that ends the tool.
func (t *tool) fetchLockErr(name string, err error) error {
	if t.ctx.Err() != nil {
		return errMaxRuntime
	}
	if errors.Is(err, client.ErrClosed) {
		return errDisconnected
	}
	var te *tdb.Error
	if errors.As(err, &te) && te.Op == "chainlock" {
		t.eprintf("fetch_lock: %s tdb_chainlock failed, %s\n", name, te.Msg)
	}
	return exitCode(errnoEIO)
}

// localDMaster reports whether our node's copy of the record is one
// ctdb_fetch_lock takes without a migration: present, ours, and without
// read-only delegations.
func (t *tool) localDMaster(db *client.DB, key []byte) bool {
	found := false
	db.TraverseLocal(func(k []byte, h protocol.LtdbHeader, _ []byte) bool {
		if bytes.Equal(k, key) {
			found = h.DMaster == t.pnn && h.Flags&protocol.RecFlagROHaveDelegations == 0
			return false
		}
		return true
	})
	return found
}

// unchanged is ctdb_store_record's test for a store it can skip: it
// compares the new data with the record as fetched, header included.
func unchanged(rec *client.Record, data []byte) bool {
	old := append(rec.Header.AppendTo(nil), rec.Data...)
	return bytes.Equal(old, data)
}

// storeRecord is ctdb_store_record followed by the unlock.
func (t *tool) storeRecord(db *client.DB, rec *client.Record, data []byte) error {
	if unchanged(rec, data) {
		t.unlock(db, rec)
		return nil
	}
	err := rec.Store(data)
	var te *tdb.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Op == "store":
		rec.Unlock()
		t.eprintf("store_record: %s tdb_storev failed, %s\n", db.Name, te.Msg)
		return exitCode(errnoEIO)
	case errors.As(err, &te) && te.Op == "chainunlock":
		// The handle's destructor only logs this.
		t.eprintf("fetch_lock: %s tdb_chainunlock failed, %s\n", db.Name, te.Msg)
		return nil
	}
	return exitCode(errnoEIO)
}

// unlock releases a record as the handle's destructor does.
func (t *tool) unlock(db *client.DB, rec *client.Record) {
	var te *tdb.Error
	if err := rec.Unlock(); errors.As(err, &te) {
		t.eprintf("fetch_lock: %s tdb_chainunlock failed, %s\n", db.Name, te.Msg)
	}
}

// deleteRecord is ctdb_delete_record: the record emptied (header only),
// then SCHEDULE_FOR_DELETION to our node, without timeout; its status is
// not looked at.
func (t *tool) deleteRecord(db *client.DB, rec *client.Record) error {
	code, err := t.deleteErr(db.Name, rec.Delete(t.ctx))
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// deleteErr reports the result of client.Record.Delete on database name
// as ctdb_delete_record does: its messages and return value (0: deleted),
// or the error that ends the tool.
func (t *tool) deleteErr(name string, err error) (int, error) {
	var te *tdb.Error
	var ce *client.ControlError
	switch {
	case err == nil, errors.As(err, &ce):
		return 0, nil
	case t.ctx.Err() != nil:
		return 0, errMaxRuntime
	case errors.Is(err, client.ErrClosed):
		return 0, errDisconnected
	case errors.As(err, &te) && te.Op == "store":
		t.eprintf("fetch_lock delete: %s tdb_store failed, %s\n", name, te.Msg)
		return errnoEIO, nil
	case errors.As(err, &te) && te.Op == "chainunlock":
		t.eprintf("fetch_lock: %s tdb_chainunlock failed, %s\n", name, te.Msg)
		return 0, nil
	case errors.Is(err, context.DeadlineExceeded):
		t.eprintf("delete_record: %s SCHEDULE_FOR_DELETION failed, ret=%d\n", name, errnoETIMEDOUT)
		return errnoETIMEDOUT, nil
	}
	return errnoEIO, nil
}

// formatReadkey is control_readkey's line: the size and the data as "%.*s"
// prints it (up to a NUL byte).
func formatReadkey(data []byte) string {
	return fmt.Sprintf("Data: size:%d ptr:[%s]\n", len(data), untilNUL(data))
}

// untilNUL is what printf's "%.*s" shows of data: the bytes before the
// first NUL.
func untilNUL(data []byte) []byte {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return data[:i]
	}
	return data
}

// jsonKey is the document of readkey, writekey and deletekey.
type jsonKey struct {
	jsonDBCommand
	Key    string `json:"key"`
	KeyHex string `json:"key_hex"`
}

func (t *tool) keyJSON(ref dbRef, key []byte) jsonKey {
	return jsonKey{t.dbCommandJSON(t.pnn, ref.id, ref.name, ref.flags), escapeData(key), fmt.Sprintf("%x", key)}
}

// jsonKeyValue is the document of readkey and pfetch.
type jsonKeyValue struct {
	jsonKey
	Size    int    `json:"size"`
	Data    string `json:"data"`
	DataHex string `json:"data_hex"`
}

func (t *tool) keyValueJSON(ref dbRef, key, data []byte) jsonKeyValue {
	return jsonKeyValue{t.keyJSON(ref, key), len(data), escapeData(data), fmt.Sprintf("%x", data)}
}
