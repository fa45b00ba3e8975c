package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

// statLayout assigns a distinct value to every field of s and returns what
// the encoding must hold at each offset of reference §4.11.
type statLayout struct {
	u32s     map[int]*uint32
	latency  map[int]*LatencyCounter
	buckets  map[int]*[MaxCountBuckets]uint32
	timevals map[int]*Timeval
}

func statisticsLayout(s *Statistics) statLayout {
	return statLayout{
		u32s: map[int]*uint32{
			0: &s.NumClients, 4: &s.Frozen, 8: &s.Recovering, 12: &s.ClientPacketsSent, 16: &s.ClientPacketsRecv,
			20: &s.NodePacketsSent, 24: &s.NodePacketsRecv, 28: &s.KeepalivePacketsSent, 32: &s.KeepalivePacketsRecv,
			36: &s.Node.ReqCall, 40: &s.Node.ReplyCall, 44: &s.Node.ReqDMaster, 48: &s.Node.ReplyDMaster,
			52: &s.Node.ReplyError, 56: &s.Node.ReqMessage, 60: &s.Node.ReqControl, 64: &s.Node.ReplyControl,
			68: &s.Node.ReqTunnel, 72: &s.Client.ReqCall, 76: &s.Client.ReqMessage, 80: &s.Client.ReqControl,
			84: &s.Client.ReqTunnel, 88: &s.TimeoutsCall, 92: &s.TimeoutsControl, 96: &s.TimeoutsTraverse,
			168: &s.Locks.NumCalls, 172: &s.Locks.NumCurrent, 176: &s.Locks.NumPending, 180: &s.Locks.NumFailed,
			280: &s.TotalCalls, 284: &s.PendingCalls, 288: &s.ChildwriteCalls, 292: &s.PendingChildwriteCalls,
			296: &s.MemoryUsed, 300: &s.LastCounter, 304: &s.MaxHopCount, 440: &s.NumRecoveries,
			480: &s.TotalRODelegations, 484: &s.TotalRORevokes,
		},
		latency: map[int]*LatencyCounter{
			104: &s.ReclockCtdbd, 136: &s.ReclockRecd, 184: &s.Locks.Latency, 376: &s.CallLatency, 408: &s.ChildwriteLatency,
		},
		buckets:  map[int]*[MaxCountBuckets]uint32{216: &s.Locks.Buckets, 308: &s.HopCountBucket},
		timevals: map[int]*Timeval{448: &s.StatisticsStartTime, 464: &s.StatisticsCurrentTime},
	}
}

func dbStatisticsLayout(s *DBStatistics) statLayout {
	return statLayout{
		u32s: map[int]*uint32{
			0: &s.Locks.NumCalls, 4: &s.Locks.NumCurrent, 8: &s.Locks.NumPending, 12: &s.Locks.NumFailed,
			144: &s.DBRODelegations, 148: &s.DBRORevokes,
		},
		latency: map[int]*LatencyCounter{16: &s.Locks.Latency, 112: &s.VacuumLatency},
		buckets: map[int]*[MaxCountBuckets]uint32{48: &s.Locks.Buckets, 152: &s.HopCountBucket},
	}
}

// fill sets every field to a value derived from its offset and returns the
// expectations on the encoding plus a map of covered bytes.
func (l statLayout) fill(size int) ([]at, []bool) {
	var wants []at
	covered := make([]bool, size)
	cover := func(off, n int) {
		for i := off; i < off+n; i++ {
			covered[i] = true
		}
	}
	for off, p := range l.u32s {
		*p = 0xA0000000 | uint32(off)
		wants = append(wants, at{off, le32(*p)})
		cover(off, 4)
	}
	for off, p := range l.latency {
		*p = LatencyCounter{Num: int32(off) + 1, Min: float64(off) + 0.25, Max: float64(off) + 0.5, Total: float64(off) + 0.75}
		wants = append(wants, at{off, le32(uint32(p.Num))}, at{off + 8, lef64(p.Min)}, at{off + 16, lef64(p.Max)}, at{off + 24, lef64(p.Total)})
		cover(off, 4)
		cover(off+8, 24)
	}
	for off, p := range l.buckets {
		for i := range p {
			p[i] = 0xB0000000 | uint32(off+4*i)
			wants = append(wants, at{off + 4*i, le32(p[i])})
		}
		cover(off, 4*MaxCountBuckets)
	}
	for off, p := range l.timevals {
		*p = Timeval{Sec: 1700000000 + int64(off), Usec: 10*int64(off) + 1}
		wants = append(wants, at{off, le64(uint64(p.Sec))}, at{off + 8, le64(uint64(p.Usec))})
		cover(off, 16)
	}
	return wants, covered
}

