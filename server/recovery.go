package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rctdb/rctdb/election"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/volatile"
)

// Node-to-node controls of database recovery. Like the Raft layer's they
// lie far above CTDB's opcodes and are refused from clients.
const (
	// opRecoverPull: recoveryReq; reply: record buffer of the database.
	opRecoverPull protocol.Opcode = 0x7C000101
	// opRecoverPush: recoveryReq followed by a record buffer.
	opRecoverPush protocol.Opcode = 0x7C000102
)

// isInternalOpcode reports whether op is a node-to-node control of rctdb.
func isInternalOpcode(op protocol.Opcode) bool {
	return raftlayer.IsRPCOpcode(uint32(op)) || op == opRecoverPull || op == opRecoverPush
}

// recoveryReq heads the recovery controls: the generation being recovered
// and the sequence number of the view that started it (the node waits until
// it installed that view), and the database.
type recoveryReq struct {
	Generation uint32
	DBID       uint32
	ViewSeq    uint64
}

const recoveryReqSize = 16

func (r recoveryReq) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, r.Generation)
	b = binary.LittleEndian.AppendUint32(b, r.DBID)
	return binary.LittleEndian.AppendUint64(b, r.ViewSeq)
}

func parseRecoveryReq(b []byte) (recoveryReq, []byte, error) {
	if len(b) < recoveryReqSize {
		return recoveryReq{}, nil, fmt.Errorf("recovery control: %d bytes, want at least %d", len(b), recoveryReqSize)
	}
	le := binary.LittleEndian
	return recoveryReq{Generation: le.Uint32(b), DBID: le.Uint32(b[4:]), ViewSeq: le.Uint64(b[8:])}, b[recoveryReqSize:], nil
}

// installed is what watchState last installed: the view's sequence
// number and generation, and whether the databases are frozen for
// recovery.
type installed struct {
	mu         sync.Mutex
	seq        uint64
	gen        uint32
	recovering bool
	changed    chan struct{}
}

func (in *installed) set(seq uint64, gen uint32, recovering bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seq, in.gen, in.recovering = seq, gen, recovering
	if in.changed != nil {
		close(in.changed)
		in.changed = nil
	}
}

// await waits until the view seq is installed and reports whether it is
// still recovering generation gen.
func (in *installed) await(ctx context.Context, seq uint64, gen uint32) error {
	for {
		in.mu.Lock()
		if in.seq >= seq {
			ok := in.gen == gen && in.recovering
			in.mu.Unlock()
			if !ok {
				return fmt.Errorf("generation %d is no longer being recovered here", gen)
			}
			return nil
		}
		if in.changed == nil {
			in.changed = make(chan struct{})
		}
		ch := in.changed
		in.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the view of generation %d: %w", gen, ctx.Err())
		}
	}
}

// recoveryDB finds the database of a recovery control once this node is
// recovering the generation it names.
func (n *Node) recoveryDB(ctx context.Context, req recoveryReq) (*volatile.DB, error) {
	if err := n.inst.await(ctx, req.ViewSeq, req.Generation); err != nil {
		return nil, err
	}
	db := n.vol.DB(req.DBID)
	if db == nil {
		return nil, fmt.Errorf("unknown database 0x%08x", req.DBID)
	}
	return db, nil
}

func (n *Node) ctrlRecoverPull(ctx context.Context, r *controlReq) reply {
	req, _, err := parseRecoveryReq(r.Data)
	if err != nil {
		return failErr(err)
	}
	data, err := n.recoverPull(ctx, req)
	if err != nil {
		return failErr(err)
	}
	return ok(data)
}

