package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// packet is what every operation type implements.
type packet interface {
	Marshal() []byte
	Unmarshal([]byte) error
}

// hdr returns a header with distinct values in every field the caller owns.
func hdr(gen, dest, src, reqid uint32) Header {
	return Header{Generation: gen, DestNode: dest, SrcNode: src, ReqID: reqid}
}

type packetCase struct {
	name  string
	op    Operation
	p     packet        // value to encode; Marshal fills in its Length
	fresh func() packet // an empty value of the same type
	size  int           // expected encoded size (daemon style, padded)
	used  int           // bytes up to the end of the last field; the rest is padding
	at    []at          // expected bytes at packet offsets
}

func packetCases() []packetCase {
	return []packetCase{
		{
			name: "REQ_CALL key and call data",
			op:   OpReqCall,
			p: &ReqCall{Header: hdr(0x6a2b000e, 1, 2, 0x7FFFFF38), Flags: CallFlagImmediateMigration | CallFlagWantReadonly,
				DBID: 0x4d2a432b, CallID: CallFetchWithHeaderFunc, HopCount: 3, Key: []byte("hello"), CallData: []byte{0xc1, 0xc2, 0xc3}},
			fresh: func() packet { return new(ReqCall) },
			size:  64, used: 64,
			at: []at{{32, le32(5)}, {36, le32(0x4d2a432b)}, {40, le32(0xFF000003)}, {44, le32(3)},
				{48, le32(5)}, {52, le32(3)}, {56, []byte("hello")}, {61, []byte{0xc1, 0xc2, 0xc3}}},
		},
		{
			name:  "REQ_CALL one-byte key is padded to sizeof(struct)",
			op:    OpReqCall,
			p:     &ReqCall{Header: hdr(7, 0, 1, 9), DBID: 0x11223344, CallID: CallNullFunc, Key: []byte{0x5a}},
			fresh: func() packet { return new(ReqCall) },
			size:  64, used: 57,
			at: []at{{48, le32(1)}, {52, le32(0)}, {56, []byte{0x5a}}},
		},
		{
			name:  "REQ_CALL empty key is padded to sizeof(struct)",
			op:    OpReqCall,
			p:     &ReqCall{Header: hdr(1, 2, 3, 4), DBID: 5, CallID: CallFetchFunc},
			fresh: func() packet { return new(ReqCall) },
			size:  64, used: 56,
			at: []at{{36, le32(5)}, {40, le32(0xFF000002)}, {48, le32(0)}, {52, le32(0)}},
		},
		{
			name: "REQ_CALL 26-byte key",
			op:   OpReqCall,
			p: &ReqCall{Header: hdr(0, 0, 0, 13), Flags: 1, DBID: 0x4d2a432b, CallID: CallNullFunc,
				Key: []byte("transaction_db_0xecbcf3e6\x00")},
			fresh: func() packet { return new(ReqCall) },
			size:  88, used: 82,
			at: []at{{48, le32(26)}, {56, []byte("transaction_db_0xecbcf3e6\x00")}},
		},
		{
			name:  "REPLY_CALL no data",
			op:    OpReplyCall,
			p:     &ReplyCall{Header: hdr(0x10, 0, 3, 0x55), Status: -1},
			fresh: func() packet { return new(ReplyCall) },
			size:  48, used: 40,
			at: []at{{32, le32(0xFFFFFFFF)}, {36, le32(0)}},
		},
		{
			name:  "REPLY_CALL with data",
			op:    OpReplyCall,
			p:     &ReplyCall{Header: hdr(0x10, 0, 3, 0x56), Status: 7, Data: []byte("0123456789")},
			fresh: func() packet { return new(ReplyCall) },
			size:  56, used: 50,
			at: []at{{32, le32(7)}, {36, le32(10)}, {40, []byte("0123456789")}},
		},
		{
			name:  "REPLY_ERROR",
			op:    OpReplyError,
			p:     &ReplyError{Header: hdr(0x20, 1, 0, 0x99), Status: -1, Msg: []byte("boom\x00")},
			fresh: func() packet { return new(ReplyError) },
			size:  48, used: 45,
			at: []at{{32, le32(0xFFFFFFFF)}, {36, le32(5)}, {40, []byte("boom\x00")}},
		},
		{
			name:  "REPLY_ERROR empty message",
			op:    OpReplyError,
			p:     &ReplyError{Header: hdr(0x21, 2, 1, 0x9a), Status: -3},
			fresh: func() packet { return new(ReplyError) },
			size:  48, used: 40,
			at: []at{{32, le32(0xFFFFFFFD)}, {36, le32(0)}},
		},
		{
			name: "REQ_DMASTER key4 no data",
			op:   OpReqDMaster,
			p: &ReqDMaster{Header: hdr(0x6a2b000e, 0, 1, 595), DBID: 0xe64b579e, RSN: 0x0102030405060708,
				DMaster: 2, Key: []byte("key4"), RecordFlags: RecFlagMigratedWithData},
			fresh: func() packet { return new(ReqDMaster) },
			size:  72, used: 68,
			at: []at{{32, le32(0xe64b579e)}, {36, le32(0)}, {40, le64(0x0102030405060708)}, {48, le32(2)},
				{52, le32(4)}, {56, le32(0)}, {60, []byte("key4")}, {64, le32(0x00010000)}},
		},
		{
			name: "REQ_DMASTER with data",
			op:   OpReqDMaster,
			p: &ReqDMaster{Header: hdr(5, 0, 1, 6), DBID: 0xaabbccdd, RSN: 77, DMaster: 1,
				Key: []byte("abc"), Data: []byte("VALUE!"), RecordFlags: 0x01020304},
			fresh: func() packet { return new(ReqDMaster) },
			size:  80, used: 73,
			at: []at{{52, le32(3)}, {56, le32(6)}, {60, []byte("abcVALUE!")}, {69, le32(0x01020304)}},
		},
		{
			name: "REPLY_DMASTER key4 no data",
			op:   OpReplyDMaster,
			p: &ReplyDMaster{Header: hdr(0x6a2b000e, 1, 0, 270), DBID: 0xe64b579e, RSN: 0x1122334455667788,
				Key: []byte("key4"), RecordFlags: 0x0a0b0c0d},
			fresh: func() packet { return new(ReplyDMaster) },
			size:  64, used: 64,
			at: []at{{32, le32(0xe64b579e)}, {36, le32(0)}, {40, le64(0x1122334455667788)}, {48, le32(4)},
				{52, le32(0)}, {56, []byte("key4")}, {60, le32(0x0a0b0c0d)}},
		},
		{
			name: "REPLY_DMASTER with data",
			op:   OpReplyDMaster,
			p: &ReplyDMaster{Header: hdr(3, 1, 0, 4), DBID: 9, RSN: 10, Key: []byte("k"),
				Data: []byte("12345678"), RecordFlags: 0x0f000000},
			fresh: func() packet { return new(ReplyDMaster) },
			size:  72, used: 69,
			at: []at{{48, le32(1)}, {52, le32(8)}, {56, []byte("k12345678")}, {65, le32(0x0f000000)}},
		},
		{
			name:  "REQ_MESSAGE 5-byte payload",
			op:    OpReqMessage,
			p:     &ReqMessage{Header: hdr(1, 1, 0, 0), SrvID: 0xFE00000000000002, Data: []byte("hello")},
			fresh: func() packet { return new(ReqMessage) },
			size:  56, used: 49,
			at: []at{{32, le64(0xFE00000000000002)}, {40, le32(5)}, {44, []byte("hello")}},
		},
		{
			name:  "REQ_MESSAGE empty payload",
			op:    OpReqMessage,
			p:     &ReqMessage{Header: hdr(2, 3, 4, 0), SrvID: SrvIDReconfigure},
			fresh: func() packet { return new(ReqMessage) },
			size:  48, used: 44,
			at: []at{{32, le64(SrvIDReconfigure)}, {40, le32(0)}},
		},
		{
			name: "REQ_CONTROL no data",
			op:   OpReqControl,
			p: &ReqControl{Header: hdr(0, CurrentNode, 0, 1), Opcode: ControlRegisterSrvID,
				SrvID: 0xBE00000000001234, ClientID: 0x31, Flags: CtrlFlagNoReply | CtrlFlagAttachRecovery},
			fresh: func() packet { return new(ReqControl) },
			size:  64, used: 60,
			at: []at{{20, le32(0xF0000001)}, {32, le32(23)}, {36, le32(0)}, {40, le64(0xBE00000000001234)},
				{48, le32(0x31)}, {52, le32(0x00020001)}, {56, le32(0)}},
		},
		{
			name: "REQ_CONTROL 5 bytes of data",
			op:   OpReqControl,
			p: &ReqControl{Header: hdr(4, 1, 0, 2), Opcode: ControlDBVacuum, SrvID: 3, ClientID: 4, Flags: 0,
				Data: []byte{0x2b, 0x43, 0x2a, 0x4d, 0x01}},
			fresh: func() packet { return new(ReqControl) },
			size:  72, used: 65,
			at: []at{{32, le32(155)}, {56, le32(5)}, {60, []byte{0x2b, 0x43, 0x2a, 0x4d, 0x01}}},
		},
		{
			name:  "REPLY_CONTROL no data",
			op:    OpReplyControl,
			p:     &ReplyControl{Header: hdr(0x6a2b000e, 0, 0, 1), Status: 0},
			fresh: func() packet { return new(ReplyControl) },
			size:  48, used: 44,
			at: []at{{32, le32(0)}, {36, le32(0)}, {40, le32(0)}},
		},
		{
			name: "REPLY_CONTROL node map for 2 nodes",
			op:   OpReplyControl,
			p: &ReplyControl{Header: hdr(0x6a2b000e, 0, 1, 2), Status: 0, Data: (&NodeMap{Nodes: []NodeInfo{
				{PNN: 0, Flags: 0, Addr: v4("127.99.0.1", DefaultPort)},
				{PNN: 1, Flags: NodeFlagDisconnected | NodeFlagUnhealthy, Addr: v4("127.99.0.2", DefaultPort)},
			}}).Marshal()},
			fresh: func() packet { return new(ReplyControl) },
			size:  120, used: 120,
			at: []at{{36, le32(76)}, {40, le32(0)}, {44, le32(2)}},
		},
		{
			name:  "REPLY_CONTROL data and error text",
			op:    OpReplyControl,
			p:     &ReplyControl{Header: hdr(8, 0, 1, 0x42), Status: -22, Data: []byte{1, 2, 3}, ErrMsg: []byte("unknown")},
			fresh: func() packet { return new(ReplyControl) },
			size:  56, used: 54,
			at: []at{{32, le32(0xFFFFFFEA)}, {36, le32(3)}, {40, le32(7)}, {44, []byte{1, 2, 3}}, {47, []byte("unknown")}},
		},
		{
			name:  "REQ_KEEPALIVE",
			op:    OpReqKeepalive,
			p:     &ReqKeepalive{Header: hdr(0x6a2b000e, 0, 1, 0), KeepaliveVersion: KeepaliveVersion, Uptime: 55},
			fresh: func() packet { return new(ReqKeepalive) },
			size:  40, used: 40,
			at: []at{{32, le32(0x00040011)}, {36, le32(55)}},
		},
		{
			name:  "REQ_TUNNEL no data",
			op:    OpReqTunnel,
			p:     &ReqTunnel{Header: hdr(1, 2, 3, 4), TunnelID: SrvIDTunnelTest, Flags: TunnelFlagRequest | TunnelFlagNoReply},
			fresh: func() packet { return new(ReqTunnel) },
			size:  56, used: 48,
			at: []at{{32, le64(0xffffffff00000000)}, {40, le32(0x11)}, {44, le32(0)}},
		},
		{
			name:  "REQ_TUNNEL with data",
			op:    OpReqTunnel,
			p:     &ReqTunnel{Header: hdr(5, 6, 7, 8), TunnelID: 0x0102030405060708, Flags: TunnelFlagReply, Data: []byte("tunneled!")},
			fresh: func() packet { return new(ReqTunnel) },
			size:  64, used: 57,
			at: []at{{32, le64(0x0102030405060708)}, {40, le32(2)}, {44, le32(9)}, {48, []byte("tunneled!")}},
		},
	}
}

