package recovery

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/rctdb/rctdb/volatile"
)

// Node-to-node controls of recovery. Like the Raft layer's they lie far
// above CTDB's opcodes; the server refuses them from clients.
const (
	// OpPull: request header and a pullRange; reply: see appendPullReply.
	OpPull uint32 = 0x7C000101
	// OpPush: request header, u32 page flags (pushFirst, pushLast), u32
	// length of the changes, the page's changes, packed (see
	// tdb.PackChains; an empty value deletes), then the pending copies,
	// packed (see volatile.Plan).
	OpPush uint32 = 0x7C000102
	// OpThaw: request header; the database serves again in the new
	// generation while others may still be recovering.
	OpThaw uint32 = 0x7C000103
)

// IsOpcode reports whether op is a recovery control.
func IsOpcode(op uint32) bool { return op >= OpPull && op <= OpThaw }

// pullRange asks for the records of chains [Start, End), or with End 0
// from Start until Limit bytes are passed (Limit 0: all).
type pullRange struct{ Start, End, Limit uint32 }

func (r pullRange) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, r.Start)
	b = binary.LittleEndian.AppendUint32(b, r.End)
	return binary.LittleEndian.AppendUint32(b, r.Limit)
}

func parsePullRange(b []byte) (pullRange, error) {
	if len(b) != 12 {
		return pullRange{}, fmt.Errorf("pull range: %d bytes, want 12", len(b))
	}
	le := binary.LittleEndian
	return pullRange{Start: le.Uint32(b), End: le.Uint32(b[4:]), Limit: le.Uint32(b[8:])}, nil
}

// A pull reply: u32 pushed (1: this node got this generation's push of the
// database), u32 next chain, u32 hash size, then the records, packed.
type pullReply struct {
	pushed         bool
	next, hashSize uint32
	packed         []byte
}

func appendPullReply(b []byte, pushed bool, page volatile.Page) []byte {
	var flag uint32
	if pushed {
		flag = 1
	}
	b = binary.LittleEndian.AppendUint32(b, flag)
	b = binary.LittleEndian.AppendUint32(b, page.Next)
	b = binary.LittleEndian.AppendUint32(b, page.HashSize)
	return append(b, page.Packed...)
}

func parsePullReply(b []byte) (pullReply, error) {
	if len(b) < 12 {
		return pullReply{}, fmt.Errorf("pull reply: %d bytes", len(b))
	}
	le := binary.LittleEndian
	return pullReply{pushed: le.Uint32(b) == 1, next: le.Uint32(b[4:]), hashSize: le.Uint32(b[8:]), packed: b[12:]}, nil
}

// Page flags of a push.
const (
	pushFirst uint32 = 1 << iota
	pushLast
)

func appendPush(b []byte, flags uint32, changes, pending []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(changes)))
	b = append(b, changes...)
	return append(b, pending...)
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
		r, err := parsePullRange(rest)
		if err != nil {
			return nil, err
		}
		return p.pull(ctx, req, r)
	case OpPush:
		if len(rest) < 8 {
			return nil, fmt.Errorf("push: %d bytes", len(rest))
		}
		flags, n := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
		if uint64(n) > uint64(len(rest)-8) {
			return nil, fmt.Errorf("push: %d bytes of changes in %d", n, len(rest)-8)
		}
		return nil, p.push(ctx, req, flags, rest[8:8+n], rest[8+n:])
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

func (p *Participant) pull(ctx context.Context, req request, r pullRange) ([]byte, error) {
	db, err := p.db(ctx, req)
	if err != nil {
		return nil, err
	}
	page, err := db.PullPage(ctx, r.Start, r.End, int(r.Limit))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	pushed := p.pushed[req.DBID] == req.Generation
	p.mu.Unlock()
	return appendPullReply(nil, pushed, page), nil
}

func (p *Participant) push(ctx context.Context, req request, flags uint32, changes, pending []byte) error {
	db, err := p.db(ctx, req)
	if err != nil {
		return err
	}
	if err := db.PushPage(ctx, changes, pending, flags&pushFirst != 0, flags&pushLast != 0); err != nil {
		return err
	}
	if flags&pushLast == 0 {
		return nil
	}
	p.mu.Lock()
	if p.pushed == nil {
		p.pushed = make(map[uint32]uint32)
	}
	p.pushed[req.DBID] = req.Generation
	p.mu.Unlock()
	return nil
}
