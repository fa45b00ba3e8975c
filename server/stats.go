package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// counters are the live statistics counters, bumped without locks on the
// packet paths.
type counters struct {
	clientPacketsSent atomic.Uint32
	clientPacketsRecv atomic.Uint32
	nodePacketsSent   atomic.Uint32
	nodePacketsRecv   atomic.Uint32
	nodeRecv          [11]atomic.Uint32 // by operation
	clientRecv        [11]atomic.Uint32 // by operation
	timeoutsControl   atomic.Uint32
	numRecoveries     atomic.Uint32
}

// statistics keeps the counters and the history ctdb's "stats" shows.
type statistics struct {
	c counters

	mu sync.Mutex
	// base is subtracted from the counters: STATISTICS_RESET sets it.
	base      protocol.Statistics
	baseTime  time.Time
	history   []protocol.Statistics // newest first, at most statHistoryLen
	lastSnap  protocol.Statistics
	lastTime  time.Time
	keepalive func() (sent, recv uint64)
}

const statHistoryLen = 100

func newStatistics(now time.Time, keepalive func() (uint64, uint64)) *statistics {
	return &statistics{baseTime: now, lastTime: now, keepalive: keepalive}
}

func (s *statistics) countNodeRecv(op protocol.Operation) {
	s.c.nodePacketsRecv.Add(1)
	if int(op) < len(s.c.nodeRecv) {
		s.c.nodeRecv[op].Add(1)
	}
}

func (s *statistics) countClientRecv(op protocol.Operation) {
	s.c.clientPacketsRecv.Add(1)
	if int(op) < len(s.c.clientRecv) {
		s.c.clientRecv[op].Add(1)
	}
}

// raw reads the cumulative counters into a Statistics.
func (s *statistics) raw(numClients int) protocol.Statistics {
	c := &s.c
	var st protocol.Statistics
	st.NumClients = uint32(numClients)
	st.ClientPacketsSent = c.clientPacketsSent.Load()
	st.ClientPacketsRecv = c.clientPacketsRecv.Load()
	st.NodePacketsSent = c.nodePacketsSent.Load()
	st.NodePacketsRecv = c.nodePacketsRecv.Load()
	if s.keepalive != nil {
		ks, kr := s.keepalive()
		st.KeepalivePacketsSent, st.KeepalivePacketsRecv = uint32(ks), uint32(kr)
	}
	st.Node = protocol.NodeOpCounters{
		ReqCall:      c.nodeRecv[protocol.OpReqCall].Load(),
		ReplyCall:    c.nodeRecv[protocol.OpReplyCall].Load(),
		ReqDMaster:   c.nodeRecv[protocol.OpReqDMaster].Load(),
		ReplyDMaster: c.nodeRecv[protocol.OpReplyDMaster].Load(),
		ReplyError:   c.nodeRecv[protocol.OpReplyError].Load(),
		ReqMessage:   c.nodeRecv[protocol.OpReqMessage].Load(),
		ReqControl:   c.nodeRecv[protocol.OpReqControl].Load(),
		ReplyControl: c.nodeRecv[protocol.OpReplyControl].Load(),
		ReqTunnel:    c.nodeRecv[protocol.OpReqTunnel].Load(),
	}
	st.Client = protocol.ClientOpCounters{
		ReqCall:    c.clientRecv[protocol.OpReqCall].Load(),
		ReqMessage: c.clientRecv[protocol.OpReqMessage].Load(),
		ReqControl: c.clientRecv[protocol.OpReqControl].Load(),
		ReqTunnel:  c.clientRecv[protocol.OpReqTunnel].Load(),
	}
	st.TimeoutsControl = c.timeoutsControl.Load()
	st.NumRecoveries = c.numRecoveries.Load()
	return st
}

// diff returns a - b for every counter; gauges (NumClients, Frozen,
// Recovering) keep a's value.
func diff(a, b protocol.Statistics) protocol.Statistics {
	d := a
	d.ClientPacketsSent -= b.ClientPacketsSent
	d.ClientPacketsRecv -= b.ClientPacketsRecv
	d.NodePacketsSent -= b.NodePacketsSent
	d.NodePacketsRecv -= b.NodePacketsRecv
	d.KeepalivePacketsSent -= b.KeepalivePacketsSent
	d.KeepalivePacketsRecv -= b.KeepalivePacketsRecv
	d.Node.ReqCall -= b.Node.ReqCall
	d.Node.ReplyCall -= b.Node.ReplyCall
	d.Node.ReqDMaster -= b.Node.ReqDMaster
	d.Node.ReplyDMaster -= b.Node.ReplyDMaster
	d.Node.ReplyError -= b.Node.ReplyError
	d.Node.ReqMessage -= b.Node.ReqMessage
	d.Node.ReqControl -= b.Node.ReqControl
	d.Node.ReplyControl -= b.Node.ReplyControl
	d.Node.ReqTunnel -= b.Node.ReqTunnel
	d.Client.ReqCall -= b.Client.ReqCall
	d.Client.ReqMessage -= b.Client.ReqMessage
	d.Client.ReqControl -= b.Client.ReqControl
	d.Client.ReqTunnel -= b.Client.ReqTunnel
	d.TimeoutsControl -= b.TimeoutsControl
	d.NumRecoveries -= b.NumRecoveries
	return d
}

// current returns the statistics since start or the last reset.
func (s *statistics) current(numClients int, now time.Time) protocol.Statistics {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := diff(s.raw(numClients), s.base)
	st.StatisticsStartTime = protocol.TimevalOf(s.baseTime)
	st.StatisticsCurrentTime = protocol.TimevalOf(now)
	return st
}

// reset starts the statistics afresh (STATISTICS_RESET).
func (s *statistics) reset(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = s.raw(0)
	s.baseTime = now
}

// rotate closes one history interval; called every StatHistoryInterval.
func (s *statistics) rotate(numClients int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.raw(numClients)
	iv := diff(snap, s.lastSnap)
	iv.StatisticsStartTime = protocol.TimevalOf(s.lastTime)
	iv.StatisticsCurrentTime = protocol.TimevalOf(now)
	s.history = append([]protocol.Statistics{iv}, s.history...)
	if len(s.history) > statHistoryLen {
		s.history = s.history[:statHistoryLen]
	}
	s.lastSnap, s.lastTime = snap, now
}

func (s *statistics) historyList() protocol.StatisticsList {
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.StatisticsList{Stats: append([]protocol.Statistics(nil), s.history...)}
}
