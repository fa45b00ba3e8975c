package recovery

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// The node-to-node controls of recovery (opcodes in package noderpc):
//
//   - pull (noderpc.OpRecoveryPull): request header and a pullRange;
//     reply: see appendPullReply.
//   - push (noderpc.OpRecoveryPush): request header, u32 page flags
//     (pushFirst, pushLast), u32 length of the changes, the page's
//     changes, packed (see tdb.PackChains; an empty value deletes), then
//     the pending copies, packed (see volatile.Plan).
//   - thaw (noderpc.OpRecoveryThaw): request header; the database serves
//     again in the new generation while others may still be recovering.
const (
	opPull = noderpc.OpRecoveryPull
	opPush = noderpc.OpRecoveryPush
	opThaw = noderpc.OpRecoveryThaw
)

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

// Participant is one node's part in recoveries: it decides when the node's
// volatile databases must stay frozen (the freeze policy), answers the
// leader's pulls and pushes, and remembers when the node last recovered.
type Participant struct {
	self        uint32
	incarnation uint64
	vol         *volatile.Manager

	installed watch.Signal // notified whenever Install changes the view

	mu sync.Mutex
	// seq and gen are the view the node installed last; recovering is
	// whether it keeps its databases frozen.
	seq        uint64
	gen        uint32
	recovering bool
	// pushed maps a database to the generation whose recovery pushed it
	// here, until a recovery completes.
	pushed map[uint32]uint32
	// started and finished bound the last time the node was frozen for a
	// recovery; count is how many such times ended.
	started, finished time.Time
	count             uint32
}

// NewParticipant returns the participant of node self, in this run of its
// daemon (incarnation), over its volatile databases.
func NewParticipant(self uint32, incarnation uint64, vol *volatile.Manager) *Participant {
	return &Participant{self: self, incarnation: incarnation, vol: vol}
}

// Register serves the leader's recovery controls.
func (p *Participant) Register(r noderpc.Registrar) {
	for _, op := range []uint32{opPull, opPush, opThaw} {
		r.Register(op, func(ctx context.Context, from uint32, data []byte) ([]byte, error) {
			return p.Serve(ctx, op, data)
		})
	}
}

// MustFreeze is the freeze policy: a node keeps its volatile databases
// frozen while a recovery runs, while it is out of contact with a quorum
// (inactive), and unless it is an active member of the recovered
// generation in this incarnation (a node that returns holds stale copies
// until a recovery includes it).
func MustFreeze(st *raftlayer.State, self uint32, incarnation uint64, inactive bool) bool {
	return inactive || st.View.Recovering ||
		!st.View.IsMember(self, incarnation) || !slices.Contains(st.Active(), self)
}

// Install applies the freeze policy to the state the node applied and
// records its view (sequence number and generation), freezing or thawing
// the volatile databases. It reports whether they are frozen.
func (p *Participant) Install(st *raftlayer.State, inactive bool) bool {
	recovering := MustFreeze(st, p.self, p.incarnation, inactive)
	p.vol.SetRecovering(recovering)
	p.mu.Lock()
	if recovering != p.recovering {
		if recovering {
			p.started = time.Now()
		} else {
			p.finished = time.Now()
			p.count++
		}
	}
	p.seq, p.gen, p.recovering = st.View.Seq, st.View.Generation, recovering
	if !recovering {
		clear(p.pushed)
	}
	p.mu.Unlock()
	p.installed.Notify()
	return recovering
}

// LastRecovery returns when the node last froze for a recovery and when it
// thawed again (zero until then), and how many recoveries it completed.
func (p *Participant) LastRecovery() (started, finished time.Time, count uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started, p.finished, p.count
}

// supersededHere ends the error of a node that installed a view newer than
// the recovery's: it travels as text through node RPC, and the leader
// blames no node for it (see blame).
const supersededHere = "is no longer being recovered here"

// awaitView waits until the node installed view seq and checks that it is
// still recovering generation gen.
func (p *Participant) awaitView(ctx context.Context, seq uint64, gen uint32) error {
	for {
		ch := p.installed.Changed()
		p.mu.Lock()
		reached, ok := p.seq >= seq, p.gen == gen && p.recovering
		p.mu.Unlock()
		if reached {
			if !ok {
				return fmt.Errorf("generation %d %s", gen, supersededHere)
			}
			return nil
		}
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
	case opPull:
		r, err := parsePullRange(rest)
		if err != nil {
			return nil, err
		}
		return p.pull(ctx, req, r)
	case opPush:
		if len(rest) < 8 {
			return nil, fmt.Errorf("push: %d bytes", len(rest))
		}
		flags, n := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
		if uint64(n) > uint64(len(rest)-8) {
			return nil, fmt.Errorf("push: %d bytes of changes in %d", n, len(rest)-8)
		}
		return nil, p.push(ctx, req, flags, rest[8:8+n], rest[8+n:])
	case opThaw:
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
