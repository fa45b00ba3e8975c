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
	// OpThaw: request header; the database serves again in the new
	// generation while others may still be recovering.
	OpThaw uint32 = 0x7C000103
)

// IsOpcode reports whether op is a recovery control.
func IsOpcode(op uint32) bool { return op >= OpPull && op <= OpThaw }

// A pull reply is a u32 (1: this node got this generation's push of the
// database) followed by the record buffer.
func appendPullReply(b []byte, pushed bool, rb *protocol.RecBuffer) []byte {
	var flag uint32
	if pushed {
		flag = 1
	}
	return append(binary.LittleEndian.AppendUint32(b, flag), rb.Marshal()...)
}

func parsePullReply(b []byte) (pushed bool, recbuf []byte, err error) {
	if len(b) < 4 {
		return false, nil, fmt.Errorf("pull reply: %d bytes", len(b))
	}
	return binary.LittleEndian.Uint32(b) == 1, b[4:], nil
}

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
	// pushed maps a database to the generation whose recovery pushed it
	// here, until a recovery completes.
	pushed map[uint32]uint32
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
	if !recovering {
		clear(p.pushed)
	}
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
	case OpThaw:
		db, err := p.db(ctx, req)
		if err != nil {
			return nil, err
		}
		return nil, db.Thaw()
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
	p.mu.Lock()
	pushed := p.pushed[req.DBID] == req.Generation
	p.mu.Unlock()
	return appendPullReply(nil, pushed, &rb), nil
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
	if err := db.Push(ctx, rb.Records); err != nil {
		return err
	}
	p.mu.Lock()
	if p.pushed == nil {
		p.pushed = make(map[uint32]uint32)
	}
	p.pushed[req.DBID] = req.Generation
	p.mu.Unlock()
	return nil
}
