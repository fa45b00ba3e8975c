package persistent

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/tdb"
)

// SeqnumKey is the record holding a persistent database's sequence number
// (a u64 after the ltdb header); Samba's transactions bump it.
var SeqnumKey = []byte("__db_sequence_number__\x00")

// Config configures a Store.
type Config struct {
	// Self is this node's pnn; file names end in it.
	Self uint32
	// PersistentDir holds the persistent databases' files.
	PersistentDir string
	// ReplicatedDir holds the replicated databases' files (ctdbd keeps them
	// with the volatile ones).
	ReplicatedDir string
	// HashSize is the number of hash chains of a new file.
	HashSize int
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if c.PersistentDir == "" {
		return errors.New("persistent config: PersistentDir: required")
	}
	if c.ReplicatedDir == "" {
		return errors.New("persistent config: ReplicatedDir: required")
	}
	if c.HashSize <= 0 {
		return fmt.Errorf("persistent config: HashSize: %d must be positive", c.HashSize)
	}
	return nil
}

// Store owns the local files of the persistent and replicated databases.
// It is the raftlayer.Data of the node's Raft state machine.
type Store struct {
	cfg Config
	log *slog.Logger
	m   *metricSet

	mu     sync.Mutex
	dbs    map[uint32]*DB
	closed bool // set by Close: no database is opened again
}

// NewStore creates the directories; files are opened as databases appear.
func NewStore(cfg Config, log *slog.Logger, set *metrics.Set) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.PersistentDir, cfg.ReplicatedDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("persistent store: %w", err)
		}
	}
	return &Store{cfg: cfg, log: log, m: newMetrics(set), dbs: make(map[uint32]*DB)}, nil
}

// DB is one persistent or replicated database's local TDB file.
type DB struct {
	ID         uint32
	Name       string
	Path       string
	Replicated bool

	// mu guards the handle (libtdb handles are not safe for concurrent
	// use) and the fields below.
	mu        sync.Mutex
	tdb       *tdb.DB
	seqnum    bool
	frozen    bool
	unhealthy string
}

// DB returns an open database, or nil.
func (s *Store) DB(id uint32) *DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dbs[id]
}

// Ensure opens a database's file if it is not open yet, with hashSize
// chains (the replicated DatabaseHashSize; 0: the configured default). The
// first open in a run wipes the file: its contents come from the Raft log.
func (s *Store) Ensure(id uint32, name string, replicated bool, hashSize int) (*DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("attach %q: %w", name, ErrClosed)
	}
	if db := s.dbs[id]; db != nil {
		return db, nil
	}
	dir := s.cfg.PersistentDir
	if replicated {
		dir = s.cfg.ReplicatedDir
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%d", name, s.cfg.Self))
	if hashSize <= 0 {
		hashSize = s.cfg.HashSize
	}
	t, err := s.openWiped(path, hashSize, handleFlags(replicated))
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	db := &DB{ID: id, Name: name, Path: path, Replicated: replicated, tdb: t}
	s.dbs[id] = db
	s.log.Info("opened database", "db", name, "id", fmt.Sprintf("0x%08x", id), "path", path, "replicated", replicated)
	return db, nil
}

// ErrClosed is returned for work asked of a closed Store.
var ErrClosed = errors.New("persistent databases closed")

// Close closes every file; from then on the store refuses work (Ensure
// and ApplyData fail, DB finds nothing).
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, db := range s.dbs {
		db.mu.Lock()
		db.tdb.Close()
		db.mu.Unlock()
		delete(s.dbs, id)
	}
}

// handleFlags are the flags of the daemon's own handle. Persistent files
// skip fsync: the Raft log is the durable copy and rebuilds them.
func handleFlags(replicated bool) int {
	if replicated {
		return tdb.NoSync | tdb.ClearIfFirst | tdb.IncompatibleHash | tdb.DisallowNesting
	}
	return tdb.DisallowNesting | tdb.NoSync
}

