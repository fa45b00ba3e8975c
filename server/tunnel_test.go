package server_test

import (
	"bytes"
	"testing"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// TestTunnels runs the tunnel expectations of ctdbd 4.17 (the same checks
// tests/TestTunnels runs against the real daemon) on an in-process cluster,
// and checks that delivered and dropped packets are counted.
func TestTunnels(t *testing.T) {
	c := clustertest.Start(t, 2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	clustertest.CheckTunnels(t, c)
	for pnn, want := range map[uint32][]string{
		// Node 0 delivers the two packets node 1 sends it and drops one
		// for an id it does not hold; its clients hold 3 ids at the end.
		0: {"ctdb_socket_tunnel_packets_delivered_total 2\n", "ctdb_socket_tunnel_packets_dropped_total 1\n", "ctdb_socket_tunnels 3\n"},
		// Node 1 drops 5 packets to invalid destinations, one to an id
		// it does not hold and one after the deregistration.
		1: {"ctdb_socket_tunnel_packets_delivered_total 10\n", "ctdb_socket_tunnel_packets_dropped_total 7\n", "ctdb_socket_tunnels 2\n"},
	} {
		var out bytes.Buffer
		c.Metrics(pnn).WritePrometheus(&out)
		for _, w := range want {
			if !bytes.Contains(out.Bytes(), []byte(w)) {
				t.Errorf("node %d metrics lack %q:\n%s", pnn, w, out.String())
			}
		}
	}
}
