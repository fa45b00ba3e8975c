package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/raftlayer"
)

// Plan is one recovery to run: the generation of the committed view that
// asked for it.
type Plan struct {
	Generation uint32
	// Seq is the sequence number of the view that started the recovery.
	Seq uint64
	// Active nodes serve the new generation and receive the records.
	Active []uint32
	// From are the nodes whose copies of records count; unreachable ones
	// that are not active are skipped.
	From []uint32
}

// PlanFor returns the recovery the committed view asks for; ok is false
// when it asks for none.
func PlanFor(st *raftlayer.State) (p Plan, ok bool) {
	if !st.Initialized() || !st.View.Recovering {
		return Plan{}, false
	}
	p = Plan{Generation: st.View.Generation, Seq: st.View.Seq, Active: st.Active(), From: st.View.RecoverFrom}
	if len(p.From) == 0 {
		// The first generation: nobody held records before it.
		p.From = p.Active
	}
	return p, true
}

// retryAfter is how long a failed recovery waits before it runs again.
const retryAfter = 100 * time.Millisecond

// Start runs the leader's recovery loop until Stop.
func (l *Leader) Start() {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.loop()
	}()
}

// Stop ends the loop, cancels a recovery that runs and waits for it.
func (l *Leader) Stop() {
	close(l.stop)
	l.wg.Wait()
}

// running is the recovery the loop started last.
type running struct {
	gen    uint32
	cancel context.CancelFunc
	done   chan error
}

// loop starts a recovery whenever this node leads and the committed view
// asks for one that is not running yet, cancels it when leadership or the
// generation goes, and runs a failed one again after retryAfter.
func (l *Leader) loop() {
	var cur *running
	// retry holds a failed generation back until it fires; a new
	// generation does not wait for it.
	var retry <-chan time.Time
	var failedGen uint32
	stopRun := func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
			cur = nil
		}
	}
	defer stopRun()
	for {
		watch, leaderCh := l.raft.Watch(), l.raft.LeaderChanged()
		st, _ := l.raft.Current()
		plan, wanted := PlanFor(st)
		wanted = wanted && l.raft.IsLeader()
		if cur != nil && (!wanted || cur.gen != plan.Generation) {
			stopRun()
		}
		if retry != nil && plan.Generation != failedGen {
			retry = nil
		}
		if wanted && cur == nil && retry == nil {
			cur = l.startRun(plan, st.TunablesOf(l.self).RecoverTimeout)
		}
		var done <-chan error
		if cur != nil {
			done = cur.done
		}
		select {
		case <-l.stop:
			return
		case <-watch:
		case <-leaderCh:
		case <-retry:
			retry = nil
		case err := <-done:
			cur = nil
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					l.log.Warn("recovery failed; retrying", "generation", plan.Generation, "err", err)
				}
				retry, failedGen = time.After(retryAfter), plan.Generation
			}
		}
	}
}

// startRun recovers plan's generation and ends the recovery, on its own
// goroutine, within timeout seconds (RecoverTimeout; 0: 30 s).
func (l *Leader) startRun(plan Plan, timeout uint32) *running {
	d := 30 * time.Second
	if timeout > 0 {
		d = time.Duration(timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	r := &running{gen: plan.Generation, cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer cancel()
		start := time.Now()
		err := l.Recover(ctx, plan)
		if err != nil {
			err = fmt.Errorf("recovery of generation %d: %w", plan.Generation, err)
		} else {
			err = l.end(ctx, plan, start)
		}
		r.done <- err
	}()
	return r
}

// end commits the view that ends the recovery of plan's generation: its
// members are the nodes that took part. A view committed meanwhile for the
// same generation (flags that do not change the active set) does not
// void the recovery: the end applies over the current view.
func (l *Leader) end(ctx context.Context, plan Plan, start time.Time) error {
	for {
		st, _ := l.raft.Current()
		if st.View.Generation != plan.Generation || !st.View.Recovering {
			return fmt.Errorf("end recovery of generation %d: superseded by generation %d", plan.Generation, st.View.Generation)
		}
		v := st.Clone().View
		v.Recovering, v.RecoverFrom, v.Members, v.DecidedBy = false, nil, st.MembersNow(plan.Active), l.self
		_, err := l.raft.Apply(ctx, &raftlayer.CmdSetView{View: v, PrevSeq: st.View.Seq})
		var rej *raftlayer.ErrRejected
		if errors.As(err, &rej) && ctx.Err() == nil {
			continue // another view landed first: look again
		}
		if err != nil {
			return fmt.Errorf("end recovery of generation %d: %w", plan.Generation, err)
		}
		l.log.Info("recovery complete", "generation", plan.Generation, "active", plan.Active,
			"from", plan.From, "duration", time.Since(start))
		return nil
	}
}
