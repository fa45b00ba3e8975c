package tdb

/*
#cgo pkg-config: tdb
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <tdb.h>

int rctdb_traverse_chain(struct tdb_context *tdb, unsigned chain, uintptr_t h);
int rctdb_traverse_read(struct tdb_context *tdb, uintptr_t h);
int rctdb_traverse(struct tdb_context *tdb, uintptr_t h);
unsigned int rctdb_jenkins_hash(const unsigned char *p, size_t n);
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// Open flags (TDB_*), as in tdb.h.
const (
	Default          = 0
	ClearIfFirst     = 1
	Internal         = 2
	NoLock           = 4
	NoMmap           = 8
	Convert          = 16
	BigEndian        = 32
	NoSync           = 64
	Seqnum           = 128
	Volatile         = 256
	AllowNesting     = 512
	DisallowNesting  = 1024
	IncompatibleHash = 2048
	MutexLocking     = 4096
)

// Store modes.
const (
	Replace = 1
	Insert  = 2
	Modify  = 3
)

// Error is a libtdb failure.
type Error struct {
	Op   string
	Path string
	Code int // enum TDB_ERROR
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("tdb %s %s: %s", e.Op, e.Path, e.Msg) }

// Is lets errors.Is match the sentinels by code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == C.TDB_ERR_NOEXIST
	case ErrBusy:
		return e.Code == C.TDB_ERR_LOCK
	case ErrExists:
		return e.Code == C.TDB_ERR_EXISTS
	}
	return false
}

// Sentinels for errors.Is.
var (
	ErrNotFound = errors.New("tdb: record not found")
	ErrBusy     = errors.New("tdb: lock held elsewhere")
	ErrExists   = errors.New("tdb: record exists")
	ErrClosed   = errors.New("tdb: database closed")
)

// DB is an open TDB file.
type DB struct {
	ctx  *C.struct_tdb_context
	path string
}

// Open opens (creating it if openFlags has O_CREAT) the TDB at path with
// the given hash size (0: the file's), TDB flags and open(2) flags.
func Open(path string, hashSize int, tdbFlags int, openFlags int, mode uint32) (*DB, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	ctx, err := C.tdb_open(cpath, C.int(hashSize), C.int(tdbFlags), C.int(openFlags), C.mode_t(mode))
	if ctx == nil {
		return nil, fmt.Errorf("tdb open %s: %w", path, err)
	}
	return &DB{ctx: ctx, path: path}, nil
}

// Path is the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	if db.ctx == nil {
		return nil
	}
	r := C.tdb_close(db.ctx)
	db.ctx = nil
	if r != 0 {
		return fmt.Errorf("tdb close %s: failed", db.path)
	}
	return nil
}

func (db *DB) err(op string) error {
	if db.ctx == nil {
		return fmt.Errorf("tdb %s %s: %w", op, db.path, ErrClosed)
	}
	return &Error{Op: op, Path: db.path, Code: int(C.tdb_error(db.ctx)), Msg: C.GoString(C.tdb_errorstr(db.ctx))}
}

// datum wraps Go bytes for a call; libtdb does not keep the pointer.
func datum(b []byte) C.TDB_DATA {
	if len(b) == 0 {
		return C.TDB_DATA{}
	}
	return C.TDB_DATA{dptr: (*C.uchar)(unsafe.Pointer(&b[0])), dsize: C.size_t(len(b))}
}

// Fetch returns a copy of the record's value, or ErrNotFound.
func (db *DB) Fetch(key []byte) ([]byte, error) {
	if db.ctx == nil {
		return nil, db.err("fetch")
	}
	d := C.tdb_fetch(db.ctx, datum(key))
	if d.dptr == nil {
		return nil, db.err("fetch")
	}
	defer C.free(unsafe.Pointer(d.dptr))
	return C.GoBytes(unsafe.Pointer(d.dptr), C.int(d.dsize)), nil
}

// Exists reports whether a record exists.
func (db *DB) Exists(key []byte) bool {
	return db.ctx != nil && C.tdb_exists(db.ctx, datum(key)) == 1
}

// Store writes a record; mode is Replace, Insert or Modify.
func (db *DB) Store(key, value []byte, mode int) error {
	if db.ctx == nil || C.tdb_store(db.ctx, datum(key), datum(value), C.int(mode)) != 0 {
		return db.err("store")
	}
	return nil
}

// StoreV writes a record whose value is the concatenation of parts.
func (db *DB) StoreV(key []byte, parts [][]byte, mode int) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	v := make([]byte, 0, n)
	for _, p := range parts {
		v = append(v, p...)
	}
	return db.Store(key, v, mode)
}

// Delete removes a record; ErrNotFound if it does not exist.
func (db *DB) Delete(key []byte) error {
	if db.ctx == nil || C.tdb_delete(db.ctx, datum(key)) != 0 {
		return db.err("delete")
	}
	return nil
}

// ChainLock takes the chain lock of key, waiting for it.
func (db *DB) ChainLock(key []byte) error {
	if db.ctx == nil || C.tdb_chainlock(db.ctx, datum(key)) != 0 {
		return db.err("chainlock")
	}
	return nil
}

// ChainLockNonblock takes the chain lock of key or fails with ErrBusy.
func (db *DB) ChainLockNonblock(key []byte) error {
	if db.ctx == nil || C.tdb_chainlock_nonblock(db.ctx, datum(key)) != 0 {
		return db.err("chainlock_nonblock")
	}
	return nil
}

// ChainUnlock releases the chain lock of key.
func (db *DB) ChainUnlock(key []byte) error {
	if db.ctx == nil || C.tdb_chainunlock(db.ctx, datum(key)) != 0 {
		return db.err("chainunlock")
	}
	return nil
}

// ChainLockRead and ChainUnlockRead take and release a shared chain lock.
func (db *DB) ChainLockRead(key []byte) error {
	if db.ctx == nil || C.tdb_chainlock_read(db.ctx, datum(key)) != 0 {
		return db.err("chainlock_read")
	}
	return nil
}

func (db *DB) ChainUnlockRead(key []byte) error {
	if db.ctx == nil || C.tdb_chainunlock_read(db.ctx, datum(key)) != 0 {
		return db.err("chainunlock_read")
	}
	return nil
}

// ChainLockMark tells libtdb that the chain of key is locked, without
// locking it: the caller holds it by other means (an OFD lock).
func (db *DB) ChainLockMark(key []byte) error {
	if db.ctx == nil || C.tdb_chainlock_mark(db.ctx, datum(key)) != 0 {
		return db.err("chainlock_mark")
	}
	return nil
}

// ChainLockUnmark undoes ChainLockMark.
func (db *DB) ChainLockUnmark(key []byte) error {
	if db.ctx == nil || C.tdb_chainlock_unmark(db.ctx, datum(key)) != 0 {
		return db.err("chainlock_unmark")
	}
	return nil
}

// LockAll and UnlockAll take and release the all-record lock, waiting.
func (db *DB) LockAll() error {
	if db.ctx == nil || C.tdb_lockall(db.ctx) != 0 {
		return db.err("lockall")
	}
	return nil
}

func (db *DB) UnlockAll() error {
	if db.ctx == nil || C.tdb_unlockall(db.ctx) != 0 {
		return db.err("unlockall")
	}
	return nil
}

// LockAllMark and LockAllUnmark mark the all-record lock as held without
// locking (the caller holds it by an OFD lock).
func (db *DB) LockAllMark() error {
	if db.ctx == nil || C.tdb_lockall_mark(db.ctx) != 0 {
		return db.err("lockall_mark")
	}
	return nil
}

func (db *DB) LockAllUnmark() error {
	if db.ctx == nil || C.tdb_lockall_unmark(db.ctx) != 0 {
		return db.err("lockall_unmark")
	}
	return nil
}

// TransactionStart, TransactionCommit and TransactionCancel run a
// transaction.
func (db *DB) TransactionStart() error {
	if db.ctx == nil || C.tdb_transaction_start(db.ctx) != 0 {
		return db.err("transaction_start")
	}
	return nil
}

func (db *DB) TransactionCommit() error {
	if db.ctx == nil || C.tdb_transaction_commit(db.ctx) != 0 {
		return db.err("transaction_commit")
	}
	return nil
}

func (db *DB) TransactionCancel() error {
	if db.ctx == nil || C.tdb_transaction_cancel(db.ctx) != 0 {
		return db.err("transaction_cancel")
	}
	return nil
}

// Seqnum returns the database sequence number (TDB_SEQNUM databases).
func (db *DB) Seqnum() int {
	if db.ctx == nil {
		return 0
	}
	return int(C.tdb_get_seqnum(db.ctx))
}

// EnableSeqnum turns on sequence numbers on this handle.
func (db *DB) EnableSeqnum() {
	if db.ctx != nil {
		C.tdb_enable_seqnum(db.ctx)
	}
}

// IncrementSeqnum bumps the sequence number if its lock is free.
func (db *DB) IncrementSeqnum() {
	if db.ctx != nil {
		C.tdb_increment_seqnum_nonblock(db.ctx)
	}
}

// Flags returns the handle's TDB flags (what DB_OPEN_FLAGS reports).
func (db *DB) Flags() int {
	if db.ctx == nil {
		return 0
	}
	return int(C.tdb_get_flags(db.ctx))
}

// AddFlags sets TDB flags on the handle.
func (db *DB) AddFlags(f int) {
	if db.ctx != nil {
		C.tdb_add_flags(db.ctx, C.uint(f))
	}
}

// RemoveFlags clears TDB flags on the handle.
func (db *DB) RemoveFlags(f int) {
	if db.ctx != nil {
		C.tdb_remove_flags(db.ctx, C.uint(f))
	}
}

// HashSize returns the number of hash chains.
func (db *DB) HashSize() int {
	if db.ctx == nil {
		return 0
	}
	return int(C.tdb_hash_size(db.ctx))
}

// SetMaxDead sets how many dead records a chain may hold before cleanup.
func (db *DB) SetMaxDead(n int) {
	if db.ctx != nil {
		C.tdb_set_max_dead(db.ctx, C.int(n))
	}
}

// Wipe deletes every record.
func (db *DB) Wipe() error {
	if db.ctx == nil || C.tdb_wipe_all(db.ctx) != 0 {
		return db.err("wipe_all")
	}
	return nil
}

// Repack rewrites the file compactly (in a transaction).
func (db *DB) Repack() error {
	if db.ctx == nil || C.tdb_repack(db.ctx) != 0 {
		return db.err("repack")
	}
	return nil
}

// FreelistSize returns the number of entries on the free list.
func (db *DB) FreelistSize() int {
	if db.ctx == nil {
		return 0
	}
	return int(C.tdb_freelist_size(db.ctx))
}

// MapSize returns the size of the file as libtdb maps it.
func (db *DB) MapSize() int64 {
	if db.ctx == nil {
		return 0
	}
	return int64(C.tdb_map_size(db.ctx))
}

// TraverseFunc sees one record; the slices are valid only during the call.
// Returning false stops the traverse.
type TraverseFunc func(key, value []byte) bool

//export goTraverseCallback
func goTraverseCallback(_ *C.struct_tdb_context, key C.TDB_DATA, data C.TDB_DATA, priv unsafe.Pointer) C.int {
	fn := cgo.Handle(uintptr(priv)).Value().(TraverseFunc)
	k := unsafe.Slice((*byte)(unsafe.Pointer(key.dptr)), int(key.dsize))
	v := unsafe.Slice((*byte)(unsafe.Pointer(data.dptr)), int(data.dsize))
	if fn(k, v) {
		return 0
	}
	return 1
}

func (db *DB) traverse(op string, run func(h C.uintptr_t) C.int, fn TraverseFunc) (int, error) {
	if db.ctx == nil {
		return 0, db.err(op)
	}
	h := cgo.NewHandle(fn)
	defer h.Delete()
	n := run(C.uintptr_t(h))
	if n < 0 {
		return 0, db.err(op)
	}
	return int(n), nil
}

// TraverseChain walks one hash chain. libtdb locks the chain for reading
// unless it is marked held.
func (db *DB) TraverseChain(chain uint32, fn TraverseFunc) (int, error) {
	return db.traverse("traverse_chain", func(h C.uintptr_t) C.int {
		return C.rctdb_traverse_chain(db.ctx, C.unsigned(chain), h)
	}, fn)
}

// TraverseRead walks every record with read locks.
func (db *DB) TraverseRead(fn TraverseFunc) (int, error) {
	return db.traverse("traverse_read", func(h C.uintptr_t) C.int { return C.rctdb_traverse_read(db.ctx, h) }, fn)
}

// Traverse walks every record with write locks, so fn may change records.
func (db *DB) Traverse(fn TraverseFunc) (int, error) {
	return db.traverse("traverse", func(h C.uintptr_t) C.int { return C.rctdb_traverse(db.ctx, h) }, fn)
}

// JenkinsHash is libtdb's tdb_jenkins_hash, for tests.
func JenkinsHash(key []byte) uint32 {
	if len(key) == 0 {
		return uint32(C.rctdb_jenkins_hash(nil, 0))
	}
	return uint32(C.rctdb_jenkins_hash((*C.uchar)(unsafe.Pointer(&key[0])), C.size_t(len(key))))
}
