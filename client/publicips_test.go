package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// msgFake is a daemon socket that answers controls with data and lets a
// test answer messages: enough for the public-IP calls.
type msgFake struct {
	t    *testing.T
	path string

	mu       sync.Mutex
	controls []*protocol.ReqControl
	messages []protocol.ReqMessage
	reply    func(req *protocol.ReqControl) (int32, []byte)
	onMsg    func(m protocol.ReqMessage, send func(srvid uint64, data []byte))
}

func newMsgFake(t *testing.T) *msgFake {
	f := &msgFake{t: t, path: filepath.Join(t.TempDir(), "ctdbd.socket")}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn)
		}
	}()
	return f
}

func (f *msgFake) serve(conn net.Conn) {
	defer conn.Close()
	var wmu sync.Mutex
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.Write(b)
	}
	send := func(srvid uint64, data []byte) {
		m := protocol.ReqMessage{Header: protocol.Header{DestNode: 0, SrcNode: 0}, SrvID: srvid, Data: data}
		write(m.Marshal())
	}
	pr := protocol.NewPacketReader(conn, 1<<20)
	for {
		pkt, err := pr.Next()
		if err != nil {
			return
		}
		switch protocol.PacketOp(pkt) {
		case protocol.OpReqControl:
			var req protocol.ReqControl
			if err := req.Unmarshal(pkt); err != nil {
				f.t.Error(err)
				return
			}
			req.Data = bytes.Clone(req.Data)
			f.mu.Lock()
			f.controls = append(f.controls, &req)
			reply := f.reply
			f.mu.Unlock()
			var st int32
			var data []byte
			switch {
			case req.Opcode == protocol.ControlGetPNN:
			case req.Opcode == protocol.ControlRegisterSrvID, req.Opcode == protocol.ControlDeregisterSrvID:
			case reply != nil:
				st, data = reply(&req)
			default:
				st = -1
			}
			r := protocol.ReplyControl{Header: protocol.Header{DestNode: req.SrcNode, ReqID: req.ReqID}, Status: st, Data: data}
			write(r.Marshal())
		case protocol.OpReqMessage:
			var m protocol.ReqMessage
			if err := m.Unmarshal(pkt); err != nil {
				f.t.Error(err)
				return
			}
			m.Data = bytes.Clone(m.Data)
			f.mu.Lock()
			f.messages = append(f.messages, m)
			onMsg := f.onMsg
			f.mu.Unlock()
			if onMsg != nil {
				onMsg(m, send)
			}
		}
	}
}

func (f *msgFake) set(reply func(req *protocol.ReqControl) (int32, []byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = reply
}

func (f *msgFake) setOnMsg(h func(m protocol.ReqMessage, send func(srvid uint64, data []byte))) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onMsg = h
}

// last is the last control received.
func (f *msgFake) last() *protocol.ReqControl {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.controls[len(f.controls)-1]
}

func (f *msgFake) sent(op protocol.Opcode) []*protocol.ReqControl {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l []*protocol.ReqControl
	for _, r := range f.controls {
		if r.Opcode == op {
			l = append(l, r)
		}
	}
	return l
}

func (f *msgFake) msgs() []protocol.ReqMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protocol.ReqMessage(nil), f.messages...)
}

