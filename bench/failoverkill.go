package bench

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// The failover workload from the settling before the kill to the checks
// at the end.

// recoveryHoldSlack is added to the end of the last recovery a node
// reports when the cluster cannot tell when its hold of new recoveries
// began: ctdbd's recovery daemon starts it only after the takeover run that
// follows the recovery, which clients cannot see (2.9 s after the
// recovery's end, at most, on a busy 2-core machine).
const recoveryHoldSlack = 5 * time.Second

// settle waits until the addresses were balanced for Quiet and, for a
// daemon that holds recoveries back, until that hold ended (its
// RerecoveryTimeout after the hold began, plus half a second); then it
// checks that the victim still has the role the run measures.
func (r *failoverRun) settle(ctx context.Context, balancedAt time.Time) error {
	start := time.Now()
	until := balancedAt.Add(r.p.Quiet)
	if r.c.HoldsRecoveries {
		last, hold, err := r.lastRecovery(ctx)
		if err != nil {
			return err
		}
		began := last.Add(recoveryHoldSlack)
		if r.c.LastHoldStart != nil {
			if began, err = r.c.LastHoldStart(); err != nil {
				return fmt.Errorf("failover: when %s last held recoveries: %w", r.c.Name, err)
			}
		}
		if t := began.Add(hold + 500*time.Millisecond); t.After(until) {
			until = t
		}
	}
	if err := sleepCtx(ctx, time.Until(until)); err != nil {
		return err
	}
	r.o.Settle = time.Since(start)
	l, err := r.leader(ctx, int(r.o.Victim+1)%len(r.c.Sockets))
	if err != nil {
		return err
	}
	if (l == r.o.Victim) != r.p.KillLeader {
		return fmt.Errorf("failover: the leader moved from node %d to node %d before the kill", r.o.Leader, l)
	}
	a := netip.MustParseAddr(r.o.Addr)
	if on, err := r.holders(a); err != nil || !slices.Equal(on, []int{int(r.o.Victim)}) {
		return fmt.Errorf("failover: %s moved to %v (%v) before the kill", a, on, err)
	}
	return nil
}

// lastRecovery returns when the last recovery any node reports finished
// and the daemon's RerecoveryTimeout.
func (r *failoverRun) lastRecovery(ctx context.Context) (time.Time, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hold := 10 * time.Second
	var last time.Time
	for k := range r.c.Sockets {
		c, err := r.admin(ctx, k)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("failover: node %d: %w", k, err)
		}
		if k == 0 {
			if v, err := c.GetTunable(ctx, protocol.CurrentNode, "RerecoveryTimeout"); err == nil {
				hold = time.Duration(v) * time.Second
			}
		}
		u, err := c.Uptime(ctx, protocol.CurrentNode)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("failover: uptime of node %d: %w", k, err)
		}
		if f := time.Unix(u.LastRecoveryFinished.Sec, u.LastRecoveryFinished.Usec*1000); u.LastRecoveryFinished.Sec > 0 && f.After(last) {
			last = f
		}
	}
	return last, hold, nil
}

