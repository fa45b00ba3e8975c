package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// TestBanExpiresDuringLongRecovery: while a recovery cannot finish (smbd
// holds a chain lock on one node, so that node's database cannot freeze),
// the leader still lifts a ban when it expires: the recovery runs off the
// election's loop.
func TestBanExpiresDuringLongRecovery(t *testing.T) {
	c := clustertest.Start(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	ctx := tctx(t)
	const name = "long.tdb"
	if r, err := c.Client(0).Control(ctx, protocol.CurrentNode, protocol.ControlDBAttach, 0, 0, append([]byte(name), 0)); err != nil || r.Status != 0 {
		t.Fatalf("attach: %v %+v", err, r)
	}
	path := filepath.Join(c.Config(1).Database.VolatileDir, name+".1")
	clustertest.WaitFor(t, 10*time.Second, "node 1 to attach "+name, func() error {
		_, err := os.Stat(path)
		return err
	})
	// smbd on node 1 holds a chain: node 1 cannot freeze the database.
	smbd, err := tdb.OpenLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer smbd.Close()
	if err := smbd.Lock(tdb.ChainOffset(0), 1); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			smbd.Unlock(tdb.ChainOffset(0), 1)
		}
	}()

	// A 2 s ban of node 2 changes the active set: a recovery starts, and
	// stalls on node 1.
	start := time.Now()
	if err := c.Client(2).SetBanState(ctx, 2, 2); err != nil {
		t.Fatal(err)
	}
	waitFlags(t, c, []uint32{0, 1}, map[uint32]uint32{2: protocol.NodeFlagBanned})
	clustertest.WaitFor(t, 10*time.Second, "the ban to expire", func() error {
		f, err := flagsSeenBy(c, 0)
		if err != nil {
			return err
		}
		if f[2]&protocol.NodeFlagBanned != 0 {
			return errors.New("node 2 still banned")
		}
		return nil
	})
	lifted := time.Since(start)
	recmode, err := c.Client(0).GetRecMode(ctx, protocol.CurrentNode)
	if err != nil {
		t.Fatal(err)
	}
	if recmode != protocol.RecoveryActive {
		t.Fatalf("the recovery ended while smbd held the lock (recmode %d): the test proved nothing", recmode)
	}
	t.Logf("2 s ban lifted %v after it was set, with the recovery still stalled", lifted.Round(time.Millisecond))
	if lifted < 2*time.Second || lifted > 4*time.Second {
		t.Fatalf("2 s ban lifted after %v", lifted)
	}

	// smbd lets go: the recovery completes and the cluster agrees again.
	smbd.Unlock(tdb.ChainOffset(0), 1)
	locked = false
	clustertest.WaitAgreed(t, c, clustertest.Want{Timeout: 30 * time.Second})
}
