package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/raftlayer"
)

// Recoverer makes the databases of a new generation's nodes agree. The
// leader calls it after committing a view that starts a recovery, and
// commits the view that ends the recovery only once it succeeded; until
// then every node keeps its volatile databases frozen.
type Recoverer interface {
	Recover(ctx context.Context, p RecoveryPlan) error
}

// RecoveryPlan is one recovery to run.
type RecoveryPlan struct {
	Generation uint32
	// Active nodes serve the new generation and receive the records.
	Active []uint32
	// From are the nodes whose copies of records count; unreachable ones
	// that are not active are skipped.
	From []uint32
}

// recover runs the recovery the committed view asks for and ends it.
func (m *Manager) recover(st *raftlayer.State) error {
	plan := RecoveryPlan{
		Generation: st.View.Generation,
		Active:     st.Active(),
		From:       st.View.RecoverFrom,
	}
	if len(plan.From) == 0 {
		// The first generation: nobody held records before it.
		plan.From = plan.Active
	}
	start := time.Now()
	if m.cfg.Recoverer != nil {
		timeout := 30 * time.Second
		if v := st.Tunable().RecoverTimeout; v > 0 {
			timeout = time.Duration(v) * time.Second
		}
		ctx, cancel := context.WithTimeout(m.ctx, timeout)
		err := m.cfg.Recoverer.Recover(ctx, plan)
		cancel()
		if err != nil {
			return fmt.Errorf("recovery of generation %d: %w", plan.Generation, err)
		}
	}

	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	v := st.Clone().View
	v.Recovering, v.RecoverFrom, v.Members, v.DecidedBy = false, nil, st.MembersNow(plan.Active), m.self
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq}); err != nil {
		return fmt.Errorf("end recovery of generation %d: %w", plan.Generation, err)
	}
	m.mViewCommits.Inc()
	m.log.Info("recovery complete", "generation", plan.Generation, "active", plan.Active,
		"from", plan.From, "duration", time.Since(start))
	return nil
}

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
