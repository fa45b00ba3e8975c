// Package raftmem is an in-memory stand-in for a Raft node, for the tests
// of packages that follow and change the replicated state: commands apply
// to a State at once, in call order, and every change wakes the watchers.
package raftmem

import (
	"context"
	"sync"

	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/raftlayer"
)

// Raft holds a replicated state in memory. It is always the leader unless
// SetLeader says otherwise.
type Raft struct {
	changed       watch.Signal
	leaderChanged watch.Signal

	mu     sync.Mutex
	st     *raftlayer.State
	index  uint64
	leader uint32
	// failApply, when set, fails every Apply.
	failApply error
}

// New returns a Raft whose state is st (which it owns from then on) and
// whose leader is pnn leader.
func New(st *raftlayer.State, leader uint32) *Raft {
	return &Raft{st: st, index: 1, leader: leader}
}

// Current returns the state and its index. The state is shared: never
// modify it.
func (r *Raft) Current() (*raftlayer.State, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st, r.index
}

// LinearizableState is the current state: with no log, nothing committed
// can still be on its way.
func (r *Raft) LinearizableState(ctx context.Context) (*raftlayer.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, _ := r.Current()
	return st, nil
}

// Watch is closed at the next change of the state.
func (r *Raft) Watch() <-chan struct{} { return r.changed.Changed() }

// Initialized reports whether the state has a cluster id.
func (r *Raft) Initialized() bool {
	st, _ := r.Current()
	return st.Initialized()
}

// Apply applies c to a copy of the state and publishes it; a refused
// command leaves the state as it was and returns its error.
func (r *Raft) Apply(ctx context.Context, c raftlayer.Command) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.Lock()
	if r.failApply != nil {
		err := r.failApply
		r.mu.Unlock()
		return 0, err
	}
	next := r.st.Clone()
	if err := next.Apply(c); err != nil {
		r.mu.Unlock()
		return 0, err
	}
	r.st = next
	r.index++
	idx := r.index
	r.mu.Unlock()
	r.changed.Notify()
	return idx, nil
}

// Update changes the state with f (on a copy) and publishes it, for tests
// that set up what no command expresses.
func (r *Raft) Update(f func(st *raftlayer.State)) {
	r.mu.Lock()
	next := r.st.Clone()
	f(next)
	r.st = next
	r.index++
	r.mu.Unlock()
	r.changed.Notify()
}

// FailApply makes every later Apply return err (nil: succeed again).
func (r *Raft) FailApply(err error) {
	r.mu.Lock()
	r.failApply = err
	r.mu.Unlock()
}

// SetLeader makes pnn the leader.
func (r *Raft) SetLeader(pnn uint32) {
	r.mu.Lock()
	r.leader = pnn
	r.mu.Unlock()
	r.leaderChanged.Notify()
}

// Leader returns the leader's pnn.
func (r *Raft) Leader() (uint32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader, true
}

// LeaderChanged is closed at the next change of leader.
func (r *Raft) LeaderChanged() <-chan struct{} { return r.leaderChanged.Changed() }
