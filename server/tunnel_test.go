package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

// TestTunnels runs the tunnel expectations of ctdbd 4.17 (the same checks
// tests/TestTunnels runs against the real daemon) on an in-process cluster,
// and checks that delivered and dropped packets are counted.
func TestTunnels(t *testing.T) {
	c := clustertest.Start(t, 2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	clustertest.CheckTunnels(t, c)
	for pnn, want := range map[uint32]map[string]string{
		// Node 0 delivers the two packets node 1 sends it and drops one
		// for an id it does not hold; its clients hold 3 ids at the end.
		0: {"ctdb_socket_tunnel_packets_delivered_total": "2", "ctdb_socket_tunnel_packets_dropped_total": "1", "ctdb_socket_tunnels": "3"},
		// Node 1 drops 5 packets to invalid destinations, one to an id
		// it does not hold and one after the deregistration.
		1: {"ctdb_socket_tunnel_packets_delivered_total": "10", "ctdb_socket_tunnel_packets_dropped_total": "7", "ctdb_socket_tunnels": "2"},
	} {
		for name, v := range want {
			if got := metricValue(c.Metrics(pnn), name); got != v {
				t.Errorf("node %d: %s = %s, want %s", pnn, name, got, v)
			}
		}
	}
}

// TestTunnelToUnreachableNode: a packet for a node whose link is down is
// dropped (4.17 drops it when there is no outgoing connection), and the
// tunnel works again once the link is back.
func TestTunnelToUnreachableNode(t *testing.T) {
	c := clustertest.Start(t, 2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	const id = protocol.SrvIDTunnelTest | 0x42
	ta, err := c.Client(0).RegisterTunnel(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := c.Client(1).RegisterTunnel(ctx, id, 1024)
	if err != nil {
		t.Fatal(err)
	}
	c.Partition([]uint32{0}, []uint32{1})
	clustertest.WaitFor(t, 10*time.Second, "a packet dropped at node 0 for the link down", func() error {
		if err := ta.Send(1, protocol.TunnelFlagRequest, []byte("lost")); err != nil {
			return err
		}
		if v := metricValue(c.Metrics(0), "ctdb_socket_tunnel_packets_dropped_total"); v == "0" {
			return fmt.Errorf("dropped %s", v)
		}
		return nil
	})
	c.Heal()
	clustertest.WaitFor(t, 15*time.Second, "a packet delivered after the heal", func() error {
		if err := ta.Send(1, protocol.TunnelFlagRequest, []byte("after heal")); err != nil {
			return err
		}
		deadline := time.After(200 * time.Millisecond)
		for {
			select {
			case p := <-tb.Packets():
				if string(p.Data) == "after heal" {
					return nil
				}
			case <-deadline:
				return fmt.Errorf("nothing delivered yet")
			}
		}
	})
}

// metricValue is the value of the metric named name in set, as text.
func metricValue(set *metrics.Set, name string) string {
	var out bytes.Buffer
	set.WritePrometheus(&out)
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}
