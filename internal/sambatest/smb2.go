package sambatest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// SMB2 commands and sizes this client uses ([MS-SMB2] 2.2).
const (
	smb2Negotiate = 0x0000
	smb2Echo      = 0x000d // SMB2 ECHO, which smbd calls KEEPALIVE

	smb2HeaderSize = 64
	// nbtKeepalive is the NetBIOS session message type of a keepalive,
	// which smbd may send on an idle connection.
	nbtKeepalive = 0x85
	// maxResponse bounds what ReadResponse accepts: the responses to
	// NEGOTIATE and ECHO are a few hundred bytes.
	maxResponse = 1 << 16
)

// SMB2Conn is a minimal SMB2 client on one TCP connection: a NEGOTIATE,
// then ECHO requests, which smbd answers without a session. It gives tests
// a connection smbd accepted (and registered with its CTDB daemon, as it
// registers every connection to a public address) whose life they can
// watch: a reader blocked in ReadResponse learns at once that the
// connection was reset. It is no file client.
//
// SendEcho and ReadResponse may run in different goroutines.
type SMB2Conn struct {
	conn net.Conn

	// mu serializes requests, each with the next message id: every
	// request asks for one credit and smbd grants it with the response.
	mu  sync.Mutex
	mid uint64
}

// Negotiate sends an SMB2 NEGOTIATE (dialects 2.02 and 2.10) on conn and
// waits, until ctx ends, for a successful SMB2 response. On success the
// SMB2Conn owns conn; on error conn is left to the caller.
func Negotiate(ctx context.Context, conn net.Conn) (*SMB2Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &SMB2Conn{conn: conn}
	if err := c.send(smb2Negotiate, negotiateBody()); err != nil {
		return nil, fmt.Errorf("send negotiate: %w", err)
	}
	cmd, status, err := c.ReadResponse()
	if err != nil {
		return nil, fmt.Errorf("read negotiate response: %w", err)
	}
	if cmd != smb2Negotiate {
		return nil, fmt.Errorf("negotiate answered with command 0x%04x", cmd)
	}
	if status != 0 {
		return nil, fmt.Errorf("negotiate answered with NTSTATUS 0x%08x", status)
	}
	if !stop() {
		return nil, fmt.Errorf("negotiate: %w", ctx.Err())
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// SendEcho sends an ECHO request; ReadResponse gets its answer.
func (c *SMB2Conn) SendEcho() error {
	var body [4]byte
	binary.LittleEndian.PutUint16(body[:], 4) // StructureSize; Reserved 0
	return c.send(smb2Echo, body[:])
}

// ReadResponse blocks until the next SMB2 message arrives and returns its
// command and NTSTATUS; NetBIOS keepalives are skipped. A connection reset
// by the peer gives an error that wraps syscall.ECONNRESET.
func (c *SMB2Conn) ReadResponse() (cmd uint16, status uint32, err error) {
	for {
		var nb [4]byte // NetBIOS session header: type, 24-bit length
		if _, err := io.ReadFull(c.conn, nb[:]); err != nil {
			return 0, 0, err
		}
		n := int(nb[1])<<16 | int(nb[2])<<8 | int(nb[3])
		if nb[0] == nbtKeepalive && n == 0 {
			continue
		}
		if nb[0] != 0 || n < smb2HeaderSize || n > maxResponse {
			return 0, 0, fmt.Errorf("bad session header % x", nb)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c.conn, msg); err != nil {
			return 0, 0, err
		}
		if !bytes.Equal(msg[:4], []byte("\xfeSMB")) {
			return 0, 0, fmt.Errorf("response is not SMB2: % x", msg[:4])
		}
		le := binary.LittleEndian
		return le.Uint16(msg[12:]), le.Uint32(msg[8:]), nil
	}
}

// Conn is the TCP connection.
func (c *SMB2Conn) Conn() net.Conn { return c.conn }

// Close closes the connection.
func (c *SMB2Conn) Close() error { return c.conn.Close() }

// send writes one NetBIOS-framed SMB2 request with the next message id.
func (c *SMB2Conn) send(cmd uint16, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := make([]byte, 4+smb2HeaderSize+len(body))
	n := len(msg) - 4
	msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
	le := binary.LittleEndian
	h := msg[4:]
	copy(h, "\xfeSMB")
	le.PutUint16(h[4:], smb2HeaderSize) // StructureSize
	le.PutUint16(h[12:], cmd)
	le.PutUint16(h[14:], 1) // CreditRequest
	le.PutUint64(h[24:], c.mid)
	copy(h[smb2HeaderSize:], body)
	if _, err := c.conn.Write(msg); err != nil {
		return err
	}
	c.mid++
	return nil
}

// negotiateBody is the body of a NEGOTIATE request offering 2.02 and 2.10.
func negotiateBody() []byte {
	const size = 36
	dialects := []uint16{0x0202, 0x0210}
	b := make([]byte, size+2*len(dialects))
	le := binary.LittleEndian
	le.PutUint16(b[0:], size) // StructureSize
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], 1) // SecurityMode: signing enabled
	copy(b[12:28], "rctdb-sambatest!")
	for i, d := range dialects {
		le.PutUint16(b[size+2*i:], d)
	}
	return b
}
