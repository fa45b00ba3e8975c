package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// codec is what every payload type implements.
type codec interface {
	Marshal() []byte
	Unmarshal([]byte) error
}

type payloadCase struct {
	name  string
	in    codec
	fresh func() codec
	size  int      // exact encoded size
	at    []at     // expected bytes at payload offsets
	pads  [][2]int // [from, to) ranges that must be zero
}

// Distinct addresses used throughout.
var (
	addrA = v4("127.99.0.1", 4379)
	addrB = v4("192.168.17.42", 445)
	addrC = v6("fd00::1:2:3", 0x1b11, 0x00abcdef, 7)
	addrD = v6("2001:db8::dead:beef", 139, 0, 0)
)

// sa returns the expected 28-byte encoding of an address.
func sa(s SockAddr) []byte {
	b := make([]byte, 28)
	copy(b[0:], le16(s.Family))
	copy(b[2:], be16(s.Port))
	if s.Family == AFInet {
		a := s.Addr.As4()
		copy(b[4:], a[:])
	} else {
		copy(b[4:], le32(s.FlowInfo))
		a := s.Addr.As16()
		copy(b[8:], a[:])
		copy(b[24:], le32(s.ScopeID))
	}
	return b
}

// ltdb returns the expected 24-byte encoding of an ltdb header.
func ltdb(rsn uint64, dmaster, reserved, flags uint32) []byte {
	return cat(le64(rsn), le32(dmaster), le32(reserved), le32(flags), make([]byte, 4))
}

