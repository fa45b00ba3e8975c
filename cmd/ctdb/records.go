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
	db, err := t.attach(ref.name, ref.flags)
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to attach to DB %s\n", ref.name)
		}
		return ref, nil, err
	}
	return ref, db, nil
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
	if t.ctx.Err() != nil {
		return nil, errMaxRuntime
	}
	if errors.Is(err, client.ErrClosed) {
		return nil, errDisconnected
	}
	var te *tdb.Error
	if errors.As(err, &te) && te.Op == "chainlock" {
		t.eprintf("fetch_lock: %s tdb_chainlock failed, %s\n", db.Name, te.Msg)
	}
	return nil, exitCode(errnoEIO)
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
	err := rec.Delete(t.ctx)
	var te *tdb.Error
	var ce *client.ControlError
	switch {
	case err == nil, errors.As(err, &ce):
		return nil
	case t.ctx.Err() != nil:
		return errMaxRuntime
	case errors.Is(err, client.ErrClosed):
		return errDisconnected
	case errors.As(err, &te) && te.Op == "store":
		t.eprintf("fetch_lock delete: %s tdb_store failed, %s\n", db.Name, te.Msg)
		return exitCode(errnoEIO)
	case errors.As(err, &te) && te.Op == "chainunlock":
		t.eprintf("fetch_lock: %s tdb_chainunlock failed, %s\n", db.Name, te.Msg)
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		t.eprintf("delete_record: %s SCHEDULE_FOR_DELETION failed, ret=%d\n", db.Name, errnoETIMEDOUT)
		return exitCode(errnoETIMEDOUT)
	}
	return exitCode(errnoEIO)
}

// formatReadkey is control_readkey's line: the size and the data as "%.*s"
// prints it (up to a NUL byte).
func formatReadkey(data []byte) string {
	shown := data
	if i := bytes.IndexByte(shown, 0); i >= 0 {
		shown = shown[:i]
	}
	return fmt.Sprintf("Data: size:%d ptr:[%s]\n", len(data), shown)
}

// jsonKey is the document of readkey, writekey and deletekey.
type jsonKey struct {
	Command string `json:"command"`
	PNN     uint32 `json:"pnn"`
	jsonDB
	Key    string `json:"key"`
	KeyHex string `json:"key_hex"`
}

func (t *tool) keyJSON(ref dbRef, key []byte) jsonKey {
	return jsonKey{t.name, t.pnn, dbJSON(ref.id, ref.name, ref.flags), escapeData(key), fmt.Sprintf("%x", key)}
}