// header returns a pointer to the Header embedded in any packet type.
func header(p packet) *Header {
	switch v := p.(type) {
	case *ReqCall:
		return &v.Header
	case *ReplyCall:
		return &v.Header
	case *ReplyError:
		return &v.Header
	case *ReqDMaster:
		return &v.Header
	case *ReplyDMaster:
		return &v.Header
	case *ReqMessage:
		return &v.Header
	case *ReqControl:
		return &v.Header
	case *ReplyControl:
		return &v.Header
	case *ReqKeepalive:
		return &v.Header
	case *ReqTunnel:
		return &v.Header
	}
	panic("unknown packet type")
}

func TestPacketRoundTrip(t *testing.T) {
	for _, tc := range packetCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := *header(tc.p)
			enc := tc.p.Marshal()
			if len(enc) != tc.size {
				t.Fatalf("encoded %d bytes, want %d", len(enc), tc.size)
			}
			if len(enc)%Alignment != 0 {
				t.Errorf("length %d is not a multiple of 8", len(enc))
			}
			checkAt(t, "header", enc, []at{
				{0, le32(uint32(tc.size))}, {4, []byte("BDTC")}, {8, le32(1)},
				{12, le32(want.Generation)}, {16, le32(uint32(tc.op))},
				{20, le32(want.DestNode)}, {24, le32(want.SrcNode)}, {28, le32(want.ReqID)},
			})
			checkAt(t, "body", enc, tc.at)
			checkZero(t, "padding", enc, tc.used, len(enc))

			h := header(tc.p)
			if h.Length != uint32(tc.size) || h.Magic != Magic || h.Version != Version || h.Operation != tc.op {
				t.Errorf("Marshal left header %+v", *h)
			}

			got := tc.fresh()
			if err := got.Unmarshal(enc); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			mustEqual(t, "round trip", got, tc.p)
			if again := got.Marshal(); !bytes.Equal(again, enc) {
				t.Errorf("re-encoding differs:\n got  %x\n want %x", again, enc)
			}
			if op := PacketOp(enc); op != tc.op {
				t.Errorf("PacketOp = %v, want %v", op, tc.op)
			}
		})
	}
}

