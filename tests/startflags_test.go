package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

// TestStartAsStoppedOrDisabled: [legacy] start as disabled and start as
// stopped make a node DISABLED or STOPPED at every start, as in 4.17: an
// enable lasts until the next start.
func TestStartAsStoppedOrDisabled(t *testing.T) {
	c := cluster(t, 3)
	appendConf := func(pnn uint32, text string) {
		f, err := os.OpenFile(filepath.Join(c.Nodes[pnn].Dir, "ctdb.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(text); err != nil {
			t.Fatal(err)
		}
	}
	appendConf(1, "[legacy]\n\tstart as disabled = true\n")
	appendConf(2, "[legacy]\n\tstart as stopped = yes\n")
	restart := func(pnn uint32) {
		t.Helper()
		if err := c.Restart(pnn); err != nil {
			t.Fatal(err)
		}
	}
	restart(1)
	restart(2)
	disabled, stopped := protocol.NodeFlagPermanentlyDisabled, protocol.NodeFlagStopped
	// A node stopped before its first monitor ran stays UNHEALTHY too:
	// a stopped node runs no monitor.
	waitHasFlags(t, c, []uint32{0, 1}, map[uint32]uint32{1: disabled, 2: stopped})

	mustTool(t, c, 0, "-n", "1", "enable")
	mustTool(t, c, 0, "-n", "2", "continue")
	clustertest.WaitAgreed(t, c, clustertest.Want{})

	restart(1)
	waitHasFlags(t, c, []uint32{0, 1, 2}, map[uint32]uint32{1: disabled})
}

// waitHasFlags waits until every observer shows each node of want with
// (at least) its flags.
func waitHasFlags(t *testing.T, c *localcluster.Cluster, observers []uint32, want map[uint32]uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.WaitFlags(ctx, observers, func(nm *protocol.NodeMap) error {
		for p, f := range want {
			if n, ok := nm.Node(p); !ok || n.Flags&f != f {
				return fmt.Errorf("node %d is %s, want %s", p, protocol.NodeFlagsString(n.Flags), protocol.NodeFlagsString(f))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
