package recovery

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile"
)

// Node-to-node controls of recovery. Like the Raft layer's they lie far
// above CTDB's opcodes; the server refuses them from clients.
const (
	// OpPull: request header; reply: record buffer of the database.
	OpPull uint32 = 0x7C000101
	// OpPush: request header followed by a record buffer.
	OpPush uint32 = 0x7C000102
)

// IsOpcode reports whether op is a recovery control.
func IsOpcode(op uint32) bool { return op == OpPull || op == OpPush }

// request heads the recovery controls: the generation being recovered, the
// database, and the sequence number of the view that started the recovery.
type request struct {
	Generation uint32
	DBID       uint32
	ViewSeq    uint64
}

const requestSize = 16

func (r request) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, r.Generation)
	b = binary.LittleEndian.AppendUint32(b, r.DBID)
	return binary.LittleEndian.AppendUint64(b, r.ViewSeq)
}

func parseRequest(b []byte) (request, []byte, error) {
	if len(b) < requestSize {
		return request{}, nil, fmt.Errorf("recovery control: %d bytes, want at least %d", len(b), requestSize)
	}
	le := binary.LittleEndian
	return request{Generation: le.Uint32(b), DBID: le.Uint32(b[4:]), ViewSeq: le.Uint64(b[8:])}, b[requestSize:], nil
}

// Participant is one node's part in recoveries: it freezes the volatile
// databases while the node may not serve them and answers the leader's
// pulls and pushes.
type Participant struct {
	vol *volatile.Manager

	mu sync.Mutex
	// seq and gen are the view the node installed last; recovering is
	// whether it keeps its databases frozen.
	seq        uint64
	gen        uint32
	recovering bool
	changed    chan struct{} // closed and cleared when the view changes
}

// NewParticipant returns the participant of a node's volatile databases.
func NewParticipant(vol *volatile.Manager) *Participant { return &Participant{vol: vol} }

// Install records the view the node applied (its sequence number and
// generation) and freezes or thaws the volatile databases: frozen while
// recovering is set.
func (p *Participant) Install(seq uint64, gen uint32, recovering bool) {
	p.vol.SetRecovering(recovering)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq, p.gen, p.recovering = seq, gen, recovering
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// awaitView waits until the node installed view seq and checks that it is
// still recovering generation gen.
func (p *Participant) awaitView(ctx context.Context, seq uint64, gen uint32) error {
	for {
		p.mu.Lock()
		if p.seq >= seq {
			ok := p.gen == gen && p.recovering
			p.mu.Unlock()
			if !ok {
				return fmt.Errorf("generation %d is no longer being recovered here", gen)
			}
			return nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the view of generation %d: %w", gen, ctx.Err())
		}
	}
}

// Serve answers a recovery control from the leader.
func (p *Participant) Serve(ctx context.Context, op uint32, data []byte) ([]byte, error) {
	req, rest, err := parseRequest(data)
	if err != nil {
		return nil, err
	}
	switch op {
	case OpPull:
		return p.pull(ctx, req)
	case OpPush:
		return nil, p.push(ctx, req, rest)
	}
	return nil, fmt.Errorf("recovery: unknown control 0x%x", op)
}

func (p *Participant) db(ctx context.Context, req request) (*volatile.DB, error) {
	if err := p.awaitView(ctx, req.ViewSeq, req.Generation); err != nil {
		return nil, err
	}
	db := p.vol.DB(req.DBID)
	if db == nil {
		return nil, fmt.Errorf("unknown database 0x%08x", req.DBID)
	}
	return db, nil
}

func (p *Participant) pull(ctx context.Context, req request) ([]byte, error) {
	db, err := p.db(ctx, req)
	if err != nil {
		return nil, err
	}
	recs, err := db.Pull(ctx)
	if err != nil {
		return nil, err
	}
	rb := protocol.RecBuffer{DBID: req.DBID, Records: recs}
	return rb.Marshal(), nil
}

func (p *Participant) push(ctx context.Context, req request, buf []byte) error {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(buf); err != nil {
		return err
	}
	if rb.DBID != req.DBID {
		return fmt.Errorf("push of database 0x%08x carries records of 0x%08x", req.DBID, rb.DBID)
	}
	db, err := p.db(ctx, req)
	if err != nil {
		return err
	}
	return db.Push(ctx, rb.Records)
}
