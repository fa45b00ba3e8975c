package failover_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/server"
)

// echoHost is a MemHost that, like linuxhost, hears its own changes: every
// SetAddress (a lease refresh too) signals Changes.
type echoHost struct {
	*failover.MemHost
	sets atomic.Int64
}

func (h *echoHost) SetAddress(iface string, p netip.Prefix, lease time.Duration) error {
	h.sets.Add(1)
	err := h.MemHost.SetAddress(iface, p, lease)
	up, _ := h.MemHost.LinksUp([]string{iface})
	h.MemHost.SetLink(iface, up[iface]) // no change but the signal
	return err
}

// TestLeaseRefreshIsNoLoop: a node refreshes an address's kernel lease
// when the leader renews its lease, not whenever its host reports a
// change; with a host that reports its own refreshes (as Linux does), a
// refresh at every report would never stop.
func TestLeaseRefreshIsNoLoop(t *testing.T) {
	var mu sync.Mutex
	hosts := map[uint32]*echoHost{}
	c := clustertest.Start(t, 3, clustertest.WithPublicAddresses(public, "eth0"),
		clustertest.WithOptions(func(o *server.Options) {
			h := &echoHost{MemHost: o.Host.(*failover.MemHost)}
			mu.Lock()
			hosts[uint32(o.Config.Cluster.NodeAddress.As4()[3])-1] = h
			mu.Unlock()
			o.Host = h
		}))
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	waitCarried(t, c, nil, 1)
	mu.Lock()
	defer mu.Unlock()
	var before [3]int64
	for p := range before {
		before[p] = hosts[uint32(p)].sets.Load()
	}
	// The in-process lease is 3 s, renewed every second: over 1.5 s a
	// node refreshes its one address twice, maybe three times.
	time.Sleep(1500 * time.Millisecond)
	for p := range before {
		if n := hosts[uint32(p)].sets.Load() - before[p]; n > 5 {
			t.Errorf("node %d set its address %d times in 1.5 s", p, n)
		}
	}
}