// Samba writes packets with the exact length and no padding; the protocol
// library pads to 8 without caring what the bytes are. Both must decode to
// the same fields.
func TestPacketUnpaddedAndDirtyPadding(t *testing.T) {
	for _, tc := range packetCases() {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.p.Marshal()

			short := append([]byte(nil), enc[:tc.used]...)
			copy(short[0:4], le32(uint32(tc.used)))
			got := tc.fresh()
			if err := got.Unmarshal(short); err != nil {
				t.Fatalf("unpadded (%d bytes): %v", tc.used, err)
			}
			header(got).Length = uint32(tc.size)
			mustEqual(t, "unpadded", got, tc.p)

			dirty := append([]byte(nil), enc...)
			for i := tc.used; i < len(dirty); i++ {
				dirty[i] = 0xAA
			}
			got = tc.fresh()
			if err := got.Unmarshal(dirty); err != nil {
				t.Fatalf("dirty padding: %v", err)
			}
			mustEqual(t, "dirty padding", got, tc.p)
		})
	}
}

func TestPacketWrongOperation(t *testing.T) {
	cases := packetCases()
	for _, a := range cases {
		enc := a.p.Marshal()
		for _, b := range cases {
			if a.op == b.op {
				continue
			}
			if err := b.fresh().Unmarshal(enc); err == nil {
				t.Errorf("%T accepted a %v packet", b.fresh(), a.op)
			}
		}
	}
}