func TestStatisticsLayout(t *testing.T) {
	var s Statistics
	wants, covered := statisticsLayout(&s).fill(StatisticsSize)
	if p := allLeavesNonZero(reflect.ValueOf(&s), "Statistics"); p != "" {
		t.Fatalf("layout table misses field %s", p)
	}
	enc := s.Marshal()
	if len(enc) != 488 || StatisticsSize != 488 {
		t.Fatalf("encoded %d bytes, want 488", len(enc))
	}
	checkAt(t, "statistics", enc, wants)

	// The only bytes no field covers are the padding of reference §4.11:
	// 100, 372, 444 and 4 bytes in each of the five latency counters.
	var pads []int
	for i, c := range covered {
		if !c {
			pads = append(pads, i)
			if enc[i] != 0 {
				t.Errorf("padding byte %d = %#x", i, enc[i])
			}
		}
	}
	if len(pads) != 32 {
		t.Errorf("%d uncovered bytes, want 32 (8 four-byte holes): %v", len(pads), pads)
	}
	for _, off := range []int{100, 372, 444, 108, 140, 188, 380, 412} {
		if covered[off] {
			t.Errorf("offset %d should be padding", off)
		}
	}

	var got Statistics
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "statistics round trip", got, s)

	dirty := append([]byte(nil), enc...)
	for _, i := range pads {
		dirty[i] = 0x5c
	}
	got = Statistics{}
	if err := got.Unmarshal(dirty); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "statistics with dirty padding", got, s)

	for _, n := range []int{0, 4, 100, 487} {
		if err := new(Statistics).Unmarshal(enc[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	// AppendTo appends.
	if b := s.AppendTo([]byte("xy")); len(b) != 490 || !bytes.Equal(b[2:], enc) {
		t.Error("AppendTo does not append the same encoding")
	}
}

func TestStatisticsList(t *testing.T) {
	var a, b Statistics
	statisticsLayout(&a).fill(StatisticsSize)
	statisticsLayout(&b).fill(StatisticsSize)
	b.NumClients, b.TotalRORevokes, b.CallLatency.Max = 77, 88, 9.5
	l := StatisticsList{Stats: []Statistics{a, b}}
	enc := l.Marshal()
	if len(enc) != 8+2*488 {
		t.Fatalf("encoded %d bytes", len(enc))
	}
	checkAt(t, "list", enc, []at{{0, le32(2)}, {8, a.Marshal()}, {496, b.Marshal()}})
	checkZero(t, "list padding", enc, 4, 8)
	var got StatisticsList
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "list round trip", got, l)

	if e := (&StatisticsList{}).Marshal(); !bytes.Equal(e, make([]byte, 8)) {
		t.Errorf("empty list = %x", e)
	}
	if err := got.Unmarshal(make([]byte, 8)); err != nil || len(got.Stats) != 0 {
		t.Errorf("empty list decoded %d entries, %v", len(got.Stats), err)
	}
	for _, n := range []int{0, 7, 9, 8 + 488, len(enc) - 1} {
		if err := new(StatisticsList).Unmarshal(enc[:n]); err == nil {
			t.Errorf("%d-byte prefix accepted", n)
		}
	}
	// A huge count followed by too few bytes for the padding must fail
	// without allocating (found by FuzzStatisticsList).
	if err := new(StatisticsList).Unmarshal([]byte("\x00o te")); !errors.Is(err, ErrShort) {
		t.Errorf("huge count, truncated padding: %v", err)
	}
	for _, count := range []uint32{3, 0x7FFFFFFF, 0xFFFFFFFF} {
		bad := append([]byte(nil), enc...)
		copy(bad, le32(count))
		if err := new(StatisticsList).Unmarshal(bad); !errors.Is(err, ErrShort) {
			t.Errorf("count %#x: %v", count, err)
		}
	}
}

func TestDBStatisticsLayout(t *testing.T) {
	var s DBStatistics
	wants, covered := dbStatisticsLayout(&s).fill(dbStatisticsFixed)
	s.HotKeys = []HotKey{{Count: 0xC0, Key: []byte("alpha")}, {Count: 0xC1, Key: []byte("be")}, {Count: 0xC2, Key: []byte("gamma-key")}}
	if p := allLeavesNonZero(reflect.ValueOf(&s), "DBStatistics"); p != "" {
		t.Fatalf("layout table misses field %s", p)
	}
	enc := s.Marshal()
	if dbStatisticsFixed != 464 || len(enc) != 464+5+2+9 {
		t.Fatalf("encoded %d bytes, want 480", len(enc))
	}
	checkAt(t, "db statistics", enc, wants)
	checkAt(t, "hot keys", enc, []at{
		{216, le32(MaxHotKeys)},
		{224, le32(0xC0)}, {240, le64(5)},
		{248, le32(0xC1)}, {264, le64(2)},
		{272, le32(0xC2)}, {288, le64(9)},
		{464, []byte("alphabegamma-key")},
	})
	for i := 0; i < MaxHotKeys; i++ {
		slot := 224 + 24*i
		checkZero(t, "slot padding and pointer", enc, slot+4, slot+16)
		if i >= 3 {
			checkZero(t, "unused slot", enc, slot, slot+24)
		}
	}
	checkZero(t, "num_hot_keys padding", enc, 220, 224)
	for _, p := range [][2]int{{20, 24}, {116, 120}} {
		checkZero(t, "latency padding", enc, p[0], p[1])
		if covered[p[0]] {
			t.Errorf("offset %d should be padding", p[0])
		}
	}

	var got DBStatistics
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	// Ten slots are always sent, so ten hot keys come back.
	want := s
	want.HotKeys = append(append([]HotKey(nil), s.HotKeys...), make([]HotKey, MaxHotKeys-3)...)
	mustEqual(t, "db statistics round trip", got, want)
	if again := got.Marshal(); !bytes.Equal(again, enc) {
		t.Error("re-encoding differs")
	}
	for n := 0; n < len(enc); n++ {
		if err := new(DBStatistics).Unmarshal(enc[:n]); err == nil {
			t.Errorf("%d-byte prefix accepted", n)
		}
	}
}

func TestDBStatisticsFromDaemon(t *testing.T) {
	// ctdbd copies its in-memory struct: the TDB_DATA pointers are garbage,
	// and num_hot_keys may be below ten; every slot's key bytes follow.
	var s DBStatistics
	s.HotKeys = []HotKey{{Count: 4, Key: []byte("k1")}, {Count: 3, Key: []byte("key2")}, {Count: 2, Key: []byte("x")}}
	enc := s.Marshal()
	copy(enc[216:], le32(2))
	for i := 0; i < MaxHotKeys; i++ {
		copy(enc[224+24*i+4:], []byte{1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x7f})
	}
	var got DBStatistics
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "hot keys", got.HotKeys, s.HotKeys[:2])

	bad := append([]byte(nil), enc...)
	copy(bad[216:], le32(MaxHotKeys+1))
	if err := got.Unmarshal(bad); err == nil {
		t.Error("11 hot keys accepted")
	}
	bad = append([]byte(nil), enc...)
	copy(bad[224+16:], le64(0xFFFFFFFFFFFFFFFF))
	if err := got.Unmarshal(bad); err == nil {
		t.Error("key size 2^64-1 accepted")
	}
}

func TestUptimeAndTimeval(t *testing.T) {
	if UptimeSize != 64 || len((&Uptime{}).Marshal()) != 64 {
		t.Error("uptime is not 64 bytes")
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	tv := TimevalOf(when)
	if tv.Sec != when.Unix() || tv.Usec != 123456 {
		t.Errorf("TimevalOf = %+v", tv)
	}
	if !tv.Time().Equal(when.Truncate(time.Microsecond)) {
		t.Errorf("Time() = %v", tv.Time())
	}
	if TimevalOf(time.Time{}) != (Timeval{}) || !(Timeval{}).Time().IsZero() {
		t.Error("zero time does not map to {0, 0}")
	}
}

func TestLatencyCounterAdd(t *testing.T) {
	var l LatencyCounter
	for _, v := range []float64{0.5, 0.25, 2} {
		l.Add(v)
	}
	if l.Num != 3 || l.Min != 0.25 || l.Max != 2 || l.Total != 2.75 {
		t.Errorf("after 3 observations: %+v", l)
	}
	var one LatencyCounter
	one.Add(3)
	if one.Min != 3 || one.Max != 3 || one.Num != 1 {
		t.Errorf("after 1 observation: %+v", one)
	}
}
