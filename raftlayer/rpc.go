package raftlayer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rctdb/rctdb/noderpc"
)

// StatusRejected is the control status that carries an *ErrRejected across
// nodes; its error text is the reason.
const StatusRejected int32 = 1

// Status makes the node RPC answer an *ErrRejected with StatusRejected.
func (e *ErrRejected) Status() int32 { return StatusRejected }

// rejectedFromRemote turns a forwarded command's refusal back into an
// *ErrRejected.
func rejectedFromRemote(err error) error {
	var re *noderpc.RemoteError
	if errors.As(err, &re) && re.Status == StatusRejected {
		return &ErrRejected{Reason: strings.TrimPrefix(re.Msg, "rejected: ")}
	}
	return nil
}

func encodeIndex(i uint64) []byte { return binary.LittleEndian.AppendUint64(nil, i) }

func decodeIndex(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("raft rpc: index reply of %d bytes", len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}

// maxWaitApplied bounds how long a peer holds an OpWaitApplied request.
const maxWaitApplied = 10 * time.Second

// register serves the Raft layer's node-to-node controls.
func (n *Node) register(r noderpc.Registrar) {
	r.Register(noderpc.OpApply, n.serveApply)
	r.Register(noderpc.OpReadIndex, n.serveReadIndex)
	r.Register(noderpc.OpWaitApplied, n.serveWaitApplied)
}

func (n *Node) serveApply(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, errors.New("raft apply: empty command")
	}
	if !n.IsLeader() {
		return nil, errors.New("raft apply: not the leader")
	}
	idx, err := n.applyLocalCtx(ctx, data)
	if err != nil {
		return nil, err
	}
	return encodeIndex(idx), nil
}

func (n *Node) serveReadIndex(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	if !n.IsLeader() {
		return nil, errors.New("raft read index: not the leader")
	}
	noop, _ := EncodeCommand(&CmdNoop{})
	idx, err := n.applyLocalCtx(ctx, noop)
	if err != nil {
		return nil, fmt.Errorf("raft read index: %w", err)
	}
	return encodeIndex(idx), nil
}

func (n *Node) serveWaitApplied(ctx context.Context, from uint32, data []byte) ([]byte, error) {
	idx, err := decodeIndex(data)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, maxWaitApplied)
	defer cancel()
	return nil, n.waitInstalled(ctx, idx)
}