func TestPacketBadHeader(t *testing.T) {
	for _, tc := range packetCases() {
		enc := tc.p.Marshal()

		bad := append([]byte(nil), enc...)
		bad[4] ^= 0xff
		if err := tc.fresh().Unmarshal(bad); !errors.Is(err, ErrBadMagic) {
			t.Errorf("%s: bad magic gave %v", tc.name, err)
		}
		bad = append([]byte(nil), enc...)
		copy(bad[8:], le32(2))
		if err := tc.fresh().Unmarshal(bad); !errors.Is(err, ErrBadVersion) {
			t.Errorf("%s: bad version gave %v", tc.name, err)
		}
		bad = append([]byte(nil), enc...)
		copy(bad[0:], le32(31))
		if err := tc.fresh().Unmarshal(bad); !errors.Is(err, ErrBadLength) {
			t.Errorf("%s: length 31 gave %v", tc.name, err)
		}
		for n := 0; n < HeaderSize; n++ {
			if err := tc.fresh().Unmarshal(enc[:n]); !errors.Is(err, ErrShort) {
				t.Errorf("%s: %d-byte buffer gave %v", tc.name, n, err)
			}
		}
	}
}

// fixedSize is the size of each operation's fixed part, header included.
var fixedSize = map[Operation]int{
	OpReqCall: 56, OpReplyCall: 40, OpReplyError: 40, OpReqDMaster: 60, OpReplyDMaster: 56,
	OpReqMessage: 44, OpReqControl: 60, OpReplyControl: 44, OpReqKeepalive: 32, OpReqTunnel: 48,
}

