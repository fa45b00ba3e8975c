package statistics

import (
	"context"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

func TestCountersResetAndHistory(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := New(t0, func() (uint64, uint64) { return 4, 5 })
	s.CountClientRecv(protocol.OpReqCall)
	s.CountNodeRecv(protocol.OpReqDMaster)
	s.CountNodeSent()
	s.CountLoopback(protocol.OpReqTunnel)
	s.CountControlTimeout()
	s.CountRecovery()
	st := s.Current(3, t0.Add(time.Second))
	if st.NumClients != 3 || st.ClientPacketsRecv != 1 || st.Client.ReqCall != 1 || st.NodePacketsRecv != 1 ||
		st.Node.ReqDMaster != 1 || st.NodePacketsSent != 2 || st.Node.ReqTunnel != 1 || st.TimeoutsControl != 1 ||
		st.NumRecoveries != 1 || st.KeepalivePacketsSent != 4 || st.KeepalivePacketsRecv != 5 {
		t.Fatalf("counters: %+v", st)
	}
	s.rotate(3, t0.Add(2*time.Second))
	s.Reset(t0.Add(3 * time.Second))
	s.CountClientSent()
	if st := s.Current(0, t0.Add(4*time.Second)); st.ClientPacketsSent != 1 || st.NodePacketsSent != 0 || st.StatisticsStartTime != protocol.TimevalOf(t0.Add(3*time.Second)) {
		t.Fatalf("after a reset: %+v", st)
	}
	s.rotate(0, t0.Add(5*time.Second))
	h := s.History().Stats
	if len(h) != 2 || h[0].ClientPacketsSent != 1 || h[0].NodePacketsSent != 0 || h[1].NodePacketsSent != 2 {
		t.Fatalf("history (newest first): %+v", h)
	}
}

func TestHistoryKeepsTheLast100Intervals(t *testing.T) {
	s := New(time.Unix(0, 0), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rotations := 0
	go func() {
		defer close(done)
		s.RunHistory(ctx, func() time.Duration {
			if rotations++; rotations > statHistoryLen+10 {
				cancel()
			}
			return time.Microsecond
		}, func() int { return 0 })
	}()
	<-done
	if n := len(s.History().Stats); n != statHistoryLen {
		t.Fatalf("%d intervals kept, want %d", n, statHistoryLen)
	}
}