// openWiped opens path and empties it: its contents come from the Raft
// log. A file libtdb cannot open or wipe (torn by a power cut, as it is
// written without fsync, or not a TDB at all) is never deleted: it is
// moved aside for the administrator, as ctdbd moves a corrupt persistent
// database to NAME.tdb.PNN.<time>.corrupt, and a new file is made.
func (s *Store) openWiped(path string, hashSize, flags int) (*tdb.DB, error) {
	t, err := tdb.OpenOrCreate(path, hashSize, flags, 0o600)
	if err == nil {
		if err = wipe(t); err == nil {
			return t, nil
		}
		t.Close()
		err = fmt.Errorf("wipe %s: %w", path, err)
	} else if !errors.Is(err, tdb.ErrNotTDB) {
		return nil, err
	}
	aside := fmt.Sprintf("%s.%s.corrupt", path, time.Now().UTC().Format("20060102.150405.000000000"))
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%w; cannot move it aside: %w", err, rerr)
	}
	s.log.Error("database file is not a usable TDB: moved aside, rebuilding it from the Raft log",
		"file", path, "moved_to", aside, "err", err)
	return tdb.OpenOrCreate(path, hashSize, flags, 0o600)
}

func wipe(t *tdb.DB) error {
	if err := t.TransactionStart(); err != nil {
		return err
	}
	if err := t.Wipe(); err != nil {
		t.TransactionCancel()
		return err
	}
	return t.TransactionCommit()
}

// OpenFlags is what DB_OPEN_FLAGS reports: the flags smbd must open the
// file with (ctdbd's, without our handle's NOSYNC for persistent files).
func (db *DB) OpenFlags() int32 {
	db.mu.Lock()
	defer db.mu.Unlock()
	f := db.tdb.Flags()
	if !db.Replicated {
		f &^= tdb.NoSync
	}
	return int32(f)
}

// Flags are the database's CTDB_DB_FLAGS_* kind.
func (db *DB) Flags() uint8 {
	if db.Replicated {
		return protocol.DBFlagReplicated
	}
	return protocol.DBFlagPersistent
}

// EnableSeqnum makes every write bump the file's TDB sequence number,
// which smbd polls; every node writes, so no UPDATE_SEQNUM is needed.
func (db *DB) EnableSeqnum() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.seqnum {
		db.tdb.AddFlags(tdb.Seqnum)
		db.seqnum = true
	}
}

// Seqnum returns the value of the __db_sequence_number__ record.
func (db *DB) Seqnum() uint64 {
	v, ok := db.Fetch(SeqnumKey)
	if !ok || len(v) < protocol.LtdbHeaderSize+8 {
		return 0
	}
	return binary.LittleEndian.Uint64(v[protocol.LtdbHeaderSize:])
}

// Fetch returns a record's stored value (ltdb header and data).
func (db *DB) Fetch(key []byte) ([]byte, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	v, err := db.tdb.Fetch(key)
	return v, err == nil
}

// Health is "" when the file is in step with the log, else the reason.
func (db *DB) Health() string {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.unhealthy
}

// SetFrozen marks the database frozen by DB_FREEZE (no commits accepted
// from clients) or thawed.
func (db *DB) SetFrozen(on bool) {
	db.mu.Lock()
	db.frozen = on
	db.mu.Unlock()
}

// Frozen reports whether DB_FREEZE holds the database.
func (db *DB) Frozen() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.frozen
}

// Traverse walks the local records (value = ltdb header and data),
// skipping empty ones unless withEmpty. Records are identical on every
// node, so a traverse of a persistent database is local.
func (db *DB) Traverse(ctx context.Context, withEmpty bool, fn func(key, value []byte) bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, err := db.tdb.TraverseRead(func(k, v []byte) bool {
		if len(v) < protocol.LtdbHeaderSize || (!withEmpty && len(v) == protocol.LtdbHeaderSize) {
			return ctx.Err() == nil
		}
		return fn(k, v) && ctx.Err() == nil
	})
	return err
}