func (n *Node) recoverPull(ctx context.Context, req recoveryReq) ([]byte, error) {
	db, err := n.recoveryDB(ctx, req)
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

func (n *Node) ctrlRecoverPush(ctx context.Context, r *controlReq) reply {
	req, rest, err := parseRecoveryReq(r.Data)
	if err != nil {
		return failErr(err)
	}
	if err := n.recoverPush(ctx, req, rest); err != nil {
		return failErr(err)
	}
	return status(0)
}

func (n *Node) recoverPush(ctx context.Context, req recoveryReq, buf []byte) error {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(buf); err != nil {
		return err
	}
	if rb.DBID != req.DBID {
		return fmt.Errorf("push of database 0x%08x carries records of 0x%08x", req.DBID, rb.DBID)
	}
	db, err := n.recoveryDB(ctx, req)
	if err != nil {
		return err
	}
	return db.Push(ctx, rb.Records)
}

// Recover is the leader's part of a recovery: for every volatile database
// it pulls the records of the nodes that held them, keeps the newest copy
// of each and pushes the result to every node of the new generation.
func (n *Node) Recover(ctx context.Context, p election.RecoveryPlan) error {
	st, _ := n.raft.State()
	if st.View.Generation != p.Generation || !st.View.Recovering {
		return fmt.Errorf("generation %d is not being recovered", p.Generation)
	}
	var ids []uint32
	for _, id := range st.DBOrder {
		if db, ok := st.DBs[id]; ok && db.Flags&dbKinds == 0 {
			ids = append(ids, id)
		}
	}
	// Nodes that held records but are gone are not waited for.
	var from []uint32
	for _, pnn := range p.From {
		if pnn == n.self || slices.Contains(p.Active, pnn) || n.tr.Connected(pnn) {
			from = append(from, pnn)
		}
	}
	for _, id := range ids {
		req := recoveryReq{Generation: p.Generation, DBID: id, ViewSeq: st.View.Seq}
		if err := n.recoverDB(ctx, req, from, p.Active); err != nil {
			return err
		}
	}
	return nil
}

// recoverDB recovers one database.
func (n *Node) recoverDB(ctx context.Context, req recoveryReq, from, active []uint32) error {
	copies := make(map[uint32][]protocol.RecData, len(from))
	var mu sync.Mutex
	err := n.onNodes(ctx, from, func(ctx context.Context, pnn uint32) error {
		var buf []byte
		var err error
		if pnn == n.self {
			buf, err = n.recoverPull(ctx, req)
		} else {
			buf, err = n.Call(ctx, pnn, uint32(opRecoverPull), req.append(nil))
		}
		if err == nil {
			var rb protocol.RecBuffer
			if err = rb.Unmarshal(buf); err == nil {
				mu.Lock()
				copies[pnn] = rb.Records
				mu.Unlock()
			}
		}
		if err != nil && !slices.Contains(active, pnn) {
			// It leaves the cluster; what only it held is lost with it,
			// as when it dies.
			n.log.Warn("recovery: no records from a departing node", "pnn", pnn, "db_id", fmt.Sprintf("0x%08x", req.DBID), "err", err)
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	merged := volatile.Merge(copies, n.self)
	rb := protocol.RecBuffer{DBID: req.DBID, Records: merged}
	buf := rb.Marshal()
	push := req.append(make([]byte, 0, recoveryReqSize+len(buf)))
	push = append(push, buf...)
	return n.onNodes(ctx, active, func(ctx context.Context, pnn uint32) error {
		if pnn == n.self {
			return n.recoverPush(ctx, req, buf)
		}
		_, err := n.Call(ctx, pnn, uint32(opRecoverPush), push)
		return err
	})
}

// onNodes runs fn for every node in parallel and returns the first failure
// as an *election.RecoveryError naming the node.
func (n *Node) onNodes(ctx context.Context, pnns []uint32, fn func(ctx context.Context, pnn uint32) error) error {
	errs := make(chan error, len(pnns))
	for _, pnn := range pnns {
		go func() {
			if err := fn(ctx, pnn); err != nil {
				errs <- &election.RecoveryError{Node: pnn, Err: err}
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range pnns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

var errRecovering = errors.New("a recovery is in progress")
