package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// payloadSeeds returns the encodings of every payload case of type P plus
// any extra seeds.
func payloadSeeds[T any, P decodable[T]](extra ...[]byte) [][]byte {
	var seeds [][]byte
	for _, tc := range payloadCases() {
		if _, ok := tc.in.(P); ok {
			seeds = append(seeds, tc.in.Marshal())
		}
	}
	return append(seeds, extra...)
}

func fuzzPayload[T any, P decodable[T]](f *testing.F, extra ...[]byte) {
	fuzzRoundTrip[T, P](f, payloadSeeds[T, P](extra...), nil, nil)
}

func FuzzNodeMap(f *testing.F) {
	fuzzPayload[NodeMap](f, le32(0), cat(le32(1), make([]byte, 36)))
}
func FuzzVNNMap(f *testing.F) { fuzzPayload[VNNMap](f, cat(le32(1), le32(0xFFFFFFFF))) }
func FuzzDBMap(f *testing.F)  { fuzzPayload[DBMap](f) }
func FuzzRecData(f *testing.F) {
	fuzzPayload[RecData](f, traverseRecordPayload, cat(le32(20), le32(1), le32(1), le32(1), []byte("kd\xff\xff")))
}
func FuzzRecBuffer(f *testing.F) {
	fuzzPayload[RecBuffer](f, captureTrans3Payload, cat(le32(1), le32(1), traverseRecordPayload))
}
func FuzzUptime(f *testing.F)          { fuzzPayload[Uptime](f) }
func FuzzBanState(f *testing.F)        { fuzzPayload[BanState](f) }
func FuzzTransDB(f *testing.F)         { fuzzPayload[TransDB](f) }
func FuzzPullDB(f *testing.F)          { fuzzPayload[PullDB](f) }
func FuzzPullDBExt(f *testing.F)       { fuzzPayload[PullDBExt](f) }
func FuzzNodeFlagChange(f *testing.F)  { fuzzPayload[NodeFlagChange](f) }
func FuzzPidSrvID(f *testing.F)        { fuzzPayload[PidSrvID](f) }
func FuzzDBVacuum(f *testing.F)        { fuzzPayload[DBVacuum](f, []byte{1, 2, 3, 4, 2}) }
func FuzzEchoData(f *testing.F)        { fuzzPayload[EchoData](f) }
func FuzzNotifyData(f *testing.F)      { fuzzPayload[NotifyData](f) }
func FuzzKeyData(f *testing.F)         { fuzzPayload[KeyData](f, captureSchedulePayload) }
func FuzzSrvIDMessage(f *testing.F)    { fuzzPayload[SrvIDMessage](f) }
func FuzzDisableMessage(f *testing.F)  { fuzzPayload[DisableMessage](f) }
func FuzzElectionMessage(f *testing.F) { fuzzPayload[ElectionMessage](f) }
func FuzzGLockList(f *testing.F)       { fuzzPayload[GLockList](f, nil) }
func FuzzTraverseStart(f *testing.F)   { fuzzPayload[TraverseStart](f) }
func FuzzTraverseStartExt(f *testing.F) {
	fuzzPayload[TraverseStartExt](f)
}
func FuzzTraverseAll(f *testing.F)    { fuzzPayload[TraverseAll](f) }
func FuzzTraverseAllExt(f *testing.F) { fuzzPayload[TraverseAllExt](f) }
func FuzzPublicIP(f *testing.F)       { fuzzPayload[PublicIP](f) }
func FuzzPublicIPList(f *testing.F)   { fuzzPayload[PublicIPList](f) }
func FuzzIface(f *testing.F) {
	fuzzPayload[Iface](f, cat([]byte("abcdefghijklmnopqr"), le16(1), le32(2)))
}
func FuzzIfaceList(f *testing.F)    { fuzzPayload[IfaceList](f) }
func FuzzPublicIPInfo(f *testing.F) { fuzzPayload[PublicIPInfo](f) }
func FuzzAddrInfo(f *testing.F)     { fuzzPayload[AddrInfo](f) }
func FuzzConnection(f *testing.F)   { fuzzPayload[Connection](f) }
func FuzzTickleList(f *testing.F)   { fuzzPayload[TickleList](f) }
func FuzzSetTunable(f *testing.F) {
	fuzzPayload[SetTunable](f, cat(le32(7), le32(10), []byte("EnableBans")))
}
func FuzzVarList(f *testing.F) {
	fuzzPayload[VarList](f, (&VarList{Names: ListedTunables()}).Marshal(), cat(le32(9), []byte("::A:::B::")))
}

func FuzzTunableList(f *testing.F) {
	def := DefaultTunables()
	fuzzPayload[TunableList](f, def.Marshal())
}

func FuzzStatistics(f *testing.F) {
	var s Statistics
	statisticsLayout(&s).fill(StatisticsSize)
	fuzzPayload[Statistics](f, s.Marshal(), make([]byte, StatisticsSize))
}

func FuzzStatisticsList(f *testing.F) {
	var s Statistics
	statisticsLayout(&s).fill(StatisticsSize)
	fuzzPayload[StatisticsList](f, (&StatisticsList{Stats: []Statistics{s, {}}}).Marshal(), make([]byte, 8))
}

