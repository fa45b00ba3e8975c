package protocol

import (
	"fmt"
	"time"
)

// Timeval is struct timeval as CTDB marshals it: i64 seconds, i64 microseconds.
type Timeval struct {
	Sec  int64
	Usec int64
}

// TimevalOf converts a time to a Timeval; the zero time becomes {0, 0}.
func TimevalOf(t time.Time) Timeval {
	if t.IsZero() {
		return Timeval{}
	}
	return Timeval{Sec: t.Unix(), Usec: int64(t.Nanosecond() / 1000)}
}

// Time converts tv back to a time; {0, 0} becomes the zero time.
func (tv Timeval) Time() time.Time {
	if tv.Sec == 0 && tv.Usec == 0 {
		return time.Time{}
	}
	return time.Unix(tv.Sec, tv.Usec*1000)
}

func (e *encoder) timeval(tv Timeval) { e.i64(tv.Sec); e.i64(tv.Usec) }
func (d *decoder) timeval() Timeval   { return Timeval{Sec: d.i64(), Usec: d.i64()} }

// Uptime is ctdb_uptime (64 bytes), the UPTIME reply.
type Uptime struct {
	CurrentTime          Timeval
	StartTime            Timeval
	LastRecoveryStarted  Timeval
	LastRecoveryFinished Timeval
}

// UptimeSize is the encoded size of Uptime.
const UptimeSize = 64

// Marshal encodes the uptime structure.
func (u *Uptime) Marshal() []byte {
	e := encoder{b: make([]byte, 0, UptimeSize)}
	e.timeval(u.CurrentTime)
	e.timeval(u.StartTime)
	e.timeval(u.LastRecoveryStarted)
	e.timeval(u.LastRecoveryFinished)
	return e.b
}

// Unmarshal decodes the uptime structure.
func (u *Uptime) Unmarshal(b []byte) error {
	d := newDecoder("uptime", b)
	u.CurrentTime = d.timeval()
	u.StartTime = d.timeval()
	u.LastRecoveryStarted = d.timeval()
	u.LastRecoveryFinished = d.timeval()
	return d.err
}

// LatencyCounter is ctdb_latency_counter (32 bytes); times in seconds.
type LatencyCounter struct {
	Num   int32
	Min   float64
	Max   float64
	Total float64
}

// Add records one observation of d seconds.
func (l *LatencyCounter) Add(seconds float64) {
	if l.Num == 0 || seconds < l.Min {
		l.Min = seconds
	}
	if seconds > l.Max {
		l.Max = seconds
	}
	l.Total += seconds
	l.Num++
}

func (e *encoder) latency(l LatencyCounter) {
	e.i32(l.Num)
	e.zeros(4)
	e.f64(l.Min)
	e.f64(l.Max)
	e.f64(l.Total)
}

func (d *decoder) latency() LatencyCounter {
	var l LatencyCounter
	l.Num = d.i32()
	d.skip(4)
	l.Min = d.f64()
	l.Max = d.f64()
	l.Total = d.f64()
	return l
}

// NodeOpCounters counts packets by operation (the node and client blocks of
// the statistics).
type NodeOpCounters struct {
	ReqCall      uint32
	ReplyCall    uint32
	ReqDMaster   uint32
	ReplyDMaster uint32
	ReplyError   uint32
	ReqMessage   uint32
	ReqControl   uint32
	ReplyControl uint32
	ReqTunnel    uint32
}

// ClientOpCounters counts packets from clients by operation.
type ClientOpCounters struct {
	ReqCall    uint32
	ReqMessage uint32
	ReqControl uint32
	ReqTunnel  uint32
}

// LockStats is the locks block of the statistics.
type LockStats struct {
	NumCalls   uint32
	NumCurrent uint32
	NumPending uint32
	NumFailed  uint32
	Latency    LatencyCounter
	Buckets    [MaxCountBuckets]uint32
}

func (e *encoder) lockStats(l *LockStats) {
	e.u32(l.NumCalls)
	e.u32(l.NumCurrent)
	e.u32(l.NumPending)
	e.u32(l.NumFailed)
	e.latency(l.Latency)
	for _, v := range l.Buckets {
		e.u32(v)
	}
}

func (d *decoder) lockStats(l *LockStats) {
	l.NumCalls = d.u32()
	l.NumCurrent = d.u32()
	l.NumPending = d.u32()
	l.NumFailed = d.u32()
	l.Latency = d.latency()
	for i := range l.Buckets {
		l.Buckets[i] = d.u32()
	}
}

