package main

import (
	"encoding/binary"
	"errors"
	"io"
	"syscall"
)

// The backup file of "ctdb backupdb", as the real tool writes it on
// x86_64 (files move between our tool and Debian's both ways):
//
//	struct db_header (104 bytes): unsigned long version (3), time_t
//	    timestamp, unsigned long flags (the database's flags), nbuf, nrec,
//	    char name[64] (NUL-terminated, at most 63 bytes)
//	nbuf record buffers, each: u32 db_id, u32 count, size_t buflen, then
//	    buflen bytes of count ctdb_rec_data records whose data is the TDB
//	    value as stored (ltdb header first)
//
// Little-endian, no padding. The tool starts a new buffer once one reaches
// 100000 bytes (db_id, count and records).

const (
	backupVersion      = 3
	backupHeaderSize   = 5*8 + backupNameSize
	backupNameSize     = 64
	backupBufferFlush  = 100 * 1000 // MAX_REC_BUFFER_SIZE
	backupBufferHeader = 4 + 4 + 8
)

var le = binary.LittleEndian

// backupHeader is struct db_header.
type backupHeader struct {
	version   uint64
	timestamp int64
	flags     uint64
	nbuf      uint64
	nrec      uint64
	name      string
}

func (h *backupHeader) marshal() []byte {
	b := make([]byte, backupHeaderSize)
	le.PutUint64(b[0:], h.version)
	le.PutUint64(b[8:], uint64(h.timestamp))
	le.PutUint64(b[16:], h.flags)
	le.PutUint64(b[24:], h.nbuf)
	le.PutUint64(b[32:], h.nrec)
	copy(b[40:40+backupNameSize-1], h.name) // strncpy(name, db_name, 63)
	return b
}

// parseBackupHeader decodes what was read of a header (a short read leaves
// zeros); the name ends at its first NUL, at most at byte 63.
func parseBackupHeader(b []byte) backupHeader {
	buf := make([]byte, backupHeaderSize)
	copy(buf, b)
	name := buf[40 : 40+backupNameSize-1]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return backupHeader{
		version:   le.Uint64(buf[0:]),
		timestamp: int64(le.Uint64(buf[8:])),
		flags:     le.Uint64(buf[16:]),
		nbuf:      le.Uint64(buf[24:]),
		nrec:      le.Uint64(buf[32:]),
		name:      string(name),
	}
}

// backupBuffer is one record buffer of the file: the records as they are
// encoded, to be written as they are or sent on in a DB_PUSH message.
type backupBuffer struct {
	dbID    uint32
	count   uint32
	records []byte
}

// add appends a record (reqid 0) with data as stored in the TDB.
func (b *backupBuffer) add(key, data []byte) {
	var f [16]byte
	le.PutUint32(f[0:], uint32(16+len(key)+len(data)))
	le.PutUint32(f[8:], uint32(len(key)))
	le.PutUint32(f[12:], uint32(len(data)))
	b.records = append(append(append(b.records, f[:]...), key...), data...)
	b.count++
}

// len is ctdb_rec_buffer_len: db_id, count and the records.
func (b *backupBuffer) len() int { return 8 + len(b.records) }

// fileBytes is the buffer as ctdb_rec_buffer_write writes it.
func (b *backupBuffer) fileBytes() []byte {
	out := make([]byte, backupBufferHeader, backupBufferHeader+len(b.records))
	le.PutUint32(out[0:], b.dbID)
	le.PutUint32(out[4:], b.count)
	le.PutUint64(out[8:], uint64(len(b.records)))
	return append(out, b.records...)
}

// wire is the buffer as ctdb_rec_buffer_push encodes it for a message.
func (b *backupBuffer) wire() []byte {
	out := make([]byte, 8, 8+len(b.records))
	le.PutUint32(out[0:], b.dbID)
	le.PutUint32(out[4:], b.count)
	return append(out, b.records...)
}

// readBackupBuffer is ctdb_rec_buffer_read (a short read: see readErr).
func readBackupBuffer(r io.Reader) (*backupBuffer, error) {
	var h [backupBufferHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, readErr(err)
	}
	n := le.Uint64(h[8:])
	// Read in pieces, so that a corrupt length fails at the end of the
	// file rather than in one huge allocation.
	recs, err := io.ReadAll(io.LimitReader(r, int64(min(n, 1<<62))))
	if err != nil {
		return nil, readErr(err)
	}
	if uint64(len(recs)) != n {
		return nil, readErr(io.ErrUnexpectedEOF)
	}
	return &backupBuffer{dbID: le.Uint32(h[0:]), count: le.Uint32(h[4:]), records: recs}, nil
}

// readErr is the errno of a failed read. For a short read the real tool
// returns the errno left over from before ("errno != 0 ? errno : EIO"),
// which on Debian 12 is ENOENT.
func readErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.ENOENT
}

// walk gives fn the key and data of each record, as
// ctdb_rec_buffer_traverse reads them: a record must fit in the buffer and
// in its own length field, and the next one follows its data. A record
// that does not is EMSGSIZE; an error of fn stops the walk.
func (b *backupBuffer) walk(fn func(key, data []byte) error) error {
	buf := b.records
	for i := uint32(0); i < b.count; i++ {
		if len(buf) < 4 {
			return syscall.EMSGSIZE
		}
		length := uint64(le.Uint32(buf))
		if uint64(len(buf)) < length || length < 16 {
			return syscall.EMSGSIZE
		}
		kl, dl := uint64(le.Uint32(buf[8:])), uint64(le.Uint32(buf[12:]))
		if length-16 < kl || length-16-kl < dl {
			return syscall.EMSGSIZE
		}
		if err := fn(buf[16:16+kl], buf[16+kl:16+kl+dl]); err != nil {
			return err
		}
		buf = buf[16+kl+dl:]
	}
	return nil
}