func payloadCases() []payloadCase {
	hdrBytes := ltdb(2, 0, 0, 0)
	rec1 := RecData{ReqID: 0, Key: []byte("key1\x00"), Data: cat(ltdb(1, 0, 0, 0), le32(42))}
	rec2 := RecData{ReqID: 0x0b0c, Key: DBSeqnumKey, Data: cat(ltdb(1, 0, 0, 0), le64(1))}
	ifaces := []Iface{
		{Name: "eth0", LinkState: 1, References: 0x01020304},
		{Name: "enp0s31f6-long16", LinkState: 0, References: 9},
	}
	return []payloadCase{
		{
			name: "NodeMap two nodes",
			in: &NodeMap{Nodes: []NodeInfo{
				{PNN: 0x10, Flags: NodeFlagBanned | NodeFlagStopped, Addr: addrA},
				{PNN: 0x11, Flags: NodeFlagDeleted, Addr: addrC},
			}},
			fresh: func() codec { return new(NodeMap) },
			size:  4 + 36*2,
			at: []at{{0, le32(2)}, {4, le32(0x10)}, {8, le32(0x28)}, {12, sa(addrA)},
				{40, le32(0x11)}, {44, le32(0x10)}, {48, sa(addrC)}},
		},
		{name: "NodeMap empty", in: &NodeMap{}, fresh: func() codec { return new(NodeMap) }, size: 4, at: []at{{0, le32(0)}}},
		{
			name:  "VNNMap",
			in:    &VNNMap{Generation: 0x6a2b000e, Map: []uint32{1, 0, 2, 5}},
			fresh: func() codec { return new(VNNMap) },
			size:  8 + 16,
			at:    []at{{0, le32(0x6a2b000e)}, {4, le32(4)}, {8, le32(1)}, {12, le32(0)}, {16, le32(2)}, {20, le32(5)}},
		},
		{
			name:  "DBMap",
			in:    &DBMap{DBs: []DBInfo{{DBID: 0x7a19d84d, Flags: DBFlagReadonly | DBFlagSticky}, {DBID: 0x6cf2837d, Flags: DBFlagPersistent | DBFlagReplicated}}},
			fresh: func() codec { return new(DBMap) },
			size:  4 + 16,
			at:    []at{{0, le32(2)}, {4, le32(0x7a19d84d)}, {8, []byte{0x06}}, {12, le32(0x6cf2837d)}, {16, []byte{0x09}}},
			pads:  [][2]int{{9, 12}, {17, 20}},
		},
		{
			name:  "RecData traverse record",
			in:    &RecData{ReqID: 77, Key: []byte("key4"), Data: cat(hdrBytes, []byte("VALUE-4"))},
			fresh: func() codec { return new(RecData) },
			size:  51,
			at: []at{{0, le32(51)}, {4, le32(77)}, {8, le32(4)}, {12, le32(31)}, {16, []byte("key4")},
				{20, hdrBytes}, {44, []byte("VALUE-4")}},
		},
		{
			name:  "RecData end marker",
			in:    &RecData{ReqID: 77},
			fresh: func() codec { return new(RecData) },
			size:  16,
			at:    []at{{0, le32(16)}, {4, le32(77)}, {8, le32(0)}, {12, le32(0)}},
		},
		{
			name:  "RecBuffer TRANS3 records",
			in:    &RecBuffer{DBID: 0xecbcf3e6, Records: []RecData{rec1, rec2}},
			fresh: func() codec { return new(RecBuffer) },
			size:  128,
			at: []at{{0, le32(0xecbcf3e6)}, {4, le32(2)}, {8, le32(49)}, {12, le32(0)}, {16, le32(5)}, {20, le32(28)},
				{24, []byte("key1\x00")}, {29, ltdb(1, 0, 0, 0)}, {53, le32(42)},
				{57, le32(71)}, {61, le32(0x0b0c)}, {65, le32(23)}, {69, le32(32)}, {73, DBSeqnumKey}, {96, ltdb(1, 0, 0, 0)}, {120, le64(1)}},
		},
		{name: "RecBuffer empty", in: &RecBuffer{DBID: 5}, fresh: func() codec { return new(RecBuffer) }, size: 8, at: []at{{0, le32(5)}, {4, le32(0)}}},
		{
			name: "Uptime",
			in: &Uptime{CurrentTime: Timeval{1700000001, 11}, StartTime: Timeval{1700000002, 22},
				LastRecoveryStarted: Timeval{1700000003, 33}, LastRecoveryFinished: Timeval{1700000004, 44}},
			fresh: func() codec { return new(Uptime) },
			size:  64,
			at: []at{{0, le64(1700000001)}, {8, le64(11)}, {16, le64(1700000002)}, {24, le64(22)},
				{32, le64(1700000003)}, {40, le64(33)}, {48, le64(1700000004)}, {56, le64(44)}},
		},
		{name: "BanState", in: &BanState{PNN: 3, Time: 300}, fresh: func() codec { return new(BanState) }, size: 8, at: []at{{0, le32(3)}, {4, le32(300)}}},
		{name: "TransDB", in: &TransDB{DBID: 0x6645c6c4, TID: 0x6a2b000f}, fresh: func() codec { return new(TransDB) }, size: 8, at: []at{{0, le32(0x6645c6c4)}, {4, le32(0x6a2b000f)}}},
		{name: "PullDB", in: &PullDB{DBID: 0x1858991f, LMaster: LMasterAny}, fresh: func() codec { return new(PullDB) }, size: 8, at: []at{{0, le32(0x1858991f)}, {4, le32(0xffffffff)}}},
		{
			name:  "PullDBExt",
			in:    &PullDBExt{DBID: 0xe5e87e03, LMaster: 2, SrvID: SrvIDRecovery + 7},
			fresh: func() codec { return new(PullDBExt) },
			size:  16,
			at:    []at{{0, le32(0xe5e87e03)}, {4, le32(2)}, {8, le64(0xF001000000000007)}},
		},
		{
			name:  "NodeFlagChange",
			in:    &NodeFlagChange{PNN: 1, NewFlags: 0x21, OldFlags: 0x04},
			fresh: func() codec { return new(NodeFlagChange) },
			size:  12,
			at:    []at{{0, le32(1)}, {4, le32(0x21)}, {8, le32(0x04)}},
		},
		{
			name:  "PidSrvID packed",
			in:    &PidSrvID{PID: -2, SrvID: 0xFE00000000000002},
			fresh: func() codec { return new(PidSrvID) },
			size:  PidSrvIDSize,
			at:    []at{{0, le32(0xfffffffe)}, {4, le64(0xFE00000000000002)}},
		},
		{name: "DBVacuum", in: &DBVacuum{DBID: 0x4e66c2b2, FullVacuumRun: true}, fresh: func() codec { return new(DBVacuum) }, size: 5, at: []at{{0, le32(0x4e66c2b2)}, {4, []byte{1}}}},
		{name: "DBVacuum false", in: &DBVacuum{DBID: 9}, fresh: func() codec { return new(DBVacuum) }, size: 5, at: []at{{0, le32(9)}, {4, []byte{0}}}},
		{
			name:  "EchoData",
			in:    &EchoData{Timeout: 1500, Buf: []byte("ping-pong")},
			fresh: func() codec { return new(EchoData) },
			size:  8 + 9,
			at:    []at{{0, le32(1500)}, {4, le32(9)}, {8, []byte("ping-pong")}},
		},
		{
			name:  "NotifyData",
			in:    &NotifyData{SrvID: 0xFE00000000000000, Data: []byte{9, 8, 7}},
			fresh: func() codec { return new(NotifyData) },
			size:  12 + 3,
			at:    []at{{0, le64(0xFE00000000000000)}, {8, le32(3)}, {12, []byte{9, 8, 7}}},
		},
		{
			name:  "KeyData",
			in:    &KeyData{DBID: 0x4d2a432b, Header: LtdbHeader{RSN: 3, DMaster: 1, Reserved1: 2, Flags: RecFlagAutomatic}, Key: []byte("some key\x00")},
			fresh: func() codec { return new(KeyData) },
			size:  36 + 9,
			at:    []at{{0, le32(0x4d2a432b)}, {8, ltdb(3, 1, 2, 0x00040000)}, {32, le32(9)}, {36, []byte("some key\x00")}},
			pads:  [][2]int{{4, 8}, {28, 32}},
		},
		{
			name:  "SrvIDMessage",
			in:    &SrvIDMessage{PNN: 2, SrvID: 0xCE00000000000123},
			fresh: func() codec { return new(SrvIDMessage) },
			size:  16,
			at:    []at{{0, le32(2)}, {8, le64(0xCE00000000000123)}},
			pads:  [][2]int{{4, 8}},
		},
		{
			name:  "DisableMessage",
			in:    &DisableMessage{PNN: 1, SrvID: 0xCE00000000000456, Timeout: 60},
			fresh: func() codec { return new(DisableMessage) },
			size:  24,
			at:    []at{{0, le32(1)}, {8, le64(0xCE00000000000456)}, {16, le32(60)}},
			pads:  [][2]int{{4, 8}, {20, 24}},
		},
		{
			name:  "ElectionMessage",
			in:    &ElectionMessage{NumConnected: 2, PriorityTime: Timeval{Sec: 1700000000, Usec: 123456}, PNN: 1, NodeFlags: 0x02},
			fresh: func() codec { return new(ElectionMessage) },
			size:  32,
			at:    []at{{0, le32(2)}, {8, le64(1700000000)}, {16, le64(123456)}, {24, le32(1)}, {28, le32(2)}},
			pads:  [][2]int{{4, 8}},
		},
		{
			name: "GLockList",
			in: &GLockList{Locks: []GLock{
				{Type: GLockWrite, SID: ServerID{PID: 0x1111, TaskID: 0x22, VNN: 3, UniqueID: 0x4444444444}},
				{Type: GLockRead, SID: ServerID{PID: 0x5555, TaskID: 0x66, VNN: 7, UniqueID: 0x8888888888}},
			}},
			fresh: func() codec { return new(GLockList) },
			size:  64,
			at: []at{{0, le32(1)}, {8, le64(0x1111)}, {16, le32(0x22)}, {20, le32(3)}, {24, le64(0x4444444444)},
				{32, le32(0)}, {40, le64(0x5555)}, {48, le32(0x66)}, {52, le32(7)}, {56, le64(0x8888888888)}},
			pads: [][2]int{{4, 8}, {36, 40}},
		},
		{
			name:  "TraverseStart",
			in:    &TraverseStart{DBID: 0xe64b579e, ReqID: 77, SrvID: 0xBE00000000004321},
			fresh: func() codec { return new(TraverseStart) },
			size:  16,
			at:    []at{{0, le32(0xe64b579e)}, {4, le32(77)}, {8, le64(0xBE00000000004321)}},
		},
		{
			name:  "TraverseStartExt",
			in:    &TraverseStartExt{DBID: 0xe64b579e, ReqID: 78, SrvID: 0xBE00000000004322, WithEmptyRecords: true},
			fresh: func() codec { return new(TraverseStartExt) },
			size:  24,
			at:    []at{{0, le32(0xe64b579e)}, {4, le32(78)}, {8, le64(0xBE00000000004322)}, {16, []byte{1}}},
			pads:  [][2]int{{17, 24}},
		},
		{
			name:  "TraverseAll",
			in:    &TraverseAll{DBID: 0xa1, ReqID: 0xb2, PNN: 0xc3, ClientReqID: 0xd4, SrvID: 0xe5e5e5e5e5},
			fresh: func() codec { return new(TraverseAll) },
			size:  24,
			at:    []at{{0, le32(0xa1)}, {4, le32(0xb2)}, {8, le32(0xc3)}, {12, le32(0xd4)}, {16, le64(0xe5e5e5e5e5)}},
		},
		{
			name:  "TraverseAllExt",
			in:    &TraverseAllExt{TraverseAll: TraverseAll{DBID: 0xa1, ReqID: 0xb2, PNN: 0xc3, ClientReqID: 0xd4, SrvID: 0xf6}, WithEmptyRecords: true},
			fresh: func() codec { return new(TraverseAllExt) },
			size:  32,
			at:    []at{{0, le32(0xa1)}, {4, le32(0xb2)}, {8, le32(0xc3)}, {12, le32(0xd4)}, {16, le64(0xf6)}, {24, []byte{1}}},
			pads:  [][2]int{{25, 32}},
		},
		{name: "PublicIP", in: &PublicIP{PNN: UnknownPNN, Addr: addrB}, fresh: func() codec { return new(PublicIP) }, size: 32, at: []at{{0, le32(0xffffffff)}, {4, sa(addrB)}}},
		{
			name:  "PublicIPList",
			in:    &PublicIPList{IPs: []PublicIP{{PNN: 1, Addr: addrB}, {PNN: 0, Addr: addrD}}},
			fresh: func() codec { return new(PublicIPList) },
			size:  4 + 64,
			at:    []at{{0, le32(2)}, {4, le32(1)}, {8, sa(addrB)}, {36, le32(0)}, {40, sa(addrD)}},
		},
		{
			name:  "Iface",
			in:    &ifaces[0],
			fresh: func() codec { return new(Iface) },
			size:  24,
			at:    []at{{0, []byte("eth0")}, {18, le16(1)}, {20, le32(0x01020304)}},
			pads:  [][2]int{{5, 18}},
		},
		{
			name:  "IfaceList",
			in:    &IfaceList{Ifaces: ifaces},
			fresh: func() codec { return new(IfaceList) },
			size:  4 + 48,
			at:    []at{{0, le32(2)}, {4, []byte("eth0\x00")}, {22, le16(1)}, {24, le32(0x01020304)}, {28, []byte("enp0s31f6-long16\x00")}, {46, le16(0)}, {48, le32(9)}},
		},
		{
			name:  "PublicIPInfo",
			in:    &PublicIPInfo{IP: PublicIP{PNN: 1, Addr: addrB}, ActiveIdx: 1, Ifaces: ifaces},
			fresh: func() codec { return new(PublicIPInfo) },
			size:  40 + 48,
			at:    []at{{0, le32(1)}, {4, sa(addrB)}, {32, le32(1)}, {36, le32(2)}, {40, []byte("eth0\x00")}, {64, []byte("enp0s31f6-long16\x00")}, {84, le32(9)}},
		},
		{
			name:  "AddrInfo",
			in:    &AddrInfo{Addr: addrB, Mask: 24, Iface: "eth1"},
			fresh: func() codec { return new(AddrInfo) },
			size:  28 + 4 + 4 + 5,
			at:    []at{{0, sa(addrB)}, {28, le32(24)}, {32, le32(5)}, {36, []byte("eth1\x00")}},
		},
		{
			name:  "Connection",
			in:    &Connection{Src: addrB, Dst: addrA},
			fresh: func() codec { return new(Connection) },
			size:  ConnectionSize,
			at:    []at{{0, sa(addrB)}, {28, sa(addrA)}},
		},
		{
			name:  "TickleList",
			in:    &TickleList{Addr: addrA, Conns: []Connection{{Src: addrB, Dst: addrA}, {Src: addrD, Dst: addrC}}},
			fresh: func() codec { return new(TickleList) },
			size:  28 + 4 + 112,
			at:    []at{{0, sa(addrA)}, {28, le32(2)}, {32, sa(addrB)}, {60, sa(addrA)}, {88, sa(addrD)}, {116, sa(addrC)}},
		},
		{
			name:  "SetTunable",
			in:    &SetTunable{Name: "ControlTimeout", Value: 0x1234},
			fresh: func() codec { return new(SetTunable) },
			size:  4 + 4 + 15,
			at:    []at{{0, le32(0x1234)}, {4, le32(15)}, {8, []byte("ControlTimeout\x00")}},
		},
		{
			name:  "VarList",
			in:    &VarList{Names: []string{"SeqnumInterval", "ControlTimeout"}},
			fresh: func() codec { return new(VarList) },
			size:  4 + 31,
			at:    []at{{0, le32(31)}, {4, []byte(":SeqnumInterval:ControlTimeout\x00")}},
		},
		{
			name:  "VarList empty",
			in:    &VarList{},
			fresh: func() codec { return new(VarList) },
			size:  5,
			at:    []at{{0, le32(1)}, {4, []byte{0}}},
		},
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, tc := range payloadCases() {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.in.Marshal()
			if len(enc) != tc.size {
				t.Fatalf("encoded %d bytes, want %d: %x", len(enc), tc.size, enc)
			}
			checkAt(t, "encoding", enc, tc.at)
			for _, p := range tc.pads {
				checkZero(t, "padding", enc, p[0], p[1])
			}
			got := tc.fresh()
			if err := got.Unmarshal(enc); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			mustEqual(t, "round trip", got, tc.in)
			if again := got.Marshal(); !bytes.Equal(again, enc) {
				t.Errorf("re-encoding differs:\n got  %x\n want %x", again, enc)
			}
		})
	}
}

