package persistent

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rctdb/rctdb/protocol"
)

// Pushes collects the records `ctdb restoredb` sends as messages between
// DB_PUSH_START and DB_PUSH_CONFIRM, by database; the confirm commits them
// through Raft (Committer.Restore).
type Pushes struct {
	// active counts open pushes, so that messages skip the lock when
	// there are none.
	active atomic.Int32

	mu   sync.Mutex
	byDB map[uint32]*push
}

type push struct {
	srvid   uint64
	records []protocol.RecData
	err     error // a malformed buffer fails the confirm
}

// Start opens (or restarts) the push of database dbid, whose records
// arrive as messages to srvid.
func (p *Pushes) Start(dbid uint32, srvid uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byDB == nil {
		p.byDB = make(map[uint32]*push)
	}
	if p.byDB[dbid] == nil {
		p.active.Add(1)
	}
	p.byDB[dbid] = &push{srvid: srvid}
}

// Offer takes a message meant for an open push; false if there is none.
// Pushes are told apart by srvid: the tool does not set the buffers'
// db_id reliably.
func (p *Pushes) Offer(srvid uint64, data []byte) bool {
	if p.active.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.byDB {
		if ps.srvid != srvid {
			continue
		}
		var rb protocol.RecBuffer
		if err := rb.Unmarshal(data); err != nil {
			ps.err = err
		} else {
			ps.records = append(ps.records, rb.Records...)
		}
		return true
	}
	return false
}

// Confirm closes the push of dbid and returns its records.
func (p *Pushes) Confirm(dbid uint32) ([]protocol.RecData, error) {
	p.mu.Lock()
	ps := p.byDB[dbid]
	if ps != nil {
		delete(p.byDB, dbid)
		p.active.Add(-1)
	}
	p.mu.Unlock()
	if ps == nil {
		return nil, fmt.Errorf("push confirm: no push open for 0x%08x", dbid)
	}
	if ps.err != nil {
		return nil, fmt.Errorf("push confirm 0x%08x: %w", dbid, ps.err)
	}
	return ps.records, nil
}
