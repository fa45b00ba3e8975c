package startsettings

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/raftlayer/raftmem"
)

// TestAppliedOnceTheClusterTakesThem: the settings wait for a cluster
// state, survive a failed commit, land once, and a second start commits
// nothing that the state already holds.
func TestAppliedOnceTheClusterTakesThem(t *testing.T) {
	tunables := filepath.Join(t.TempDir(), "ctdb.tunables")
	os.WriteFile(tunables, []byte("MonitorInterval=7\nNoSuchTunable=1\nbad line\n"), 0o644)
	want := append(Flags(1, config.Legacy{StartAsStopped: true, StartAsDisabled: true}), TunablesFile(1, tunables, nil)...)
	if len(want) != 3 {
		t.Fatalf("%d settings from two flags and one good tunable line", len(want))
	}

	r := raftmem.New(&raftlayer.State{}, 0) // no cluster state yet
	var commits atomic.Int32
	commit := func(ctx context.Context, c raftlayer.Command) error {
		commits.Add(1)
		_, err := r.Apply(ctx, c)
		return err
	}
	r.FailApply(errors.New("no quorum"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		Apply(context.Background(), r, commit, want, nil)
	}()
	r.Update(func(st *raftlayer.State) {
		*st = *raftlayer.BootstrapState("c", []raftlayer.NodeState{{PNN: 0, Addr: "127.0.0.1"}, {PNN: 1, Addr: "127.0.0.2"}})
	})
	testutil.WaitFor(t, 10*time.Second, "a commit tried", func() error {
		if commits.Load() == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	r.FailApply(nil)
	r.Update(func(*raftlayer.State) {}) // a new state: try again now
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the settings were never applied")
	}
	st, _ := r.Current()
	if v, _ := st.TunableByName(1, "MonitorInterval"); !st.Nodes[1].Stopped || !st.Nodes[1].Disabled || v != 7 {
		t.Fatalf("node 1: stopped %v disabled %v MonitorInterval %d", st.Nodes[1].Stopped, st.Nodes[1].Disabled, v)
	}
	if v, _ := st.TunableByName(0, "MonitorInterval"); v == 7 || st.Nodes[0].Stopped {
		t.Fatal("node 1's settings changed node 0")
	}
	before := commits.Load()
	Apply(context.Background(), r, commit, want, nil)
	if commits.Load() != before {
		t.Fatal("settings the state already holds were committed again")
	}
}