func TestPacketTruncated(t *testing.T) {
	for _, tc := range packetCases() {
		enc := tc.p.Marshal()
		fixed := fixedSize[tc.op]
		// A buffer cut inside the fixed part, with a length field that
		// matches the buffer, fails.
		for n := HeaderSize; n < fixed; n++ {
			cut := append([]byte(nil), enc[:n]...)
			copy(cut[0:], le32(uint32(n)))
			if err := tc.fresh().Unmarshal(cut); !errors.Is(err, ErrShort) {
				t.Errorf("%s: %d bytes gave %v", tc.name, n, err)
			}
		}
		// A length field that stops inside the variable part fails even if
		// the buffer itself is long enough: inner lengths may not reach
		// beyond the header's length.
		if tc.op == OpReqKeepalive {
			continue
		}
		dataEnd := tc.used
		if tc.op == OpReqDMaster || tc.op == OpReplyDMaster {
			dataEnd -= recordFlagsTrailer
		}
		if dataEnd == fixed {
			continue // nothing variable to cut
		}
		cut := append([]byte(nil), enc...)
		copy(cut[0:], le32(uint32(dataEnd-1)))
		if err := tc.fresh().Unmarshal(cut); !errors.Is(err, ErrShort) {
			t.Errorf("%s: length %d inside the data gave %v", tc.name, dataEnd-1, err)
		}
	}
}

func TestPacketHugeInnerLength(t *testing.T) {
	// Inner length fields claiming up to 4 GiB must fail cleanly.
	for _, off := range []int{48, 52} {
		enc := (&ReqCall{Key: []byte("k")}).Marshal()
		copy(enc[off:], le32(0xFFFFFFFF))
		if err := new(ReqCall).Unmarshal(enc); !errors.Is(err, ErrShort) {
			t.Errorf("REQ_CALL length at %d = 0xffffffff gave %v", off, err)
		}
	}
	enc := (&ReplyControl{Data: []byte("x")}).Marshal()
	copy(enc[36:], le32(0x7FFFFFFF))
	if err := new(ReplyControl).Unmarshal(enc); !errors.Is(err, ErrShort) {
		t.Errorf("REPLY_CONTROL datalen 0x7fffffff gave %v", err)
	}
	enc = (&ReplyControl{ErrMsg: []byte("x")}).Marshal()
	copy(enc[40:], le32(0xFFFFFFF0))
	if err := new(ReplyControl).Unmarshal(enc); !errors.Is(err, ErrShort) {
		t.Errorf("REPLY_CONTROL errorlen 0xfffffff0 gave %v", err)
	}
}

