package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/localcluster"
)

// TestReplicatedDatabaseAfterARestartFromSnapshot: a replicated database
// lives in the volatile directory, whose files of an earlier run the
// daemon removes at start. A node that restores its databases from a Raft
// snapshot opens the replicated file before that removal could run; the
// removal must not take the file from under it (clients then found no
// file at the path GETDBPATH names).
func TestReplicatedDatabaseAfterARestartFromSnapshot(t *testing.T) {
	const rdb = "restart_replicated.tdb"
	c := clusterWith(t, localcluster.Options{N: 1, Extra: "[raft]\n\tsnapshot interval = 20ms\n\tsnapshot threshold = 1\n"})
	mustTool(t, c, 0, "attach", rdb, "replicated")
	mustTool(t, c, 0, "pstore", rdb, "k", "before")
	stored := time.Now().UnixMilli()
	waitUntil(t, 20*time.Second, "a snapshot taken after the store", func() error {
		metas, _ := filepath.Glob(filepath.Join(c.Nodes[0].Dir, "raft", "snapshots", "*", "meta.json"))
		for _, m := range metas {
			// hashicorp/raft names a snapshot TERM-INDEX-UNIXMILLI.
			parts := strings.Split(filepath.Base(filepath.Dir(m)), "-")
			if ms, err := strconv.ParseInt(parts[len(parts)-1], 10, 64); err == nil && ms > stored {
				return nil
			}
		}
		return fmt.Errorf("%d snapshots, none newer than the store", len(metas))
	})
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitNodesOK(ctx, []uint32{0}, []uint32{0}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readLog(t, c, 0), "restored persistent databases from snapshot") {
		t.Fatal("the node started without a snapshot; the test means to cover one")
	}
	path := filepath.Join(c.Nodes[0].Dir, "volatile", rdb+".0")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the replicated database's file after the restart: %v", err)
	}
	if out := mustTool(t, c, 0, "pfetch", rdb, "k"); out != "before\n" {
		t.Fatalf("pfetch after the restart: %q", out)
	}
	mustTool(t, c, 0, "pstore", rdb, "k", "after")
	if out := mustTool(t, c, 0, "pfetch", rdb, "k"); out != "after\n" {
		t.Fatalf("pfetch of a store after the restart: %q", out)
	}
}