// records copies every record, sorted by key, for a snapshot.
func (db *DB) records() ([]protocol.RecData, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []protocol.RecData
	_, err := db.tdb.TraverseRead(func(k, v []byte) bool {
		out = append(out, protocol.RecData{Key: bytes.Clone(k), Data: bytes.Clone(v)})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, err
}

// write applies records (ltdb header and data each) in one transaction,
// after wiping the file if replace.
func (db *DB) write(recs []protocol.RecData, replace bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	err := db.writeLocked(recs, replace)
	if err != nil {
		db.unhealthy = err.Error()
	}
	return err
}

func (db *DB) writeLocked(recs []protocol.RecData, replace bool) error {
	if err := db.tdb.TransactionStart(); err != nil {
		return err
	}
	if replace {
		if err := db.tdb.Wipe(); err != nil {
			db.tdb.TransactionCancel()
			return err
		}
	}
	for _, r := range recs {
		if err := db.tdb.Store(r.Key, r.Data, tdb.Replace); err != nil {
			db.tdb.TransactionCancel()
			return err
		}
	}
	return db.tdb.TransactionCommit()
}

// checkRSNs refuses a commit that would overwrite a record with a newer
// or equal rsn by different contents, as ctdbd's UPDATE_RECORD does: two
// writers that did not serialise through the g_lock.
func (db *DB) checkRSNs(recs []protocol.RecData) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, r := range recs {
		if len(r.Data) < protocol.LtdbHeaderSize {
			return fmt.Errorf("record %q: %d bytes, shorter than an ltdb header", r.Key, len(r.Data))
		}
		old, err := db.tdb.Fetch(r.Key)
		if err != nil || len(old) < protocol.LtdbHeaderSize {
			continue
		}
		oh, _ := protocol.DecodeLtdbHeader(old)
		nh, _ := protocol.DecodeLtdbHeader(r.Data)
		if oh.RSN >= nh.RSN && !bytes.Equal(old[protocol.LtdbHeaderSize:], r.Data[protocol.LtdbHeaderSize:]) {
			return fmt.Errorf("record %q: stored rsn %d, new rsn %d with other data", r.Key, oh.RSN, nh.RSN)
		}
	}
	return nil
}

// ApplyData applies a committed command (raftlayer.Data).
func (s *Store) ApplyData(index uint64, payload []byte, st *raftlayer.State) error {
	op, err := decodeOp(payload)
	if err != nil {
		return err
	}
	// A command from a node that is no longer active is refused: it may
	// have left the cluster while its client held the transaction lock,
	// and the lock (a volatile record) is gone with it, so another client
	// may already be writing.
	if st.Flags(op.origin)&protocol.NodeFlagsInactive != 0 {
		return fmt.Errorf("%s from node %d: the node is not active", op.kind, op.origin)
	}
	info, ok := st.DBs[op.dbid]
	if !ok || info.Flags&(protocol.DBFlagPersistent|protocol.DBFlagReplicated) == 0 {
		return fmt.Errorf("%s: 0x%08x is not a persistent or replicated database", op.kind, op.dbid)
	}
	db, err := s.Ensure(op.dbid, info.Name, info.Flags&protocol.DBFlagReplicated != 0, int(st.TunablesOf(s.cfg.Self).DatabaseHashSize))
	if err != nil {
		return err
	}
	switch op.kind {
	case opCommit:
		if err := db.checkRSNs(op.records); err != nil {
			s.m.refused.Inc()
			return fmt.Errorf("commit to %s: %w", db.Name, err)
		}
		err = db.write(op.records, false)
	case opWipe:
		err = db.write(nil, true)
	case opRestore:
		err = db.write(op.records, true)
	}
	if err != nil {
		// The file is now behind the log on this node only: loud, and
		// reported as the database's health.
		s.log.Error("persistent database write failed", "db", db.Name, "index", index, "err", err)
		return fmt.Errorf("%s %s: %w", op.kind, db.Name, err)
	}
	s.m.applied.Inc()
	s.m.records.Add(len(op.records))
	return nil
}
