package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

// TestMixedSambaReleasesRefused: a node restarted as a Samba 4.18 node
// (CTDB_TEST_SAMBA_VERSION, as ctdbd's tests set it) is refused by the
// 4.17 nodes, which log ctdbd's mismatch line; it never rejoins until it
// runs 4.17 again.
func TestMixedSambaReleasesRefused(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	env := c.Env
	c.Env = append(slices.Clone(env), fmt.Sprintf("CTDB_TEST_SAMBA_VERSION=%d", 4<<16|18))
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	want := "Keepalive version mismatch 0x00040011 != 0x00040012 from node 2"
	waitUntil(t, 20*time.Second, "node 0 to refuse node 2", func() error {
		b, _ := os.ReadFile(filepath.Join(c.Nodes[0].Dir, "log.ctdb"))
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("node 0's log lacks %q", want)
		}
		return nil
	})
	// Refused, node 2 stays disconnected in the others' view.
	waitUntil(t, 20*time.Second, "node 2 disconnected for nodes 0 and 1", func() error {
		for _, o := range []uint32{0, 1} {
			v, err := observe(c, o)
			if err != nil {
				return err
			}
			if v.Flags[2]&protocol.NodeFlagDisconnected == 0 {
				return fmt.Errorf("node %d sees node 2 as %s", o, protocol.NodeFlagsString(v.Flags[2]))
			}
		}
		return nil
	})

	c.Env = env
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitAgreed(t, c, clustertest.Want{})
}