// Statistics is ctdb_statistics, the 488-byte STATISTICS reply.
type Statistics struct {
	NumClients             uint32
	Frozen                 uint32
	Recovering             uint32
	ClientPacketsSent      uint32
	ClientPacketsRecv      uint32
	NodePacketsSent        uint32
	NodePacketsRecv        uint32
	KeepalivePacketsSent   uint32
	KeepalivePacketsRecv   uint32
	Node                   NodeOpCounters
	Client                 ClientOpCounters
	TimeoutsCall           uint32
	TimeoutsControl        uint32
	TimeoutsTraverse       uint32
	ReclockCtdbd           LatencyCounter
	ReclockRecd            LatencyCounter
	Locks                  LockStats
	TotalCalls             uint32
	PendingCalls           uint32
	ChildwriteCalls        uint32
	PendingChildwriteCalls uint32
	MemoryUsed             uint32
	LastCounter            uint32
	MaxHopCount            uint32
	HopCountBucket         [MaxCountBuckets]uint32
	CallLatency            LatencyCounter
	ChildwriteLatency      LatencyCounter
	NumRecoveries          uint32
	StatisticsStartTime    Timeval
	StatisticsCurrentTime  Timeval
	TotalRODelegations     uint32
	TotalRORevokes         uint32
}

// StatisticsSize is sizeof(struct ctdb_statistics).
const StatisticsSize = 488

// AppendTo appends the 488-byte encoding to b.
func (s *Statistics) AppendTo(b []byte) []byte {
	e := encoder{b: b}
	e.u32(s.NumClients)
	e.u32(s.Frozen)
	e.u32(s.Recovering)
	e.u32(s.ClientPacketsSent)
	e.u32(s.ClientPacketsRecv)
	e.u32(s.NodePacketsSent)
	e.u32(s.NodePacketsRecv)
	e.u32(s.KeepalivePacketsSent)
	e.u32(s.KeepalivePacketsRecv)
	n := &s.Node
	for _, v := range []uint32{n.ReqCall, n.ReplyCall, n.ReqDMaster, n.ReplyDMaster, n.ReplyError, n.ReqMessage, n.ReqControl, n.ReplyControl, n.ReqTunnel} {
		e.u32(v)
	}
	c := &s.Client
	for _, v := range []uint32{c.ReqCall, c.ReqMessage, c.ReqControl, c.ReqTunnel} {
		e.u32(v)
	}
	e.u32(s.TimeoutsCall)
	e.u32(s.TimeoutsControl)
	e.u32(s.TimeoutsTraverse)
	e.zeros(4)
	e.latency(s.ReclockCtdbd)
	e.latency(s.ReclockRecd)
	e.lockStats(&s.Locks)
	e.u32(s.TotalCalls)
	e.u32(s.PendingCalls)
	e.u32(s.ChildwriteCalls)
	e.u32(s.PendingChildwriteCalls)
	e.u32(s.MemoryUsed)
	e.u32(s.LastCounter)
	e.u32(s.MaxHopCount)
	for _, v := range s.HopCountBucket {
		e.u32(v)
	}
	e.zeros(4)
	e.latency(s.CallLatency)
	e.latency(s.ChildwriteLatency)
	e.u32(s.NumRecoveries)
	e.zeros(4)
	e.timeval(s.StatisticsStartTime)
	e.timeval(s.StatisticsCurrentTime)
	e.u32(s.TotalRODelegations)
	e.u32(s.TotalRORevokes)
	return e.b
}

// Marshal encodes the statistics.
func (s *Statistics) Marshal() []byte { return s.AppendTo(make([]byte, 0, StatisticsSize)) }

// Unmarshal decodes 488 bytes of statistics.
func (s *Statistics) Unmarshal(b []byte) error {
	d := newDecoder("statistics", b)
	s.decode(d)
	return d.err
}

func (s *Statistics) decode(d *decoder) {
	if !d.need(StatisticsSize) {
		return
	}
	s.NumClients = d.u32()
	s.Frozen = d.u32()
	s.Recovering = d.u32()
	s.ClientPacketsSent = d.u32()
	s.ClientPacketsRecv = d.u32()
	s.NodePacketsSent = d.u32()
	s.NodePacketsRecv = d.u32()
	s.KeepalivePacketsSent = d.u32()
	s.KeepalivePacketsRecv = d.u32()
	n := &s.Node
	for _, p := range []*uint32{&n.ReqCall, &n.ReplyCall, &n.ReqDMaster, &n.ReplyDMaster, &n.ReplyError, &n.ReqMessage, &n.ReqControl, &n.ReplyControl, &n.ReqTunnel} {
		*p = d.u32()
	}
	c := &s.Client
	for _, p := range []*uint32{&c.ReqCall, &c.ReqMessage, &c.ReqControl, &c.ReqTunnel} {
		*p = d.u32()
	}
	s.TimeoutsCall = d.u32()
	s.TimeoutsControl = d.u32()
	s.TimeoutsTraverse = d.u32()
	d.skip(4)
	s.ReclockCtdbd = d.latency()
	s.ReclockRecd = d.latency()
	d.lockStats(&s.Locks)
	s.TotalCalls = d.u32()
	s.PendingCalls = d.u32()
	s.ChildwriteCalls = d.u32()
	s.PendingChildwriteCalls = d.u32()
	s.MemoryUsed = d.u32()
	s.LastCounter = d.u32()
	s.MaxHopCount = d.u32()
	for i := range s.HopCountBucket {
		s.HopCountBucket[i] = d.u32()
	}
	d.skip(4)
	s.CallLatency = d.latency()
	s.ChildwriteLatency = d.latency()
	s.NumRecoveries = d.u32()
	d.skip(4)
	s.StatisticsStartTime = d.timeval()
	s.StatisticsCurrentTime = d.timeval()
	s.TotalRODelegations = d.u32()
	s.TotalRORevokes = d.u32()
}

