package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// An SMB2 NEGOTIATE is the first thing a client sends to a file server
// (MS-SMB2 2.2.3): an answer to it says that an smbd serves the address
// without a whole session, and costs the server little, so that it can be
// asked every few milliseconds. Dialects 2.0.2 to 3.0.2 only: 3.1.1 would
// need negotiate contexts, and every server that speaks it also speaks
// 3.0.2.

// The SMB2 header (MS-SMB2 2.2.1).
const (
	smb2HeaderSize    = 64
	smb2CmdNegotiate  = 0
	smb2FlagsResponse = 0x1
	// smb2NegotiateRequestSize and smb2NegotiateResponseSize are the
	// StructureSize fields of the request and the response bodies.
	smb2NegotiateRequestSize  = 36
	smb2NegotiateResponseSize = 65
	// smb2MaxReply bounds the reply read: a negotiate response carries a
	// security blob of a few hundred bytes.
	smb2MaxReply = 64 << 10
)

// smb2Dialects are the dialects the probe offers.
var smb2Dialects = []uint16{0x0202, 0x0210, 0x0300, 0x0302}

// smb2NegotiateRequest is a NEGOTIATE request in its NetBIOS session
// message (a 4-byte big-endian length, the top byte 0).
func smb2NegotiateRequest() []byte {
	body := make([]byte, 36+2*len(smb2Dialects))
	le := binary.LittleEndian
	le.PutUint16(body[0:], smb2NegotiateRequestSize)
	le.PutUint16(body[2:], uint16(len(smb2Dialects)))
	le.PutUint16(body[4:], 1) // SecurityMode: signing enabled
	copy(body[12:28], "rctdb-bench-smb2")
	for i, d := range smb2Dialects {
		le.PutUint16(body[36+2*i:], d)
	}
	msg := make([]byte, 4+smb2HeaderSize, 4+smb2HeaderSize+len(body))
	binary.BigEndian.PutUint32(msg[0:], uint32(smb2HeaderSize+len(body)))
	h := msg[4:]
	copy(h[0:4], "\xfeSMB")
	le.PutUint16(h[4:], smb2HeaderSize)
	le.PutUint16(h[12:], smb2CmdNegotiate)
	le.PutUint16(h[14:], 1) // credits requested
	return append(msg, body...)
}

// smb2Negotiate sends a NEGOTIATE over conn and returns the dialect the
// server chose; any other answer is an error.
func smb2Negotiate(conn net.Conn, timeout time.Duration) (uint16, error) {
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(smb2NegotiateRequest()); err != nil {
		return 0, fmt.Errorf("send SMB2 NEGOTIATE: %w", err)
	}
	var nb [4]byte
	if _, err := io.ReadFull(conn, nb[:]); err != nil {
		return 0, fmt.Errorf("read SMB2 NEGOTIATE reply: %w", err)
	}
	n := binary.BigEndian.Uint32(nb[:])
	if nb[0] != 0 || n < smb2HeaderSize+8 || n > smb2MaxReply {
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: session message type %#x length %d", nb[0], n&0xffffff)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return 0, fmt.Errorf("read SMB2 NEGOTIATE reply: %w", err)
	}
	return parseSMB2NegotiateReply(msg)
}

var errNotSMB2 = errors.New("not an SMB2 message")

// parseSMB2NegotiateReply checks a NEGOTIATE response (without its
// session header) and returns its dialect.
func parseSMB2NegotiateReply(msg []byte) (uint16, error) {
	le := binary.LittleEndian
	if len(msg) < smb2HeaderSize+8 || string(msg[0:4]) != "\xfeSMB" || le.Uint16(msg[4:]) != smb2HeaderSize {
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: %w", errNotSMB2)
	}
	status, cmd, flags := le.Uint32(msg[8:]), le.Uint16(msg[12:]), le.Uint32(msg[16:])
	switch {
	case cmd != smb2CmdNegotiate || flags&smb2FlagsResponse == 0:
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: command %d, flags %#x", cmd, flags)
	case status != 0:
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: status %#08x", status)
	}
	body := msg[smb2HeaderSize:]
	if size := le.Uint16(body[0:]); size != smb2NegotiateResponseSize {
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: body size %d", size)
	}
	d := le.Uint16(body[4:])
	if !slices.Contains(smb2Dialects, d) {
		return 0, fmt.Errorf("SMB2 NEGOTIATE reply: dialect %#04x was not offered", d)
	}
	return d, nil
}
