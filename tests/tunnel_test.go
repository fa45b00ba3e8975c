package tests

import (
	"testing"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// TestTunnels holds our daemon and Debian's ctdbd 4.17 to the same
// expectations of tunnels (TUNNEL_REGISTER, TUNNEL_DEREGISTER, REQ_TUNNEL),
// each on a 2-node cluster of its own: clients on both nodes hold the same
// tunnel id and exchange request and reply packets, a deregistration and a
// disconnect stop the delivery, packets to an id nobody holds are dropped.
func TestTunnels(t *testing.T) {
	t.Run("ctdbd-4.17", func(t *testing.T) {
		clustertest.CheckTunnels(t, realCtdbdCluster(t, 2))
	})
	t.Run("rctdb", func(t *testing.T) {
		clustertest.CheckTunnels(t, cluster(t, 2))
	})
}