// StatisticsList is ctdb_statistics_list, the GET_STAT_HISTORY reply.
type StatisticsList struct {
	Stats []Statistics
}

// Marshal encodes the list: count, 4 pad, entries.
func (l *StatisticsList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 8+StatisticsSize*len(l.Stats))}
	e.i32(int32(len(l.Stats)))
	e.zeros(4)
	for i := range l.Stats {
		e.b = l.Stats[i].AppendTo(e.b)
	}
	return e.b
}

// Unmarshal decodes the list.
func (l *StatisticsList) Unmarshal(b []byte) error {
	d := newDecoder("statistics list", b)
	n := d.count(0)
	d.skip(4)
	if d.err != nil {
		return d.err
	}
	if uint64(n)*StatisticsSize > uint64(len(b)-d.off) {
		return fmt.Errorf("statistics list: %d entries in %d bytes: %w", n, len(b)-d.off, ErrShort)
	}
	l.Stats = make([]Statistics, n)
	for i := range l.Stats {
		l.Stats[i].decode(d)
	}
	return d.err
}

// HotKey is one hot key entry of the database statistics.
type HotKey struct {
	Count uint32
	Key   []byte
}

// DBStatistics is ctdb_db_statistics, the GET_DB_STATISTICS reply.
type DBStatistics struct {
	Locks           LockStats
	VacuumLatency   LatencyCounter
	DBRODelegations uint32
	DBRORevokes     uint32
	HopCountBucket  [MaxCountBuckets]uint32
	HotKeys         []HotKey // at most MaxHotKeys
}

const dbStatisticsFixed = 464

// Marshal encodes the database statistics as ctdbd does: always ten hot key
// slots (unused ones zero), the slot's pointer field zero, then the keys.
func (s *DBStatistics) Marshal() []byte {
	e := encoder{b: make([]byte, 0, dbStatisticsFixed)}
	e.lockStats(&s.Locks)
	e.latency(s.VacuumLatency)
	e.u32(s.DBRODelegations)
	e.u32(s.DBRORevokes)
	for _, v := range s.HopCountBucket {
		e.u32(v)
	}
	e.u32(MaxHotKeys)
	e.zeros(4)
	for i := 0; i < MaxHotKeys; i++ {
		var hk HotKey
		if i < len(s.HotKeys) {
			hk = s.HotKeys[i]
		}
		e.u32(hk.Count)
		e.zeros(4)
		e.u64(0) // TDB_DATA.dptr: meaningless on the wire
		e.u64(uint64(len(hk.Key)))
	}
	for i := 0; i < MaxHotKeys && i < len(s.HotKeys); i++ {
		e.bytes(s.HotKeys[i].Key)
	}
	return e.b
}

// Unmarshal decodes database statistics.
func (s *DBStatistics) Unmarshal(b []byte) error {
	d := newDecoder("db statistics", b)
	d.lockStats(&s.Locks)
	s.VacuumLatency = d.latency()
	s.DBRODelegations = d.u32()
	s.DBRORevokes = d.u32()
	for i := range s.HopCountBucket {
		s.HopCountBucket[i] = d.u32()
	}
	num := d.u32()
	d.skip(4)
	if d.err != nil {
		return d.err
	}
	if num > MaxHotKeys {
		return fmt.Errorf("db statistics: %d hot keys, at most %d", num, MaxHotKeys)
	}
	counts := make([]uint32, MaxHotKeys)
	sizes := make([]uint64, MaxHotKeys)
	for i := 0; i < MaxHotKeys; i++ {
		counts[i] = d.u32()
		d.skip(4)
		d.skip(8)
		sizes[i] = d.u64()
	}
	// Every slot's key follows, used or not; num says how many are meaningful.
	s.HotKeys = s.HotKeys[:0]
	for i := 0; i < MaxHotKeys; i++ {
		if sizes[i] > uint64(len(b)) {
			return fmt.Errorf("db statistics: hot key %d size %d: %w", i, sizes[i], ErrShort)
		}
		key := d.bytes(int(sizes[i]))
		if i < int(num) {
			s.HotKeys = append(s.HotKeys, HotKey{Count: counts[i], Key: key})
		}
	}
	return d.err
}