func TestDMasterRecordFlagsTrailer(t *testing.T) {
	// Without the 4.17 trailer (protocol library, older daemons) the record
	// flags decode as zero; with it they are read.
	req := &ReqDMaster{Header: hdr(1, 0, 1, 2), DBID: 3, RSN: 4, DMaster: 1, Key: []byte("key4"), RecordFlags: 0xdeadbeef}
	enc := req.Marshal() // 72 bytes, trailer at 64
	for _, n := range []int{64, 65, 66, 67} {
		cut := append([]byte(nil), enc...)
		copy(cut[0:], le32(uint32(n)))
		var got ReqDMaster
		if err := got.Unmarshal(cut); err != nil {
			t.Fatalf("length %d: %v", n, err)
		}
		if got.RecordFlags != 0 {
			t.Errorf("REQ_DMASTER length %d: RecordFlags = %#x, want 0 (trailer not covered)", n, got.RecordFlags)
		}
		if string(got.Key) != "key4" || got.RSN != 4 {
			t.Errorf("REQ_DMASTER length %d: decoded %+v", n, got)
		}
	}
	var got ReqDMaster
	if err := got.Unmarshal(enc[:68]); err != nil || got.RecordFlags != 0xdeadbeef {
		t.Errorf("REQ_DMASTER unpadded with trailer: flags %#x err %v", got.RecordFlags, err)
	}
	// Reusing a value must not keep the flags of an earlier packet.
	noTrailer := append([]byte(nil), enc[:64]...)
	copy(noTrailer[0:], le32(64))
	if err := got.Unmarshal(noTrailer); err != nil || got.RecordFlags != 0 {
		t.Errorf("reused ReqDMaster: flags %#x err %v", got.RecordFlags, err)
	}

	rep := &ReplyDMaster{Header: hdr(1, 1, 0, 2), DBID: 3, RSN: 4, Key: []byte("key4"), RecordFlags: 0x01000000}
	enc = rep.Marshal() // 64 bytes, trailer at 60
	var r ReplyDMaster
	cut := append([]byte(nil), enc[:60]...)
	copy(cut[0:], le32(60))
	if err := r.Unmarshal(cut); err != nil || r.RecordFlags != 0 {
		t.Errorf("REPLY_DMASTER without trailer: flags %#x err %v", r.RecordFlags, err)
	}
	if err := r.Unmarshal(enc); err != nil || r.RecordFlags != 0x01000000 {
		t.Errorf("REPLY_DMASTER with trailer: flags %#x err %v", r.RecordFlags, err)
	}
}

func TestKeepaliveOldForm(t *testing.T) {
	// Pre-4.x keepalives are a bare 32-byte header.
	old := cat(le32(32), []byte("BDTC"), le32(1), le32(5), le32(uint32(OpReqKeepalive)), le32(0), le32(1), le32(0))
	k := ReqKeepalive{KeepaliveVersion: 1, Uptime: 2}
	if err := k.Unmarshal(old); err != nil {
		t.Fatal(err)
	}
	if k.KeepaliveVersion != 0 || k.Uptime != 0 || k.Generation != 5 || k.SrcNode != 1 || k.Length != 32 {
		t.Errorf("old keepalive decoded as %+v", k)
	}
}