func (f *msgFake) connect(t *testing.T) *Client {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sockAddr(t *testing.T, s string, port uint16) protocol.SockAddr {
	t.Helper()
	a := protocol.SockAddrFrom(netipAddrPort(t, s, port))
	return a
}

func TestPublicIPControls(t *testing.T) {
	f := newMsgFake(t)
	c := f.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ip := sockAddr(t, "10.1.2.3", 0)
	conn := protocol.Connection{Src: sockAddr(t, "192.168.1.1", 40000), Dst: sockAddr(t, "10.1.2.3", 445)}
	info := protocol.PublicIPInfo{IP: protocol.PublicIP{PNN: 1, Addr: ip}, ActiveIdx: 0,
		Ifaces: []protocol.Iface{{Name: "eth1", LinkState: 1, References: 2}}}
	tickles := protocol.TickleList{Addr: ip, Conns: []protocol.Connection{conn}}
	f.set(func(req *protocol.ReqControl) (int32, []byte) {
		switch req.Opcode {
		case protocol.ControlGetPublicIPInfo:
			return 0, info.Marshal()
		case protocol.ControlGetTCPTickleList:
			return 0, tickles.Marshal()
		case protocol.ControlAddPublicIP:
			return -1, nil
		}
		return 0, nil
	})

	gotInfo, err := c.GetPublicIPInfo(ctx, 2, ip)
	if err != nil || gotInfo.IP != info.IP || len(gotInfo.Ifaces) != 1 || gotInfo.Ifaces[0] != info.Ifaces[0] {
		t.Errorf("GetPublicIPInfo: %+v %v", gotInfo, err)
	}
	checkSent(t, f.last(), protocol.ControlGetPublicIPInfo, 2, ip.AppendTo(nil))

	gotTickles, err := c.GetTCPTickleList(ctx, 1, sockAddr(t, "10.1.2.3", 445))
	if err != nil || len(gotTickles.Conns) != 1 || gotTickles.Conns[0] != conn {
		t.Errorf("GetTCPTickleList: %+v %v", gotTickles, err)
	}
	checkSent(t, f.last(), protocol.ControlGetTCPTickleList, 1, sockAddr(t, "10.1.2.3", 445).AppendTo(nil))

	iface := protocol.Iface{Name: "eth1", LinkState: 0}
	if err := c.SetIfaceLinkState(ctx, 0, iface); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlSetIfaceLinkState, 0, iface.Marshal())

	pub := protocol.PublicIP{PNN: 2, Addr: ip}
	if err := c.ReleaseIP(ctx, 1, pub); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlReleaseIP, 1, pub.Marshal())
	if err := c.TakeoverIP(ctx, 2, pub); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlTakeoverIP, 2, pub.Marshal())

	ai := protocol.AddrInfo{Addr: ip, Mask: 24, Iface: "eth1"}
	withIface := append(append(ip.AppendTo(nil), 24, 0, 0, 0, 5, 0, 0, 0), "eth1\x00"...)
	var ce *ControlError
	if err := c.AddPublicIP(ctx, 0, ai); !errors.As(err, &ce) || ce.Status != -1 || ce.Opcode != protocol.ControlAddPublicIP {
		t.Errorf("AddPublicIP refused: %v", err)
	}
	checkSent(t, f.last(), protocol.ControlAddPublicIP, 0, withIface)
	if err := c.SendGratuitousARP(ctx, 0, ai); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlSendGratuitousARP, 0, withIface)
	// The ctdb tool sends DEL_PUBLIC_IP with no interface at all.
	if err := c.DelPublicIP(ctx, 0, protocol.AddrInfo{Addr: ip}); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlDelPublicIP, 0, append(ip.AppendTo(nil), make([]byte, 8)...))
	if err := c.DelPublicIP(ctx, 0, ai); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlDelPublicIP, 0, withIface)

	if err := c.ReloadPublicIPs(ctx, 1); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlReloadPublicIPs, 1, nil)
	if err := c.TCPAddDelayedUpdate(ctx, protocol.CurrentNode, conn); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlTCPAddDelayedUpdate, protocol.CurrentNode, conn.Marshal())
	if err := c.TCPRemove(ctx, protocol.CurrentNode, conn); err != nil {
		t.Error(err)
	}
	checkSent(t, f.last(), protocol.ControlTCPRemove, protocol.CurrentNode, conn.Marshal())

	if err := c.DisableIPCheck(protocol.BroadcastConnected, 20); err != nil {
		t.Error(err)
	}
	if err := c.RebalanceNode(protocol.BroadcastConnected, 2); err != nil {
		t.Error(err)
	}
	testutil.WaitFor(t, 5*time.Second, "two messages", func() error {
		if n := len(f.msgs()); n != 2 {
			return testutil.Errorf("%d messages", n)
		}
		return nil
	})
	m := f.msgs()
	if m[0].SrvID != protocol.SrvIDDisableIPCheck || m[0].DestNode != protocol.BroadcastConnected || !bytes.Equal(m[0].Data, protocol.U32(20)) ||
		m[1].SrvID != protocol.SrvIDRebalanceNode || m[1].DestNode != protocol.BroadcastConnected || !bytes.Equal(m[1].Data, protocol.U32(2)) {
		t.Errorf("messages %+v", m)
	}
}

