package volatile

import (
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile/migration"
)

// record is a parsed TDB value: the ltdb header and the data after it.
type record struct {
	hdr  protocol.LtdbHeader
	data []byte
	// exists is false for a record that is not in the TDB (or is shorter
	// than a header): it then carries the initial header.
	exists bool
}

// encode returns the TDB value of the record.
func (r *record) encode() []byte { return r.core().Encode() }

// core is the record as package migration has it.
func (r record) core() migration.Record {
	return migration.Record{Header: r.hdr, Data: r.data, Exists: r.exists}
}

// parseRecord splits a TDB value; values shorter than a header count as
// missing, as ctdbd and Samba treat them.
func parseRecord(v []byte) (record, bool) {
	r, ok := migration.ParseRecord(v)
	return record{hdr: r.Header, data: r.Data, exists: r.Exists}, ok
}

// hopBucket is the statistics bucket of a hop count (floor(log2)+1, 0 for 0).
func hopBucket(hops uint32) int {
	b := 0
	for hops > 0 && b < protocol.MaxCountBuckets-1 {
		hops >>= 1
		b++
	}
	return b
}