func TestDecodeHeader(t *testing.T) {
	b := cat(le32(0x1234), le32(Magic), le32(Version), le32(0xa1), le32(0xb2), le32(0xc3), le32(0xd4), le32(0xe5))
	h, err := DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Length: 0x1234, Magic: Magic, Version: Version, Generation: 0xa1, Operation: 0xb2,
		DestNode: 0xc3, SrcNode: 0xd4, ReqID: 0xe5}
	if h != want {
		t.Errorf("DecodeHeader = %+v, want %+v", h, want)
	}
	if _, err := DecodeHeader(b[:31]); !errors.Is(err, ErrShort) {
		t.Errorf("31 bytes: %v", err)
	}

	SetReqID(b, 0x01010101)
	SetDestNode(b, 0x02020202)
	SetSrcNode(b, 0x03030303)
	SetGeneration(b, 0x04040404)
	h, _ = DecodeHeader(b)
	if h.ReqID != 0x01010101 || h.DestNode != 0x02020202 || h.SrcNode != 0x03030303 || h.Generation != 0x04040404 {
		t.Errorf("setters produced %+v", h)
	}
	if h.Length != 0x1234 || h.Operation != 0xb2 {
		t.Errorf("setters touched other fields: %+v", h)
	}
	if op := PacketOp(b[:10]); op != Operation(0xFFFFFFFF) {
		t.Errorf("PacketOp(short) = %v", op)
	}
}

func TestOperationAndOpcodeNames(t *testing.T) {
	ops := map[Operation]string{
		0: "REQ_CALL", 1: "REPLY_CALL", 2: "REQ_DMASTER", 3: "REPLY_DMASTER", 4: "REPLY_ERROR",
		5: "REQ_MESSAGE", 7: "REQ_CONTROL", 8: "REPLY_CONTROL", 9: "REQ_KEEPALIVE", 10: "REQ_TUNNEL", 6: "OP_6",
	}
	for op, name := range ops {
		if op.String() != name {
			t.Errorf("Operation(%d) = %q, want %q", uint32(op), op.String(), name)
		}
	}
	codes := map[Opcode]string{
		ControlProcessExists: "PROCESS_EXISTS", ControlGetPNN: "GET_PNN", ControlTrans3Commit: "TRANS3_COMMIT",
		ControlScheduleForDeletion: "SCHEDULE_FOR_DELETION", ControlEnableNode: "ENABLE_NODE", Opcode(2): "CONTROL_2",
	}
	for c, name := range codes {
		if c.String() != name {
			t.Errorf("Opcode(%d) = %q, want %q", uint32(c), c.String(), name)
		}
	}
	numbers := map[Opcode]uint32{
		ControlGetPNN: 35, ControlTrans3Commit: 119, ControlScheduleForDeletion: 128, ControlGetNodeMap: 91,
		ControlDBAttach: 18, ControlDBAttachPersistent: 61, ControlDBAttachReplicated: 150, ControlCheckPIDSrvID: 151,
		ControlDBVacuum: 155, ControlEchoData: 156, ControlDisableNode: 157, ControlEnableNode: 158,
		ControlTraverseStartExt: 131, ControlGetDBSeqnum: 120, ControlRegisterSrvID: 23, ControlTCPClient: 44,
	}
	for c, n := range numbers {
		if uint32(c) != n {
			t.Errorf("%v = %d, want %d", c, uint32(c), n)
		}
	}
}

func TestBroadcastAndControlHelpers(t *testing.T) {
	for _, p := range []uint32{BroadcastAll, BroadcastActive, BroadcastConnected} {
		if !IsBroadcast(p) {
			t.Errorf("IsBroadcast(%#x) = false", p)
		}
	}
	for _, p := range []uint32{0, 1, CurrentNode, Multicast, UnknownPNN} {
		if IsBroadcast(p) {
			t.Errorf("IsBroadcast(%#x) = true", p)
		}
	}
	if !(&ReqControl{Flags: CtrlFlagNoReply | CtrlFlagPublicIPOnlyAvailable}).NoReply() {
		t.Error("NoReply false with flag set")
	}
	if (&ReqControl{Flags: CtrlFlagPublicIPOnlyAvailable}).NoReply() {
		t.Error("NoReply true without flag")
	}
	r := ReplyControl{Status: -1, ErrMsg: []byte("ctdb_control timed out")}
	if r.Error() != "ctdb_control timed out" {
		t.Errorf("Error() = %q", r.Error())
	}
	r = ReplyControl{Status: -22}
	if r.Error() != "control failed with status -22" {
		t.Errorf("Error() = %q", r.Error())
	}
}
