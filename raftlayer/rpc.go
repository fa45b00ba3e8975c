package raftlayer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Node-to-node control opcodes of the Raft layer. They lie far above CTDB's
// opcodes (the last 4.17 opcode is 158) and are refused from clients.
const (
	OpApply       uint32 = 0x7C000001 // data: encoded command; reply: u64 index
	OpReadIndex   uint32 = 0x7C000002 // reply: u64 index
	OpWaitApplied uint32 = 0x7C000003 // data: u64 index; reply when applied
)

// StatusRejected is the control status that carries an *ErrRejected across
// nodes; its error text is the reason.
const StatusRejected int32 = 1

// Status lets the server send an *ErrRejected with StatusRejected.
func (e *ErrRejected) Status() int32 { return StatusRejected }

// remoteStatus is implemented by the errors the server's RPC returns for a
// failed remote control.
type remoteStatus interface {
	RemoteStatus() int32
	RemoteMessage() string
}

func rejectedFromRemote(err error) error {
	var rs remoteStatus
	if errors.As(err, &rs) && rs.RemoteStatus() == StatusRejected {
		return &ErrRejected{Reason: strings.TrimPrefix(rs.RemoteMessage(), "rejected: ")}
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

func decodeApplyReply(b []byte) (uint64, error) { return decodeIndex(b) }

// maxWaitApplied bounds how long a peer holds an OpWaitApplied request.
const maxWaitApplied = 10 * time.Second

// HandleRPC serves the Raft layer's node-to-node controls.
func (n *Node) HandleRPC(ctx context.Context, op uint32, data []byte) ([]byte, error) {
	switch op {
	case OpApply:
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
	case OpReadIndex:
		if !n.IsLeader() {
			return nil, errors.New("raft read index: not the leader")
		}
		noop, _ := EncodeCommand(&CmdNoop{})
		idx, err := n.applyLocalCtx(ctx, noop)
		if err != nil {
			return nil, fmt.Errorf("raft read index: %w", err)
		}
		return encodeIndex(idx), nil
	case OpWaitApplied:
		idx, err := decodeIndex(data)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, maxWaitApplied)
		defer cancel()
		if err := n.waitInstalled(ctx, idx); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, fmt.Errorf("raft rpc: unknown opcode 0x%x", op)
}

// IsRPCOpcode reports whether op belongs to the Raft layer.
func IsRPCOpcode(op uint32) bool { return op >= OpApply && op <= OpWaitApplied }
