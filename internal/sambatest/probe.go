package sambatest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// probeSMB sends an SMB2 NEGOTIATE (dialects 2.02 and 2.10) to addr:445
// and checks that an SMB2 response with status 0 comes back: smbd is up,
// has loaded its configuration and serves SMB, which a mere TCP accept
// would not show.
func probeSMB(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr, "445"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(negotiateRequest()); err != nil {
		return fmt.Errorf("send negotiate: %w", err)
	}
	var nb [4]byte // NetBIOS session header: type 0, 24-bit length
	if _, err := io.ReadFull(conn, nb[:]); err != nil {
		return fmt.Errorf("read negotiate response: %w", err)
	}
	n := int(nb[1])<<16 | int(nb[2])<<8 | int(nb[3])
	if nb[0] != 0 || n < 64 {
		return fmt.Errorf("negotiate response: bad session header % x", nb)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return fmt.Errorf("read negotiate response: %w", err)
	}
	if !bytes.Equal(msg[:4], []byte("\xfeSMB")) {
		return fmt.Errorf("negotiate response is not SMB2: % x", msg[:4])
	}
	if st := binary.LittleEndian.Uint32(msg[8:]); st != 0 {
		return fmt.Errorf("negotiate answered with NTSTATUS 0x%08x", st)
	}
	return nil
}

// negotiateRequest is a NetBIOS-framed SMB2 NEGOTIATE request.
func negotiateRequest() []byte {
	const hdr, body = 64, 36
	dialects := []uint16{0x0202, 0x0210}
	msg := make([]byte, 4+hdr+body+2*len(dialects))
	le := binary.LittleEndian
	m := msg[4:]
	copy(m, "\xfeSMB")
	le.PutUint16(m[4:], hdr) // StructureSize; Command 0 = NEGOTIATE
	le.PutUint16(m[14:], 1)  // CreditRequest
	b := m[hdr:]
	le.PutUint16(b[0:], body) // StructureSize
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], 1) // SecurityMode: signing enabled
	copy(b[12:28], "rctdb-sambatest!")
	for i, d := range dialects {
		le.PutUint16(b[body+2*i:], d)
	}
	n := len(msg) - 4
	msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
	return msg
}
