package persistent

import (
	"encoding/binary"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// opKind is the first byte of a CmdData payload. Never renumber: the Raft
// log on disk depends on them.
type opKind byte

const (
	// opCommit stores a transaction's records (rsn-checked).
	opCommit opKind = 1
	// opWipe deletes every record.
	opWipe opKind = 2
	// opRestore replaces every record (restoredb).
	opRestore opKind = 3
)

func (k opKind) String() string {
	switch k {
	case opCommit:
		return "commit"
	case opWipe:
		return "wipe"
	case opRestore:
		return "restore"
	}
	return fmt.Sprintf("op%d", byte(k))
}

// op is a decoded payload: kind, the node that committed it, database,
// and for commit and restore the records (ltdb header and data each), as a
// ctdb_rec_buffer.
type op struct {
	kind    opKind
	origin  uint32
	dbid    uint32
	records []protocol.RecData
}

// encodeOp encodes a payload: kind byte, origin pnn (u32), then a
// ctdb_rec_buffer (for wipe one without records), so the bytes a client
// sent go to the log as they came.
func encodeOp(kind opKind, origin, dbid uint32, recbuf []byte) []byte {
	if recbuf == nil {
		recbuf = (&protocol.RecBuffer{DBID: dbid}).Marshal()
	}
	out := make([]byte, 0, 5+len(recbuf))
	out = append(out, byte(kind))
	out = binary.LittleEndian.AppendUint32(out, origin)
	out = append(out, recbuf...)
	binary.LittleEndian.PutUint32(out[5:], dbid)
	return out
}

func decodeOp(b []byte) (op, error) {
	if len(b) < 5 {
		return op{}, fmt.Errorf("persistent command: %d bytes", len(b))
	}
	o := op{kind: opKind(b[0]), origin: binary.LittleEndian.Uint32(b[1:])}
	switch o.kind {
	case opCommit, opWipe, opRestore:
	default:
		return op{}, fmt.Errorf("persistent command: unknown kind %d", b[0])
	}
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(b[5:]); err != nil {
		return op{}, fmt.Errorf("persistent %s: %w", o.kind, err)
	}
	o.dbid, o.records = rb.DBID, rb.Records
	return o, nil
}
