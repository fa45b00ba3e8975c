package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/server"
)

// TestTraverseStreamsAtClientPace: a client that stops reading in the
// middle of a traverse of ten times the client queue limit is not
// disconnected: the walk pauses until the client reads again, and then
// every record arrives.
func TestTraverseStreamsAtClientPace(t *testing.T) {
	const limit = 128 << 10
	h := clustertest.Start(t, 3, clustertest.WithOptions(func(o *server.Options) { o.ClientQueueLimit = limit }))
	clustertest.WaitAgreed(t, h, clustertest.Want{})
	ctx := tctx(t)
	const name, n, size = "pace.tdb", 2000, 600 // 1.2 MB
	// Attached by control: a client's Attach would open the file in this
	// process, where the daemon already has it open.
	if r, err := h.Client(0).Control(ctx, protocol.CurrentNode, protocol.ControlDBAttachPersistent, 0, 0, append([]byte(name), 0)); err != nil || r.Status != 0 {
		t.Fatalf("attach: %v %+v", err, r)
	}
	dbid := protocol.DBID(name)
	for i := 0; i < n; i += 500 {
		rb := protocol.RecBuffer{DBID: dbid}
		for j := i; j < i+500; j++ {
			h := protocol.LtdbHeader{RSN: 1}
			rb.Records = append(rb.Records, protocol.RecData{
				Key: []byte(fmt.Sprintf("rec-%05d", j)), Data: append(h.AppendTo(nil), bytes.Repeat([]byte{1}, size)...),
			})
		}
		r, err := h.Client(0).Control(ctx, protocol.CurrentNode, protocol.ControlUpdateRecord, 0, 0, rb.Marshal())
		if err != nil || r.Status != 0 {
			t.Fatalf("update record: %v %+v", err, r)
		}
	}

	// A raw client: register a srvid, start the traverse, read nothing.
	conn, err := net.Dial("unix", h.Socket(1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const srvid = protocol.SrvIDClientRange | 0x4242
	send := func(op protocol.Opcode, srv uint64, data []byte) {
		req := protocol.ReqControl{Header: protocol.Header{DestNode: protocol.CurrentNode, ReqID: uint32(op)}, Opcode: op, SrvID: srv, Data: data}
		if _, err := conn.Write(req.Marshal()); err != nil {
			t.Fatal(err)
		}
	}
	send(protocol.ControlRegisterSrvID, srvid, nil)
	start := protocol.TraverseStartExt{DBID: dbid, ReqID: 7, SrvID: srvid}
	send(protocol.ControlTraverseStartExt, 0, start.Marshal())
	pauses := h.Metrics(1).GetOrCreateCounter("ctdb_traverse_pauses_total")
	clustertest.WaitFor(t, 10*time.Second, "the walk to pause for the client", func() error {
		if pauses.Get() == 0 {
			return errors.New("no pause yet")
		}
		return nil
	})

	// Now read: every record arrives, then the end marker.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	pr := protocol.NewPacketReader(conn, 1<<20)
	seen := 0
	for {
		pkt, err := pr.Next()
		if err != nil {
			t.Fatalf("after %d records: %v", seen, err)
		}
		if protocol.PacketOp(pkt) != protocol.OpReqMessage {
			continue
		}
		var m protocol.ReqMessage
		if err := m.Unmarshal(pkt); err != nil || m.SrvID != srvid {
			continue
		}
		var rd protocol.RecData
		if err := rd.Unmarshal(m.Data); err != nil {
			t.Fatal(err)
		}
		if rd.IsEndMarker() {
			break
		}
		seen++
	}
	if seen != n {
		t.Fatalf("traverse delivered %d records, want %d", seen, n)
	}
	t.Logf("%d records (%d KiB) through a %d KiB client queue; the walk paused %d times", n, n*size>>10, limit>>10, pauses.Get())
}