// Every payload must refuse every strict prefix of its encoding: none of
// them may silently decode a truncated buffer.
func TestPayloadRejectsPrefixes(t *testing.T) {
	for _, tc := range payloadCases() {
		if _, ok := tc.in.(*GLockList); ok {
			continue // a list without a count: see TestGLockListLength
		}
		enc := tc.in.Marshal()
		for n := 0; n < len(enc); n++ {
			if err := tc.fresh().Unmarshal(enc[:n]); err == nil {
				t.Errorf("%s: accepted a %d-byte prefix of %d bytes", tc.name, n, len(enc))
			}
		}
	}
}

func TestPayloadPaddingIgnored(t *testing.T) {
	// Padding inside structures is don't-care on input: ctdbd and Samba
	// copy structures from memory.
	for _, tc := range payloadCases() {
		if len(tc.pads) == 0 {
			continue
		}
		enc := tc.in.Marshal()
		for _, p := range tc.pads {
			for i := p[0]; i < p[1]; i++ {
				enc[i] = 0xEE
			}
		}
		got := tc.fresh()
		if err := got.Unmarshal(enc); err != nil {
			t.Errorf("%s: dirty padding: %v", tc.name, err)
			continue
		}
		mustEqual(t, tc.name+" dirty padding", got, tc.in)
	}
}

