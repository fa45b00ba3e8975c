package election

import (
	"context"
	"errors"
	"fmt"

	"github.com/rctdb/rctdb/raftlayer"
)

// ForceRecovery starts a recovery with a new generation, as ctdbd does when
// told to enter recovery mode. Any node may ask; the leader runs it.
func (m *Manager) ForceRecovery(ctx context.Context) error {
	st, _ := m.raft.Current()
	if !st.Initialized() || st.View.Generation == 0 {
		return errors.New("force recovery: the cluster has no view yet")
	}
	v := st.Clone().View
	v.Generation = newGeneration(st.View.Generation)
	v.DecidedBy = m.self
	if !v.Recovering {
		v.Recovering, v.RecoverFrom = true, v.MemberPNNs()
	}
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq}); err != nil {
		return fmt.Errorf("force recovery: %w", err)
	}
	m.log.Info("recovery requested", "generation", v.Generation)
	m.wake()
	return nil
}
