package protocol

import (
	"errors"
	"fmt"
)

// Wire constants of the packet header.
const (
	HeaderSize = 32
	Magic      = 0x43544442 // "BDTC" on the wire
	Version    = 1
	// Alignment is the multiple of which every packet ctdbd writes is long.
	Alignment = 8
)

// Special destination and source node numbers.
const (
	CurrentNode        uint32 = 0xF0000001
	BroadcastAll       uint32 = 0xF0000002
	BroadcastActive    uint32 = 0xF0000003
	BroadcastConnected uint32 = 0xF0000004
	Multicast          uint32 = 0xF0000005
	UnknownPNN         uint32 = 0xFFFFFFFF
)

// IsBroadcast reports whether pnn is one of the broadcast destinations.
func IsBroadcast(pnn uint32) bool {
	return pnn == BroadcastAll || pnn == BroadcastActive || pnn == BroadcastConnected
}

// Operation is the packet type (enum ctdb_operation).
type Operation uint32

// Operations.
const (
	OpReqCall      Operation = 0
	OpReplyCall    Operation = 1
	OpReqDMaster   Operation = 2
	OpReplyDMaster Operation = 3
	OpReplyError   Operation = 4
	OpReqMessage   Operation = 5
	OpReqControl   Operation = 7
	OpReplyControl Operation = 8
	OpReqKeepalive Operation = 9
	OpReqTunnel    Operation = 10
)

func (o Operation) String() string {
	switch o {
	case OpReqCall:
		return "REQ_CALL"
	case OpReplyCall:
		return "REPLY_CALL"
	case OpReqDMaster:
		return "REQ_DMASTER"
	case OpReplyDMaster:
		return "REPLY_DMASTER"
	case OpReplyError:
		return "REPLY_ERROR"
	case OpReqMessage:
		return "REQ_MESSAGE"
	case OpReqControl:
		return "REQ_CONTROL"
	case OpReplyControl:
		return "REPLY_CONTROL"
	case OpReqKeepalive:
		return "REQ_KEEPALIVE"
	case OpReqTunnel:
		return "REQ_TUNNEL"
	}
	return fmt.Sprintf("OP_%d", uint32(o))
}

// Header is struct ctdb_req_header.
type Header struct {
	Length     uint32
	Magic      uint32
	Version    uint32
	Generation uint32
	Operation  Operation
	DestNode   uint32
	SrcNode    uint32
	ReqID      uint32
}

// Header validation errors.
var (
	ErrBadMagic   = errors.New("ctdb protocol: bad magic")
	ErrBadVersion = errors.New("ctdb protocol: bad protocol version")
	ErrBadLength  = errors.New("ctdb protocol: bad packet length")
)

// DecodeHeader decodes and validates the header at the start of b: the
// buffer must hold 32 bytes, the magic and version must match and the
// length field must be at least 32. It does not compare Length with len(b).
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("header: %d bytes: %w", len(b), ErrShort)
	}
	h := Header{
		Length:     le.Uint32(b[0:]),
		Magic:      le.Uint32(b[4:]),
		Version:    le.Uint32(b[8:]),
		Generation: le.Uint32(b[12:]),
		Operation:  Operation(le.Uint32(b[16:])),
		DestNode:   le.Uint32(b[20:]),
		SrcNode:    le.Uint32(b[24:]),
		ReqID:      le.Uint32(b[28:]),
	}
	if h.Magic != Magic {
		return h, fmt.Errorf("header magic 0x%08x: %w", h.Magic, ErrBadMagic)
	}
	if h.Version != Version {
		return h, fmt.Errorf("header version %d: %w", h.Version, ErrBadVersion)
	}
	if h.Length < HeaderSize {
		return h, fmt.Errorf("header length %d: %w", h.Length, ErrBadLength)
	}
	return h, nil
}

// put writes h into b[0:32].
func (h *Header) put(b []byte) {
	le.PutUint32(b[0:], h.Length)
	le.PutUint32(b[4:], h.Magic)
	le.PutUint32(b[8:], h.Version)
	le.PutUint32(b[12:], h.Generation)
	le.PutUint32(b[16:], uint32(h.Operation))
	le.PutUint32(b[20:], h.DestNode)
	le.PutUint32(b[24:], h.SrcNode)
	le.PutUint32(b[28:], h.ReqID)
}

// PacketOp returns the operation of an encoded packet without validating it.
func PacketOp(pkt []byte) Operation {
	if len(pkt) < HeaderSize {
		return Operation(0xFFFFFFFF)
	}
	return Operation(le.Uint32(pkt[16:]))
}

// SetReqID overwrites the reqid of an encoded packet in place.
func SetReqID(pkt []byte, reqid uint32) { le.PutUint32(pkt[28:], reqid) }

// SetDestNode overwrites the destination of an encoded packet in place.
func SetDestNode(pkt []byte, pnn uint32) { le.PutUint32(pkt[20:], pnn) }

// SetSrcNode overwrites the source of an encoded packet in place.
func SetSrcNode(pkt []byte, pnn uint32) { le.PutUint32(pkt[24:], pnn) }

// SetGeneration overwrites the generation of an encoded packet in place.
func SetGeneration(pkt []byte, gen uint32) { le.PutUint32(pkt[12:], gen) }

// allocPacket returns a zeroed packet buffer for an operation whose fixed
// part (header included) is fixed bytes, followed by payload bytes, never
// shorter than minSize (sizeof the C struct, as ctdbd allocates) and rounded
// up to Alignment. The header is filled from h with Length, Magic, Version
// and Operation set.
func allocPacket(h *Header, op Operation, fixed, payload, minSize int) []byte {
	n := fixed + payload
	if n < minSize {
		n = minSize
	}
	n = Align8(n)
	b := make([]byte, n)
	h.Length = uint32(n)
	h.Magic = Magic
	h.Version = Version
	h.Operation = op
	h.put(b)
	return b
}

// checkPacket decodes the header of pkt and verifies its operation and that
// the buffer holds at least the fixed part. It returns the buffer cut to the
// header's length, so that inner lengths cannot reach padding beyond it.
func checkPacket(pkt []byte, op Operation, fixed int) (Header, []byte, error) {
	h, err := DecodeHeader(pkt)
	if err != nil {
		return h, nil, err
	}
	if h.Operation != op {
		return h, nil, fmt.Errorf("packet is %v, want %v", h.Operation, op)
	}
	if int(h.Length) < len(pkt) {
		pkt = pkt[:h.Length]
	}
	if len(pkt) < fixed {
		return h, nil, fmt.Errorf("%v: %d bytes, fixed part is %d: %w", op, len(pkt), fixed, ErrShort)
	}
	return h, pkt, nil
}
