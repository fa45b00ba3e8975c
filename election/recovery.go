package election

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Index is a Raft index at or after the view that started the
	// recovery. A node takes part only once it has applied it, so that no
	// older view can thaw it afterwards.
	Index uint64
	// Active nodes serve the new generation and receive the records.
	Active []uint32
	// From are the nodes whose copies of records count; unreachable ones
	// that are not active are skipped.
	From []uint32
}

// RecoveryError is a recovery that failed because of one node.
type RecoveryError struct {
	Node uint32
	Err  error
}

func (e *RecoveryError) Error() string { return fmt.Sprintf("node %d: %v", e.Node, e.Err) }
func (e *RecoveryError) Unwrap() error { return e.Err }

// recoveryFailLimit is how many recoveries in a row may fail because of
// the same node before it is banned, as ctdbd bans a node that keeps
// failing recoveries.
const recoveryFailLimit = 3

// recover runs the recovery the committed view asks for and ends it.
func (m *Manager) recover(st *raftlayer.State) error {
	plan := RecoveryPlan{
		Generation: st.View.Generation,
		Index:      m.raft.AppliedIndex(),
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
		if v, ok := st.Tunable("RecoverTimeout"); ok && v > 0 {
			timeout = time.Duration(v) * time.Second
		}
		ctx, cancel := context.WithTimeout(m.ctx, timeout)
		err := m.cfg.Recoverer.Recover(ctx, plan)
		cancel()
		if err != nil {
			m.mRecFailures.Inc()
			m.blame(st, err)
			return fmt.Errorf("recovery of generation %d: %w", plan.Generation, err)
		}
	}
	clear(m.recoveryFailures)
	m.mRecoveries.Inc()
	m.mRecDuration.UpdateDuration(start)

	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	v := st.View
	v.VNNMap, v.Disconnected, v.Unhealthy = slices.Clone(v.VNNMap), slices.Clone(v.Disconnected), slices.Clone(v.Unhealthy)
	v.Recovering, v.RecoverFrom, v.Members, v.DecidedBy = false, nil, plan.Active, m.self
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq}); err != nil {
		return fmt.Errorf("end recovery of generation %d: %w", plan.Generation, err)
	}
	m.mViewCommits.Inc()
	m.log.Info("recovery complete", "generation", plan.Generation, "active", plan.Active,
		"from", plan.From, "duration", time.Since(start))
	return nil
}

// blame counts a failed recovery against the node it failed on and bans
// that node once it failed recoveries recoveryFailLimit times in a row.
func (m *Manager) blame(st *raftlayer.State, err error) {
	var re *RecoveryError
	if !errors.As(err, &re) {
		return
	}
	for p := range m.recoveryFailures {
		if p != re.Node {
			delete(m.recoveryFailures, p)
		}
	}
	m.recoveryFailures[re.Node]++
	if m.recoveryFailures[re.Node] < recoveryFailLimit || !slices.Contains(st.Active(), re.Node) {
		return
	}
	delete(m.recoveryFailures, re.Node)
	if v, _ := st.Tunable("EnableBans"); v == 0 {
		return
	}
	secs, _ := st.Tunable("RecoveryBanPeriod")
	m.log.Warn("banning a node that keeps failing recoveries", "pnn", re.Node, "seconds", secs, "err", re.Err)
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	until := time.Now().Add(time.Duration(secs) * time.Second).UnixNano()
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdBan{PNN: re.Node, Seconds: secs, Until: until}); err != nil {
		m.log.Warn("ban after failed recoveries not committed", "pnn", re.Node, "err", err)
	}
}

// ForceRecovery starts a recovery with a new generation, as ctdbd does when
// told to enter recovery mode. Any node may ask; the leader runs it.
func (m *Manager) ForceRecovery(ctx context.Context) error {
	st, _ := m.raft.State()
	if !st.Initialized() || st.View.Generation == 0 {
		return errors.New("force recovery: the cluster has no view yet")
	}
	v := st.Clone().View
	v.Generation = newGeneration(st.View.Generation)
	v.DecidedBy = m.self
	if !v.Recovering {
		v.Recovering, v.RecoverFrom = true, v.Members
	}
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq}); err != nil {
		return fmt.Errorf("force recovery: %w", err)
	}
	m.log.Info("recovery requested", "generation", v.Generation)
	m.wake()
	return nil
}
