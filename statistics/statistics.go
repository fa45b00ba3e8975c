package statistics

import (
	"context"
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

// Keeper keeps the counters and the history ctdb's "stats" shows.
type Keeper struct {
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

// New returns a Keeper whose statistics start at now; keepalive reports
// the keepalive packets sent and received, which the node links count.
func New(now time.Time, keepalive func() (sent, recv uint64)) *Keeper {
	return &Keeper{baseTime: now, lastTime: now, keepalive: keepalive}
}

// CountNodeRecv counts a packet from another node.
func (s *Keeper) CountNodeRecv(op protocol.Operation) {
	s.c.nodePacketsRecv.Add(1)
	countOp(&s.c.nodeRecv, op)
}

// CountClientRecv counts a packet from a local client.
func (s *Keeper) CountClientRecv(op protocol.Operation) {
	s.c.clientPacketsRecv.Add(1)
	countOp(&s.c.clientRecv, op)
}

// countOp bumps op's counter; operations past the table are not counted
// by operation.
func countOp(byOp *[11]atomic.Uint32, op protocol.Operation) {
	if int(op) < len(byOp) {
		byOp[op].Add(1)
	}
}

// CountNodeSent counts a packet sent to another node.
func (s *Keeper) CountNodeSent() { s.c.nodePacketsSent.Add(1) }

// CountClientSent counts a packet written to a local client.
func (s *Keeper) CountClientSent() { s.c.clientPacketsSent.Add(1) }

// CountLoopback counts a packet the node sends to itself, which 4.17
// counts as a node packet sent and received.
func (s *Keeper) CountLoopback(op protocol.Operation) {
	s.c.nodePacketsSent.Add(1)
	countOp(&s.c.nodeRecv, op)
}

// CountControlTimeout counts a control that timed out.
func (s *Keeper) CountControlTimeout() { s.c.timeoutsControl.Add(1) }

// CountRecovery counts a database recovery.
func (s *Keeper) CountRecovery() { s.c.numRecoveries.Add(1) }

// raw reads the cumulative counters into a Statistics.
func (s *Keeper) raw(numClients int) protocol.Statistics {
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

// Current returns the statistics since start or the last reset.
func (s *Keeper) Current(numClients int, now time.Time) protocol.Statistics {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := diff(s.raw(numClients), s.base)
	st.StatisticsStartTime = protocol.TimevalOf(s.baseTime)
	st.StatisticsCurrentTime = protocol.TimevalOf(now)
	return st
}

// Reset starts the statistics afresh (STATISTICS_RESET).
func (s *Keeper) Reset(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = s.raw(0)
	s.baseTime = now
}

// rotate closes one history interval.
func (s *Keeper) rotate(numClients int, now time.Time) {
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

// History is the closed intervals, newest first (STATISTICS_LIST).
func (s *Keeper) History() protocol.StatisticsList {
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.StatisticsList{Stats: append([]protocol.Statistics(nil), s.history...)}
}

// RunHistory closes a history interval every interval() until ctx ends;
// interval is read anew each time (the StatHistoryInterval tunable),
// numClients gives the connected clients at each close.
func (s *Keeper) RunHistory(ctx context.Context, interval func() time.Duration, numClients func() int) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval()):
		}
		s.rotate(numClients(), time.Now())
	}
}