func TestBoolFieldsStrict(t *testing.T) {
	// ctdb's bool pull rejects anything but 0 and 1.
	cases := []struct {
		name  string
		enc   []byte
		off   int
		fresh func() codec
	}{
		{"DBVacuum", (&DBVacuum{DBID: 1}).Marshal(), 4, func() codec { return new(DBVacuum) }},
		{"TraverseStartExt", (&TraverseStartExt{DBID: 1}).Marshal(), 16, func() codec { return new(TraverseStartExt) }},
		{"TraverseAllExt", (&TraverseAllExt{}).Marshal(), 24, func() codec { return new(TraverseAllExt) }},
	}
	for _, c := range cases {
		for _, v := range []byte{2, 0x80, 0xff} {
			b := append([]byte(nil), c.enc...)
			b[c.off] = v
			if err := c.fresh().Unmarshal(b); err == nil {
				t.Errorf("%s accepted bool byte %#x", c.name, v)
			}
		}
	}
}

func TestLtdbHeader(t *testing.T) {
	h := LtdbHeader{RSN: 0x0102030405060708, DMaster: 0x11, Reserved1: 0x22, Flags: RecFlagRORevokeComplete | RecFlagMigratedWithData}
	prefix := []byte("pre")
	enc := h.AppendTo(prefix)
	if len(enc) != 3+LtdbHeaderSize || LtdbHeaderSize != 24 {
		t.Fatalf("AppendTo gave %d bytes", len(enc))
	}
	if !bytes.Equal(enc[:3], []byte("pre")) {
		t.Errorf("AppendTo clobbered the prefix")
	}
	body := enc[3:]
	checkAt(t, "ltdb header", body, []at{{0, le64(0x0102030405060708)}, {8, le32(0x11)}, {12, le32(0x22)}, {16, le32(0x08010000)}})
	checkZero(t, "ltdb padding", body, 20, 24)

	got, err := DecodeLtdbHeader(body)
	if err != nil || got != h {
		t.Errorf("DecodeLtdbHeader = %+v, %v", got, err)
	}
	// Samba copies its in-memory struct, so the padding may be garbage.
	dirty := append([]byte(nil), body...)
	copy(dirty[20:], []byte{0xde, 0xad, 0xbe, 0xef})
	if got, err := DecodeLtdbHeader(dirty); err != nil || got != h {
		t.Errorf("dirty padding: %+v, %v", got, err)
	}
	// A record value longer than the header decodes the header alone.
	if got, err := DecodeLtdbHeader(append(body, "VALUE"...)); err != nil || got != h {
		t.Errorf("header + value: %+v, %v", got, err)
	}
	for n := 0; n < LtdbHeaderSize; n++ {
		if _, err := DecodeLtdbHeader(body[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestRecDataLengthField(t *testing.T) {
	r := RecData{ReqID: 5, Key: []byte("k"), Data: []byte("dd")}
	enc := r.Marshal()
	if r.Len() != 19 || len(enc) != 19 {
		t.Fatalf("Len %d, encoded %d", r.Len(), len(enc))
	}
	// A length smaller than 16+keylen+datalen is corrupt.
	bad := append([]byte(nil), enc...)
	copy(bad, le32(18))
	if err := new(RecData).Unmarshal(bad); err == nil {
		t.Error("accepted length 18 for a 19-byte record")
	}
	// A length beyond the buffer is corrupt.
	bad = append([]byte(nil), enc...)
	copy(bad, le32(20))
	if err := new(RecData).Unmarshal(bad); err == nil {
		t.Error("accepted length 20 in a 19-byte buffer")
	}
	// A length covering extra bytes is allowed; the buffer walk uses it.
	long := cat(le32(23), enc[4:], []byte{0xaa, 0xbb, 0xcc, 0xdd})
	var got RecData
	if err := got.Unmarshal(long); err != nil {
		t.Fatalf("length 23: %v", err)
	}
	mustEqual(t, "long record", got, r)

	// In a buffer the next record starts where the length field says.
	buf := cat(le32(1), le32(2), long, (&RecData{ReqID: 6, Key: []byte("second")}).Marshal())
	var rb RecBuffer
	if err := rb.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	if len(rb.Records) != 2 || string(rb.Records[1].Key) != "second" || rb.Records[1].ReqID != 6 {
		t.Errorf("buffer walk decoded %+v", rb.Records)
	}
	if !(&RecData{ReqID: 3}).IsEndMarker() || r.IsEndMarker() {
		t.Error("IsEndMarker wrong")
	}
}

func TestRecBufferCountTooLarge(t *testing.T) {
	enc := (&RecBuffer{DBID: 1, Records: []RecData{{Key: []byte("a")}}}).Marshal()
	copy(enc[4:], le32(2))
	if err := new(RecBuffer).Unmarshal(enc); err == nil {
		t.Error("count 2 with one record accepted")
	}
	copy(enc[4:], le32(0xFFFFFFFF))
	if err := new(RecBuffer).Unmarshal(enc); !errors.Is(err, ErrShort) {
		t.Errorf("count 0xffffffff: %v", err)
	}
}

func TestGLockListLength(t *testing.T) {
	l := GLockList{Locks: []GLock{{Type: GLockWrite, SID: ServerID{PID: 1, TaskID: 2, VNN: 3, UniqueID: 4}}}}
	enc := l.Marshal()
	for _, n := range []int{1, 31, 33, 63} {
		b := append(append([]byte(nil), enc...), make([]byte, 32)...)[:n]
		if err := new(GLockList).Unmarshal(b); err == nil {
			t.Errorf("%d bytes accepted", n)
		}
	}
	var got GLockList
	if err := got.Unmarshal(nil); err != nil || len(got.Locks) != 0 {
		t.Errorf("empty list: %+v %v", got, err)
	}
}

func TestIfaceName(t *testing.T) {
	// The name field is 18 bytes and its last byte is always a terminator.
	raw := cat([]byte("abcdefghijklmnopqr"), le16(1), le32(2))
	var i Iface
	if err := i.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if i.Name != "abcdefghijklmnopq" || i.LinkState != 1 || i.References != 2 {
		t.Errorf("decoded %+v", i)
	}
	mustEqual(t, "re-decoded", func() Iface { var j Iface; _ = j.Unmarshal(i.Marshal()); return j }(), i)

	// Bytes after the NUL are ignored.
	raw = cat([]byte("lo\x00garbage-garbage"), le16(0), le32(0))
	if err := i.Unmarshal(raw); err != nil || i.Name != "lo" {
		t.Errorf("decoded %+v, %v", i, err)
	}
}

func TestMapHelpers(t *testing.T) {
	m := NodeMap{Nodes: []NodeInfo{{PNN: 0, Addr: addrA}, {PNN: 3, Flags: 1, Addr: addrB}}}
	if n, ok := m.Node(3); !ok || n.Flags != 1 || n.Addr != addrB {
		t.Errorf("Node(3) = %+v, %v", n, ok)
	}
	if _, ok := m.Node(1); ok {
		t.Error("Node(1) found")
	}
	v := VNNMap{Generation: 2, Map: []uint32{4, 5, 6}}
	for hash, want := range map[uint32]uint32{0: 4, 1: 5, 2: 6, 3: 4, 0xdeadbeef: []uint32{4, 5, 6}[0xdeadbeef%3]} {
		if got := v.LMaster(hash); got != want {
			t.Errorf("LMaster(%#x) = %d, want %d", hash, got, want)
		}
	}
	if got := (&VNNMap{}).LMaster(7); got != UnknownPNN {
		t.Errorf("LMaster on empty map = %d", got)
	}
}

func TestScalarHelpers(t *testing.T) {
	if !bytes.Equal(U32(0x01020304), []byte{4, 3, 2, 1}) {
		t.Errorf("U32 = %x", U32(0x01020304))
	}
	if !bytes.Equal(U64(0x0102030405060708), []byte{8, 7, 6, 5, 4, 3, 2, 1}) {
		t.Errorf("U64 = %x", U64(0x0102030405060708))
	}
	if v, err := ParseU32([]byte{4, 3, 2, 1, 9}); err != nil || v != 0x01020304 {
		t.Errorf("ParseU32 = %#x, %v", v, err)
	}
	if v, err := ParseU64([]byte{8, 7, 6, 5, 4, 3, 2, 1}); err != nil || v != 0x0102030405060708 {
		t.Errorf("ParseU64 = %#x, %v", v, err)
	}
	if _, err := ParseU32([]byte{1, 2, 3}); !errors.Is(err, ErrShort) {
		t.Errorf("ParseU32 short: %v", err)
	}
	if _, err := ParseU64(make([]byte, 7)); !errors.Is(err, ErrShort) {
		t.Errorf("ParseU64 short: %v", err)
	}
	if !bytes.Equal(CString("ab"), []byte("ab\x00")) || !bytes.Equal(CString(""), []byte{0}) {
		t.Error("CString")
	}
	for in, want := range map[string]string{"ab\x00cd": "ab", "abc": "abc", "": "", "\x00": ""} {
		if got := ParseCString([]byte(in)); got != want {
			t.Errorf("ParseCString(%q) = %q, want %q", in, got, want)
		}
	}
	for n, want := range map[int]int{0: 0, 1: 8, 7: 8, 8: 8, 9: 16, 60: 64, 82: 88, 95: 96} {
		if got := Align8(n); got != want {
			t.Errorf("Align8(%d) = %d, want %d", n, got, want)
		}
	}
}
