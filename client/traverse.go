package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// TraverseFunc sees one record of a traverse: its key, ltdb header and data
// (the value after the header). The slices are valid only during the call.
// Returning false stops the traverse.
type TraverseFunc func(key []byte, hdr protocol.LtdbHeader, data []byte) bool

// traverseBuffer is the buffer of the traverse's message channel. The
// client's dispatch drops messages for a handler whose buffer is full; a
// goroutine moves them from the channel to an unbounded queue at once, so
// the buffer only has to absorb the time that goroutine is not scheduled.
const traverseBuffer = 1 << 16

// Traverse walks database dbid across the cluster as the ctdb client
// library's ctdb_db_traverse does: register the srvid
// CTDB_SRVID_CLIENT_RANGE|pid, send TRAVERSE_START_EXT {dbid, reqid 0,
// srvid, withEmpty} to this client's node, then take the records the
// daemon sends as messages (each one ctdb_rec_data whose data starts with
// the 24-byte ltdb header) until the empty record that ends the traverse,
// and deregister the srvid. Records that cannot be decoded are ignored;
// records without data after the header are given to fn only when
// withEmpty is set. ctx bounds the whole traverse.
//
// A TRAVERSE_START_EXT answered with a non-zero status is a *ControlError
// (Opcode TRAVERSE_START_EXT). Stopping the walk from fn is not an error.
func (c *Client) Traverse(ctx context.Context, dbid uint32, withEmpty bool, fn TraverseFunc) error {
	return c.TraverseTimeout(ctx, dbid, withEmpty, 0, fn)
}

// TraverseTimeout is Traverse with a limit on the TRAVERSE_START_EXT
// control alone (0: none), as the ctdb tool gives its -t timeout to that
// control and then waits for the records without limit. An expired limit
// is an error wrapping context.DeadlineExceeded.
func (c *Client) TraverseTimeout(ctx context.Context, dbid uint32, withEmpty bool, startTimeout time.Duration, fn TraverseFunc) (err error) {
	srvid := protocol.SrvIDClientRange | uint64(uint32(pid()))
	q, unsub, err := c.subscribeQueue(ctx, srvid)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unsub(); err == nil && uerr != nil && ctx.Err() == nil {
			err = uerr
		}
	}()

	start := protocol.TraverseStartExt{DBID: dbid, ReqID: 0, SrvID: srvid, WithEmptyRecords: withEmpty}
	started := make(chan error, 1)
	go func() {
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if startTimeout > 0 {
			sctx, cancel = context.WithTimeout(ctx, startTimeout)
		}
		defer cancel()
		_, err := c.call(sctx, c.pnn, protocol.ControlTraverseStartExt, start.Marshal())
		if err != nil {
			err = fmt.Errorf("traverse of db 0x%08x: %w", dbid, err)
		}
		started <- err
	}()

	for {
		msgs, closed := q.take()
		for _, m := range msgs {
			var rec protocol.RecData
			if rec.Unmarshal(m.Data) != nil {
				continue
			}
			if rec.IsEndMarker() {
				return nil
			}
			hdr, herr := protocol.DecodeLtdbHeader(rec.Data)
			if herr != nil {
				continue
			}
			data := rec.Data[protocol.LtdbHeaderSize:]
			if len(data) == 0 && !withEmpty {
				continue
			}
			if !fn(rec.Key, hdr, data) {
				return nil
			}
		}
		if closed {
			if e := c.Err(); e != nil {
				return e
			}
			return ErrClosed
		}
		select {
		case <-q.ready:
		case err := <-started:
			if err != nil {
				return err
			}
			started = nil // the daemon accepted; keep taking records
		case <-ctx.Done():
			return fmt.Errorf("traverse of db 0x%08x: %w", dbid, ctx.Err())
		}
	}
}

// msgQueue is an unbounded queue of the messages of one srvid, filled by a
// goroutine that drains the handler channel.
type msgQueue struct {
	mu     sync.Mutex
	msgs   []Message
	closed bool
	ready  chan struct{} // signalled when messages arrive or the channel closes
}

// subscribeQueue subscribes to srvid and queues its messages without
// bound. unsub deregisters the srvid and ends the queue.
func (c *Client) subscribeQueue(ctx context.Context, srvid uint64) (*msgQueue, func() error, error) {
	ch, unsub, err := c.Subscribe(ctx, srvid, traverseBuffer)
	if err != nil {
		return nil, nil, err
	}
	q := &msgQueue{ready: make(chan struct{}, 1)}
	go func() {
		for m := range ch {
			q.mu.Lock()
			q.msgs = append(q.msgs, m)
			q.mu.Unlock()
			q.signal()
		}
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		q.signal()
	}()
	return q, unsub, nil
}

func (q *msgQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns the messages queued so far and whether the channel closed
// (after them).
func (q *msgQueue) take() ([]Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.msgs
	q.msgs = nil
	return msgs, q.closed && len(msgs) == 0
}

// TraverseLocal walks the database's local TDB file with read locks, as the
// client library's ctdb_db_traverse_local(db, readonly, extract_header)
// does for "ctdb cattdb": every record of the file, empty ones included,
// whoever its dmaster. A record too short for an ltdb header ends the walk
// with an error wrapping protocol.ErrShort; a failure of the walk itself
// is the tdb package's error.
func (db *DB) TraverseLocal(fn TraverseFunc) error {
	var herr error
	err := db.TraverseLocalRaw(func(key, value []byte) bool {
		hdr, e := protocol.DecodeLtdbHeader(value)
		if e != nil {
			herr = fmt.Errorf("traverse of %s: record %q: %w", db.Name, key, e)
			return false
		}
		return fn(key, hdr, value[protocol.LtdbHeaderSize:])
	})
	if err != nil {
		return err
	}
	return herr
}

// TraverseLocalRaw walks the local TDB file with read locks and gives fn
// each record as stored, ltdb header included and unchecked, as
// ctdb_db_traverse_local without extract_header does for "ctdb backupdb".
// The slices are valid only during the call; returning false stops the
// walk.
func (db *DB) TraverseLocalRaw(fn func(key, value []byte) bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, err := db.tdb.TraverseRead(fn)
	return err
}