func checkSent(t *testing.T, r *protocol.ReqControl, op protocol.Opcode, dest uint32, data []byte) {
	t.Helper()
	if r.Opcode != op || r.DestNode != dest || !bytes.Equal(r.Data, data) || r.Flags != 0 {
		t.Errorf("sent %s to %d flags %#x data %x, want %s to %d data %x", r.Opcode, r.DestNode, r.Flags, r.Data, op, dest, data)
	}
}

func TestDisableTakeoverRuns(t *testing.T) {
	f := newMsgFake(t)
	c := f.connect(t)
	// Each recovery daemon answers with its pnn, after an answer of the
	// wrong size and one from a node not asked, which are ignored.
	f.setOnMsg(func(m protocol.ReqMessage, send func(uint64, []byte)) {
		var dm protocol.DisableMessage
		if err := dm.Unmarshal(m.Data); err != nil {
			t.Error(err)
			return
		}
		send(dm.SrvID, []byte{1, 2})
		send(dm.SrvID, protocol.U32(9))
		send(dm.SrvID, protocol.U32(m.DestNode))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.DisableTakeoverRuns(ctx, []uint32{0, 1, 2}, 20); err != nil {
		t.Fatal(err)
	}
	msgs := f.msgs()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	var srvid uint64
	for i, m := range msgs {
		var dm protocol.DisableMessage
		if err := dm.Unmarshal(m.Data); err != nil || len(m.Data) != 24 {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.SrvID != protocol.SrvIDDisableTakeoverRuns || m.DestNode != uint32(i) || dm.PNN != c.PNN() || dm.Timeout != 20 ||
			dm.SrvID&0xFF00000000000000 != protocol.SrvIDToolRange {
			t.Errorf("message %d: %+v %+v", i, m, dm)
		}
		if srvid != 0 && dm.SrvID != srvid {
			t.Errorf("message %d: reply srvid %#x, not %#x", i, dm.SrvID, srvid)
		}
		srvid = dm.SrvID
	}
	testutil.WaitFor(t, 5*time.Second, "the reply srvid deregistered", func() error {
		for _, r := range f.sent(protocol.ControlDeregisterSrvID) {
			if r.SrvID == srvid {
				return nil
			}
		}
		return errors.New("not yet")
	})

	// A refusal ends the wait.
	f.setOnMsg(func(m protocol.ReqMessage, send func(uint64, []byte)) {
		var dm protocol.DisableMessage
		dm.Unmarshal(m.Data)
		eagain := -int32(syscall.EAGAIN)
		send(dm.SrvID, protocol.U32(uint32(eagain)))
	})
	var re *RefusedError
	if err := c.DisableTakeoverRuns(ctx, []uint32{0, 1}, 0); !errors.As(err, &re) || re.Status != -int32(syscall.EAGAIN) {
		t.Errorf("refused: %v", err)
	}

	// Silence: the context ends the wait.
	f.setOnMsg(nil)
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if err := c.DisableTakeoverRuns(short, []uint32{0}, 20); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no answer: %v", err)
	}
}

// TestSendKeepsOrder: controls sent one after the other with Send reach
// the daemon in that order, and each Wait gets its own reply.
func TestSendKeepsOrder(t *testing.T) {
	f := newMsgFake(t)
	c := f.connect(t)
	f.set(func(req *protocol.ReqControl) (int32, []byte) { return int32(req.SrvID), nil })
	var ps []*Pending
	for i := range 100 {
		p, err := c.Send(0, protocol.ControlTCPRemove, uint64(i), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := len(ps) - 1; i >= 0; i-- {
		r, err := ps[i].Wait(ctx)
		if err != nil || r.Status != int32(i) {
			t.Fatalf("control %d: %+v %v", i, r, err)
		}
	}
	for i, r := range f.sent(protocol.ControlTCPRemove) {
		if r.SrvID != uint64(i) {
			t.Fatalf("control %d arrived in place %d", r.SrvID, i)
		}
	}
	p, err := c.Send(0, protocol.ControlTCPRemove, 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ce *ControlError
	if err := p.WaitStatus(ctx); !errors.As(err, &ce) || ce.Status != 7 {
		t.Errorf("WaitStatus: %v", err)
	}
}

func netipAddrPort(t *testing.T, s string, port uint16) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(a, port)
}
