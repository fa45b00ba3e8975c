package server_test

import (
	"strings"
	"testing"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// TestMemoryDumps: DUMP_MEMORY answers with the Go runtime's report, and a
// MEM_DUMP message (4.17's recovery daemon's) sends it to the reply
// address it names, across nodes too.
func TestMemoryDumps(t *testing.T) {
	c := clustertest.Start(t, 2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	const head = "full talloc report on 'rctdb ctdbd (Go runtime)' (total "
	for dest := uint32(0); dest < 2; dest++ {
		r, err := c.Client(0).DumpMemory(ctx, dest)
		if err != nil || !strings.HasPrefix(r, head) || !strings.Contains(r, "\n    heap objects ") {
			t.Errorf("DUMP_MEMORY of node %d: %v\n%s", dest, err, r)
		}
		r, err = c.Client(0).RecoveryDaemonMemory(ctx, dest)
		if err != nil || !strings.HasPrefix(r, head) || !strings.Contains(r, "\n    goroutine stacks ") {
			t.Errorf("MEM_DUMP to node %d: %v\n%s", dest, err, r)
		}
	}
}