// killAndWait closes the victim's listener, kills its daemon and measures
// until a is on a survivor's interface and until it answers there.
func (r *failoverRun) killAndWait(ctx context.Context, a netip.Addr) error {
	victim := int(r.o.Victim)
	if c := r.admins[victim]; c != nil {
		c.Close()
		r.admins[victim] = nil
	}
	r.listeners[victim].Close()
	r.mu.Lock()
	r.dead = victim
	r.mu.Unlock()
	killedAt := time.Now()
	if err := r.c.Kill(r.o.Victim); err != nil {
		return fmt.Errorf("failover: kill node %d: %w", victim, err)
	}
	r.p.Log.Info("failover: killed", "target", r.c.Name, "node", victim, "leader", r.o.Leader, "addr", a)
	deadline := killedAt.Add(r.p.Timeout)
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	var onSurvivor time.Duration
	var holdersErr error
	wg.Go(func() { onSurvivor, holdersErr = r.waitOnSurvivor(wctx, a, victim, killedAt) })
	defer wg.Wait()
	var last error
	for {
		r.o.Attempts++
		by, err := r.ask(a, 100*time.Millisecond)
		now := time.Now()
		if err == nil && by != victim {
			r.o.Answered, r.o.AnsweredBy = now.Sub(killedAt), by
			break
		}
		if err == nil {
			err = fmt.Errorf("answered by the killed node %d", by)
		}
		last = err
		if now.After(deadline) {
			return fmt.Errorf("failover: %s did not answer on a survivor within %v of the kill: %v", a, r.p.Timeout, last)
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
	wg.Wait()
	if holdersErr != nil {
		return fmt.Errorf("failover: %w", holdersErr)
	}
	// The poller looks every Poll: an answer can come before it noticed.
	r.o.OnSurvivor = min(onSurvivor, r.o.Answered)
	r.p.Log.Info("failover: answered", "target", r.c.Name, "addr", a, "by", r.o.AnsweredBy, "on a survivor after", onSurvivor.Round(time.Millisecond),
		"answered after", r.o.Answered.Round(time.Millisecond))
	return nil
}

// waitOnSurvivor polls a's holders until a survivor has it.
func (r *failoverRun) waitOnSurvivor(ctx context.Context, a netip.Addr, victim int, killedAt time.Time) (time.Duration, error) {
	for {
		on, err := r.holders(a)
		now := time.Now()
		if err != nil {
			return 0, err
		}
		if slices.ContainsFunc(on, func(k int) bool { return k != victim }) {
			return now.Sub(killedAt), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s on no survivor within %v of the kill", a, now.Sub(killedAt).Round(time.Millisecond))
		case <-time.After(r.p.Poll):
		}
	}
}

// holders lists the nodes that have a on an interface.
func (r *failoverRun) holders(a netip.Addr) ([]int, error) {
	pl, err := r.c.Net.Placement([]netip.Addr{a})
	if err != nil {
		return nil, err
	}
	return pl[a], nil
}

// checkEnd waits until every address is on exactly one survivor, then
// checks that a answered on the survivor that has it and that every
// address answers on its survivor.
func (r *failoverRun) checkEnd(ctx context.Context, a netip.Addr) error {
	victim := int(r.o.Victim)
	var holders map[netip.Addr]int
	var last error
	deadline := time.Now().Add(r.p.Timeout)
	for {
		holders, last = r.survivorHolders(victim)
		if last == nil {
			break
		}
		if time.Now().After(deadline) {
			r.o.fail("after the kill the addresses did not settle on the survivors within %v: %v", r.p.Timeout, last)
			return nil
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if holders[a] != r.o.AnsweredBy {
		r.o.fail("%s answered on node %d but settled on node %d", a, r.o.AnsweredBy, holders[a])
	}
	for _, addr := range r.c.Addrs {
		if err := r.answersOn(addr, holders[addr], 10*time.Second); err != nil {
			r.o.fail("at the end: %v", err)
		}
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("%s answered on node %d, the one survivor that has it; at the end every address is on exactly one survivor %v and answers there",
		a, r.o.AnsweredBy, fmtHolders(holders)))
	return nil
}

// survivorHolders returns each address's holder among the survivors if
// every address is on exactly one of them.
func (r *failoverRun) survivorHolders(victim int) (map[netip.Addr]int, error) {
	pl, err := r.c.Net.Placement(r.c.Addrs)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]int{}
	for _, a := range r.c.Addrs {
		on := slices.DeleteFunc(pl[a], func(k int) bool { return k == victim })
		if len(on) != 1 {
			return nil, fmt.Errorf("%s is on survivors %v", a, on)
		}
		out[a] = on[0]
	}
	return out, nil
}

// overlapSampler looks every 10 ms for an address on two live nodes.
type overlapSampler struct {
	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
	overlaps []string // written by the sampling goroutine, read after done
}

// sampleOverlaps starts sampling where addrs are; dead says which node
// to leave out (-1: none), as it may change during the run.
func sampleOverlaps(n FailoverNet, addrs []netip.Addr, dead func() int) *overlapSampler {
	s := &overlapSampler{quit: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if doubled := liveOverlaps(n, addrs, dead()); len(doubled) > 0 {
				// A move between two reads is no overlap: the nodes
				// must still have it when asked again.
				for a, on := range liveOverlaps(n, addrs, dead()) {
					if slices.Equal(on, doubled[a]) {
						s.overlaps = append(s.overlaps, fmt.Sprintf("%s on nodes %v at +%v", a, on, time.Since(start).Round(time.Millisecond)))
					}
				}
			}
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// deadNode is the node killed so far (-1: none).
func (r *failoverRun) deadNode() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead
}

// liveOverlaps returns the addresses on more than one node other than
// dead, and those nodes.
func liveOverlaps(n FailoverNet, addrs []netip.Addr, dead int) map[netip.Addr][]int {
	pl, err := n.Placement(addrs)
	if err != nil {
		return nil
	}
	var out map[netip.Addr][]int
	for a, on := range pl {
		if on = slices.DeleteFunc(on, func(k int) bool { return k == dead }); len(on) > 1 {
			if out == nil {
				out = map[netip.Addr][]int{}
			}
			out[a] = on
		}
	}
	return out
}

// stop ends the sampling and returns what it found.
func (s *overlapSampler) stop() []string {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	return s.overlaps
}

// judge stops the sampler and records in v whether it found an address
// on two of the nodes it watched (named by which); it returns the
// samples that did.
func (s *overlapSampler) judge(v *Verdict, which string) []string {
	ov := s.stop()
	if len(ov) > 0 {
		v.fail("an address was on two %s (%d samples), first: %s", which, len(ov), ov[0])
	} else {
		v.Checks = append(v.Checks, "sampled every 10 ms from balance to the end: never an address on two "+which)
	}
	return ov
}

func fmtHolders(h map[netip.Addr]int) string {
	addrs := make([]netip.Addr, 0, len(h))
	for a := range h {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	var parts []string
	for _, a := range addrs {
		parts = append(parts, fmt.Sprintf("%s:%d", a, h[a]))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