// DBStatistics always encodes ten hot key slots, so a decoded value with
// fewer keys comes back with empty ones appended.
func FuzzDBStatistics(f *testing.F) {
	var s DBStatistics
	dbStatisticsLayout(&s).fill(dbStatisticsFixed)
	s.HotKeys = []HotKey{{Count: 1, Key: []byte("alpha")}, {Count: 2, Key: []byte("b")}}
	fewer := s.Marshal()
	copy(fewer[216:], le32(1))
	seeds := [][]byte{s.Marshal(), fewer, (&DBStatistics{}).Marshal()}
	fuzzRoundTrip[DBStatistics](f, seeds, func(x, y *DBStatistics) string {
		if len(y.HotKeys) != MaxHotKeys || len(x.HotKeys) > MaxHotKeys {
			return fmt.Sprintf("hot keys %d then %d", len(x.HotKeys), len(y.HotKeys))
		}
		for i := len(x.HotKeys); i < MaxHotKeys; i++ {
			if y.HotKeys[i].Count != 0 || len(y.HotKeys[i].Key) != 0 {
				return fmt.Sprintf("unused hot key %d = %+v", i, y.HotKeys[i])
			}
		}
		xx, yy := *x, *y
		yy.HotKeys = yy.HotKeys[:len(x.HotKeys)]
		return diff(reflect.ValueOf(xx), reflect.ValueOf(yy), "")
	}, nil)
}

// LtdbHeader, SockAddr and stringn have free functions rather than
// Unmarshal methods.

func FuzzLtdbHeader(f *testing.F) {
	f.Add(ltdb(3, 1, 2, RecFlagMigratedWithData))
	f.Add(cat(ltdb(1, 0, 0, 0), []byte("VALUE")))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeLtdbHeader(b)
		if err != nil {
			if len(b) >= LtdbHeaderSize || !errors.Is(err, ErrShort) {
				t.Fatalf("%d bytes: %v", len(b), err)
			}
			return
		}
		enc := h.AppendTo(nil)
		if len(enc) != LtdbHeaderSize || !bytes.Equal(enc[:20], b[:20]) || !bytes.Equal(enc[20:], make([]byte, 4)) {
			t.Fatalf("header re-encodes as %x from %x", enc, b[:LtdbHeaderSize])
		}
		if h2, err := DecodeLtdbHeader(enc); err != nil || h2 != h {
			t.Fatalf("round trip %+v -> %+v, %v", h, h2, err)
		}
	})
}

func FuzzSockAddr(f *testing.F) {
	for _, s := range []SockAddr{addrA, addrB, addrC, addrD, {}, {Family: 99}} {
		f.Add(s.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSockAddr(b)
		if err != nil {
			if len(b) >= SockAddrSize {
				t.Fatalf("%d bytes: %v", len(b), err)
			}
			return
		}
		enc := s.AppendTo(nil)
		if len(enc) != SockAddrSize {
			t.Fatalf("encoded %d bytes", len(enc))
		}
		s2, err := DecodeSockAddr(enc)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "sock addr", s2, s)
		if !bytes.Equal(s2.AppendTo(nil), enc) {
			t.Fatal("encoding not stable")
		}
		switch s.Family {
		case AFInet:
			if !s.Addr.Is4() || !bytes.Equal(enc[:8], b[:8]) {
				t.Fatalf("IPv4 %v re-encodes as %x", s, enc)
			}
		case AFInet6:
			if !s.Addr.Is6() || !bytes.Equal(enc, b[:SockAddrSize]) {
				t.Fatalf("IPv6 %v re-encodes as %x", s, enc)
			}
		}
		_ = s.String()
	})
}

func FuzzStringN(f *testing.F) {
	f.Add(StringN("ControlTimeout"))
	f.Add(cat(le32(4), []byte("Abcd")))
	f.Add(StringN(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStringN(b)
		if err != nil {
			return
		}
		if len(s)+4 > len(b) {
			t.Fatalf("decoded %d bytes of text from %d bytes", len(s), len(b))
		}
		enc := StringN(s)
		if s2, err := ParseStringN(enc); err != nil || s2 != s {
			t.Fatalf("round trip %q -> %q, %v", s, s2, err)
		}
	})
}

func FuzzScalars(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte("text\x00more"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseU32(b); err == nil {
			if !bytes.Equal(U32(v), b[:4]) {
				t.Fatal("u32 round trip")
			}
		} else if len(b) >= 4 {
			t.Fatal(err)
		}
		if v, err := ParseU64(b); err == nil {
			if !bytes.Equal(U64(v), b[:8]) {
				t.Fatal("u64 round trip")
			}
		} else if len(b) >= 8 {
			t.Fatal(err)
		}
		s := ParseCString(b)
		if !bytes.HasPrefix(b, []byte(s)) || bytes.IndexByte([]byte(s), 0) >= 0 {
			t.Fatalf("ParseCString(%q) = %q", b, s)
		}
		if ParseCString(CString(s)) != s {
			t.Fatal("CString round trip")
		}
	})
}
