package persistent

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Snapshot body: per database, sorted by id: u32 id, u8 replicated, u16
// name length, name, u64 length of a ctdb_rec_buffer, the buffer.

// SnapshotData copies every database's records (raftlayer.Data). It runs
// on the state machine's goroutine, so no write is in progress.
func (s *Store) SnapshotData() ([]byte, error) {
	start := time.Now()
	s.mu.Lock()
	dbs := make([]*DB, 0, len(s.dbs))
	for _, db := range s.dbs {
		dbs = append(dbs, db)
	}
	s.mu.Unlock()
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].ID < dbs[j].ID })
	var out []byte
	for _, db := range dbs {
		recs, err := db.records()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", db.Name, err)
		}
		rb := (&protocol.RecBuffer{DBID: db.ID, Records: recs}).Marshal()
		out = binary.LittleEndian.AppendUint32(out, db.ID)
		var repl byte
		if db.Replicated {
			repl = 1
		}
		out = append(out, repl)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(db.Name)))
		out = append(out, db.Name...)
		out = binary.LittleEndian.AppendUint64(out, uint64(len(rb)))
		out = append(out, rb...)
	}
	s.m.snapshotTime.UpdateDuration(start)
	s.log.Info("snapshot of persistent databases", "databases", len(dbs), "bytes", len(out), "duration", time.Since(start))
	return out, nil
}

// RestoreData replaces every database's records with a snapshot's
// (raftlayer.Data); databases the snapshot lacks are wiped.
func (s *Store) RestoreData(body []byte) error {
	start := time.Now()
	// The whole body is decoded before any file changes, so that a bad
	// one leaves every database as it was.
	entries, err := decodeSnapshot(body)
	if err != nil {
		return err
	}
	seen := make(map[uint32]bool)
	for _, e := range entries {
		db, err := s.Ensure(e.id, e.name, e.replicated, 0)
		if err != nil {
			return err
		}
		if err := db.write(e.records, true); err != nil {
			return fmt.Errorf("restore %s: %w", e.name, err)
		}
		seen[e.id] = true
	}
	s.mu.Lock()
	var rest []*DB
	for id, db := range s.dbs {
		if !seen[id] {
			rest = append(rest, db)
		}
	}
	s.mu.Unlock()
	for _, db := range rest {
		if err := db.write(nil, true); err != nil {
			return fmt.Errorf("restore %s: %w", db.Name, err)
		}
	}
	s.m.restoreTime.UpdateDuration(start)
	s.log.Info("restored persistent databases from snapshot", "databases", len(seen), "duration", time.Since(start))
	return nil
}

// snapshotEntry is one database of a snapshot body.
type snapshotEntry struct {
	id         uint32
	name       string
	replicated bool
	records    []protocol.RecData
}

func decodeSnapshot(body []byte) ([]snapshotEntry, error) {
	var out []snapshotEntry
	for len(body) > 0 {
		if len(body) < 7 {
			return nil, fmt.Errorf("restore persistent databases: truncated entry")
		}
		e := snapshotEntry{id: binary.LittleEndian.Uint32(body), replicated: body[4] == 1}
		nl := int(binary.LittleEndian.Uint16(body[5:]))
		body = body[7:]
		if len(body) < nl+8 {
			return nil, fmt.Errorf("restore persistent database 0x%08x: truncated name", e.id)
		}
		e.name = string(body[:nl])
		bl := binary.LittleEndian.Uint64(body[nl:])
		body = body[nl+8:]
		if uint64(len(body)) < bl {
			return nil, fmt.Errorf("restore %s: truncated records", e.name)
		}
		var rb protocol.RecBuffer
		if err := rb.Unmarshal(body[:bl]); err != nil {
			return nil, fmt.Errorf("restore %s: %w", e.name, err)
		}
		e.records = rb.Records
		body = body[bl:]
		out = append(out, e)
	}
	return out, nil
}
