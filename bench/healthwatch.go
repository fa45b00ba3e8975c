package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// The health workload from the tunables to the checks at the end.

// setTunables sets MonitorInterval and NoIPFailback 0 on every node (the
// real ctdbd keeps tunables per node) and checks that every node has them.
func (r *healthRun) setTunables(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.p.Timeout)
	defer cancel()
	secs := uint32(r.p.MonitorInterval / time.Second)
	r.tunedAt = time.Now()
	want := []struct {
		name  string
		value uint32
	}{{"MonitorInterval", secs}, {"NoIPFailback", 0}}
	for _, check := range []bool{false, true} {
		for k := range r.c.Sockets {
			c, err := r.fr.admin(ctx, k)
			if err != nil {
				return fmt.Errorf("health: tunables of node %d: %w", k, err)
			}
			for _, t := range want {
				if !check {
					if _, err := c.SetTunable(ctx, protocol.CurrentNode, t.name, t.value); err != nil {
						return fmt.Errorf("health: set %s on node %d: %w", t.name, k, err)
					}
					continue
				}
				if v, err := c.GetTunable(ctx, protocol.CurrentNode, t.name); err != nil || v != t.value {
					return fmt.Errorf("health: node %d has %s %d (%v), want %d", k, t.name, v, err, t.value)
				}
			}
		}
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("MonitorInterval %d and NoIPFailback 0 on every node", secs))
	return nil
}

// serve waits until every address answers SMB, checks that they are still
// balanced, and lists the share through each.
func (r *healthRun) serve(ctx context.Context) error {
	deadline := time.Now().Add(r.p.Timeout)
	for _, a := range r.c.Addrs {
		if err := r.smb.waitAnswer(ctx, a, deadline, r.p.Poll); err != nil {
			return fmt.Errorf("health: before the kill: %w", err)
		}
	}
	holders, err := r.fr.balanced()
	if err != nil {
		return fmt.Errorf("health: no longer balanced: %w", err)
	}
	if err := r.listShares(ctx); err != nil {
		return fmt.Errorf("health: before the kill: %w", err)
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("before the kill every address answered SMB on its holder %v%s", fmtHolders(holders), r.listedNote()))
	return nil
}

func (r *healthRun) listedNote() string {
	if r.c.ListShare == nil {
		return ""
	}
	return " and listed the share"
}

// listShares lists the share through every address at once (a client
// process each).
func (r *healthRun) listShares(ctx context.Context) error {
	if r.c.ListShare == nil {
		return nil
	}
	errs := make([]error, len(r.c.Addrs))
	var wg sync.WaitGroup
	for i, a := range r.c.Addrs {
		wg.Go(func() {
			if err := r.c.ListShare(ctx, a); err != nil {
				errs[i] = fmt.Errorf("list the share through %s: %w", a, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// chooseVictim picks the address to follow and the node whose smbd dies:
// the address of the last node that is not the leader.
func (r *healthRun) chooseVictim(ctx context.Context) (netip.Addr, error) {
	l, err := r.fr.leader(ctx, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("health: %w", err)
	}
	r.o.Leader = l
	holders, err := r.fr.balanced()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("health: no longer balanced: %w", err)
	}
	for k := len(r.c.Sockets) - 1; k >= 0; k-- {
		if uint32(k) == l {
			continue
		}
		for _, a := range r.c.Addrs {
			if holders[a] == k {
				r.o.Victim, r.o.Addr = uint32(k), a.String()
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("health: no node but the leader %d holds an address: %v", l, fmtHolders(holders))
}

// cadenceWatch follows a node's completed monitors. Both daemons wait an
// interval from the end of one monitor to the start of the next and then
// double it, up to MonitorInterval (a change of health sets it to 5 s):
// once two passing monitors in a row were at least half MonitorInterval
// apart, the next monitor is MonitorInterval away. ctdbd caps the doubled
// interval when a monitor ends and waits it out after the next one, so
// the first of the two must have ended after MonitorInterval was set
// (since): until then the old cap holds.
type cadenceWatch struct {
	interval time.Duration
	since    time.Time
	last     MonitorRun
}

// observe takes the node's last completed monitor; it returns the pause
// before it and true when it is a new one after which the cadence has
// reached the interval.
func (w *cadenceWatch) observe(m MonitorRun) (time.Duration, bool) {
	if m.End.IsZero() || m.End.Equal(w.last.End) {
		return 0, false
	}
	prev := w.last
	w.last = m
	if prev.End.IsZero() || !prev.OK || !m.OK || !prev.End.After(w.since) {
		return 0, false
	}
	gap := m.Begin.Sub(prev.End)
	return gap, 2*gap >= w.interval
}

// settle waits until a monitor of the victim has just ended after which
// the next is MonitorInterval away, so that every run kills smbd at the
// same point of the cadence (the worst: a whole interval to the next
// monitor); then it checks that the victim still holds a.
func (r *healthRun) settle(ctx context.Context, a netip.Addr) error {
	victim := int(r.o.Victim)
	// The cadence from a node's first good monitor: 5 s, 10 s, ... up
	// to MonitorInterval; two intervals to see it there.
	deadline := time.Now().Add(4*r.p.MonitorInterval + r.p.Timeout)
	w := cadenceWatch{interval: r.p.MonitorInterval, since: r.tunedAt}
	for {
		m, err := r.c.LastMonitor(ctx, victim)
		if err != nil {
			return fmt.Errorf("health: node %d's last monitor: %w", victim, err)
		}
		if gap, ok := w.observe(m); ok {
			r.o.CadenceGap = gap
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("health: node %d's monitor cadence did not reach MonitorInterval %v in time (last monitor: %+v)", victim, r.p.MonitorInterval, w.last)
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
	if on, err := r.fr.holders(a); err != nil || !slices.Equal(on, []int{victim}) {
		return fmt.Errorf("health: %s moved to %v (%v) before the kill", a, on, err)
	}
	return nil
}

// killAndWatch kills the victim's smbd and measures until every node
// shows it UNHEALTHY and until a answers SMB on another node; it returns
// the monitor that failed.
func (r *healthRun) killAndWatch(ctx context.Context, a netip.Addr) (MonitorRun, error) {
	victim := int(r.o.Victim)
	killedAt := time.Now()
	if err := r.c.KillSMB(victim); err != nil {
		return MonitorRun{}, fmt.Errorf("health: kill smbd on node %d: %w", victim, err)
	}
	r.p.Log.Info("health: smbd killed", "target", r.c.Name, "node", victim, "leader", r.o.Leader, "addr", a)
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, cancel := context.WithDeadline(ctx, killedAt.Add(r.p.MonitorInterval+r.p.Timeout))
	defer cancel()
	var moved movedResult
	wg.Go(func() { moved = r.waitMoved(wctx, a, victim, killedAt) })
	unhealthyAt, err := r.waitFlags(wctx, victim, func(f uint32) bool { return f&protocol.NodeFlagUnhealthy != 0 })
	if err != nil {
		return MonitorRun{}, fmt.Errorf("health: node %d UNHEALTHY on every node after the kill of its smbd: %w", victim, err)
	}
	failing, err := r.c.LastMonitor(ctx, victim)
	wg.Wait()
	if err != nil {
		return MonitorRun{}, fmt.Errorf("health: node %d's last monitor: %w", victim, err)
	}
	if moved.err != nil {
		return MonitorRun{}, fmt.Errorf("health: %w", moved.err)
	}
	r.o.Unhealthy = unhealthyAt.Sub(killedAt)
	r.o.Answered, r.o.AnsweredBy, r.o.Attempts = moved.after, moved.by, moved.attempts
	r.o.FailPhase, r.o.FailRun, r.o.FailReaction = failing.Begin.Sub(killedAt), failing.End.Sub(failing.Begin), unhealthyAt.Sub(failing.End)
	r.o.FailScripts = failing.Scripts
	switch {
	case failing.OK:
		r.o.fail("node %d is UNHEALTHY, but its last monitor passed", victim)
	case failing.Begin.Before(killedAt):
		r.o.fail("node %d's failing monitor began %v before the kill", victim, killedAt.Sub(failing.Begin))
	default:
		r.o.Checks = append(r.o.Checks, fmt.Sprintf("node %d's monitor failed: %s", victim, failing.Failure))
	}
	r.p.Log.Info("health: moved", "target", r.c.Name, "unhealthy after", r.o.Unhealthy.Round(time.Millisecond),
		"addr", a, "answered by", moved.by, "after", moved.after.Round(time.Millisecond))
	return failing, nil
}

// movedResult is how the address answered after the kill.
type movedResult struct {
	after    time.Duration
	by       int
	attempts int
	err      error
}

// waitMoved asks a for SMB every Poll until it answers while exactly one
// node other than the victim has it.
func (r *healthRun) waitMoved(ctx context.Context, a netip.Addr, victim int, killedAt time.Time) movedResult {
	var res movedResult
	var last error
	for {
		res.attempts++
		err := r.smb.answers(a)
		now := time.Now()
		if err == nil {
			on, perr := r.fr.holders(a)
			if perr == nil && len(on) == 1 && on[0] != victim {
				res.after, res.by = now.Sub(killedAt), on[0]
				return res
			}
			err = fmt.Errorf("answered while on nodes %v (%v)", on, perr)
		}
		last = err
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			res.err = fmt.Errorf("%s did not answer SMB on another node within %v of the kill: %v", a, time.Since(killedAt).Round(time.Millisecond), last)
			return res
		}
	}
}

// waitFlags looks at every node's node map every Poll until each shows
// node pnn's flags passing check, and returns when the look ended.
func (r *healthRun) waitFlags(ctx context.Context, pnn int, check func(uint32) bool) (time.Time, error) {
	for {
		last := r.flagsOnAll(ctx, pnn, check)
		if last == nil {
			return time.Now(), nil
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return time.Time{}, fmt.Errorf("%w (last look: %v)", err, last)
		}
	}
}

// flagsOnAll checks that every node shows node pnn's flags passing check.
func (r *healthRun) flagsOnAll(ctx context.Context, pnn int, check func(uint32) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for k := range r.c.Sockets {
		c, err := r.fr.admin(ctx, k)
		if err != nil {
			return fmt.Errorf("node %d: %w", k, err)
		}
		nm, err := c.GetNodeMap(ctx, protocol.CurrentNode)
		if err != nil {
			return fmt.Errorf("node %d: node map: %w", k, err)
		}
		i := slices.IndexFunc(nm.Nodes, func(n protocol.NodeInfo) bool { return n.PNN == uint32(pnn) })
		if i < 0 {
			return fmt.Errorf("node %d does not show node %d", k, pnn)
		}
		if f := nm.Nodes[i].Flags; !check(f) {
			return fmt.Errorf("node %d shows node %d %s", k, pnn, protocol.NodeFlagsString(f))
		}
	}
	return nil
}

// restartAndWatch waits for the victim's next monitor after failing
// (smbd still dead: it fails too), starts smbd right after it, and
// measures until every node shows the victim healthy and until it holds
// a public address.
func (r *healthRun) restartAndWatch(ctx context.Context, failing MonitorRun) error {
	victim := int(r.o.Victim)
	deadline := time.Now().Add(r.p.MonitorInterval + r.p.Timeout)
	for {
		m, err := r.c.LastMonitor(ctx, victim)
		if err != nil {
			return fmt.Errorf("health: node %d's last monitor: %w", victim, err)
		}
		if m.End.After(failing.End) {
			if m.OK {
				r.o.fail("node %d's monitor passed while its smbd was dead", victim)
			}
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("health: node %d ran no monitor within %v of the failing one", victim, r.p.MonitorInterval+r.p.Timeout)
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
	startedAt := time.Now()
	type started struct {
		err  error
		took time.Duration
	}
	done := make(chan started, 1)
	go func() {
		err := r.c.StartSMB(ctx, victim)
		done <- started{err, time.Since(startedAt)}
	}()
	var start *started
	defer func() {
		if start == nil {
			<-done
		}
	}()
	r.p.Log.Info("health: starting smbd", "target", r.c.Name, "node", victim)
	var healthyAt, holdsAt time.Time
	var passing MonitorRun
	var last error
	deadline = startedAt.Add(r.p.MonitorInterval + r.p.Timeout)
	for healthyAt.IsZero() || holdsAt.IsZero() || start == nil {
		select {
		case s := <-done:
			start = &s
			if s.err != nil {
				return fmt.Errorf("health: start smbd on node %d again: %w", victim, s.err)
			}
			r.o.StartCmd = s.took
		default:
		}
		if healthyAt.IsZero() {
			if last = r.flagsOnAll(ctx, victim, func(f uint32) bool { return f == 0 }); last == nil {
				healthyAt = time.Now()
				m, err := r.c.LastMonitor(ctx, victim)
				if err != nil {
					return fmt.Errorf("health: node %d's last monitor: %w", victim, err)
				}
				passing = m
			}
		}
		if holdsAt.IsZero() {
			if pl, err := r.c.Net.Placement(r.c.Addrs); err == nil && holdsAny(pl, victim) {
				holdsAt = time.Now()
			} else if err != nil {
				last = err
			}
		}
		if time.Now().After(deadline) && (healthyAt.IsZero() || holdsAt.IsZero()) {
			return fmt.Errorf("health: node %d healthy everywhere (%v) and holding an address (%v) not within %v of smbd's start: %v",
				victim, !healthyAt.IsZero(), !holdsAt.IsZero(), r.p.MonitorInterval+r.p.Timeout, last)
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
	r.o.Healthy, r.o.HoldsAgain = healthyAt.Sub(startedAt), holdsAt.Sub(startedAt)
	r.o.PassPhase, r.o.PassRun, r.o.PassReaction = passing.Begin.Sub(startedAt), passing.End.Sub(passing.Begin), healthyAt.Sub(passing.End)
	r.o.PassScripts = passing.Scripts
	if !passing.OK || passing.Begin.Before(startedAt) {
		r.o.fail("node %d is healthy, but its last monitor (%+v) is not one that passed after smbd's start", victim, passing)
	}
	r.p.Log.Info("health: back", "target", r.c.Name, "node", victim, "healthy after", r.o.Healthy.Round(time.Millisecond),
		"holds an address after", r.o.HoldsAgain.Round(time.Millisecond))
	return nil
}

func holdsAny(pl map[netip.Addr][]int, k int) bool {
	for _, on := range pl {
		if slices.Contains(on, k) {
			return true
		}
	}
	return false
}

// checkEnd waits until the addresses are balanced again, then checks that
// each answers SMB on its one holder (and lists the share), that smbd runs
// on every node and that every node sees every node OK.
func (r *healthRun) checkEnd(ctx context.Context, a netip.Addr) error {
	var holders map[netip.Addr]int
	var last error
	deadline := time.Now().Add(r.p.Timeout)
	for {
		holders, last = r.fr.balanced()
		if last == nil {
			break
		}
		if time.Now().After(deadline) {
			r.o.fail("at the end the addresses were not balanced within %v: %v", r.p.Timeout, last)
			return nil
		}
		if err := sleepCtx(ctx, r.p.Poll); err != nil {
			return err
		}
	}
	var errs []error
	for _, addr := range r.c.Addrs {
		errs = append(errs, r.smb.waitAnswer(ctx, addr, time.Now().Add(10*time.Second), r.p.Poll))
	}
	errs = append(errs, r.listShares(ctx))
	for k := range r.c.Sockets {
		if ok, err := r.c.SMBRunning(k); err != nil || !ok {
			errs = append(errs, fmt.Errorf("smbd does not run on node %d (%v)", k, err))
		}
	}
	errs = append(errs, r.fr.waitAllOK(ctx, time.Now().Add(r.p.Timeout)))
	if err := errors.Join(errs...); err != nil {
		r.o.fail("at the end: %v", err)
		return nil
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("at the end every address is on exactly one node %v and answers SMB there%s (%s on node %d); smbd runs on every node; every node OK",
		fmtHolders(holders), r.listedNote(), a, holders[a]))
	return nil
}

// smbProber asks public addresses for SMB from the client's side.
type smbProber struct {
	net  FailoverNet
	port uint16
}

// Bounds of one SMB probe: the connect (inside a rig, a reachable address
// connects in well under a millisecond), and the NEGOTIATE's answer (smbd
// forks a process for the connection first).
const (
	smbDialTimeout      = 100 * time.Millisecond
	smbNegotiateTimeout = 2 * time.Second
)

// answers connects to a and negotiates SMB2.
func (s smbProber) answers(a netip.Addr) error {
	conn, err := s.net.Dial(netip.AddrPortFrom(a, s.port), smbDialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = smb2Negotiate(conn, smbNegotiateTimeout)
	return err
}

// waitAnswer asks a every poll until it answers SMB or deadline passes.
func (s smbProber) waitAnswer(ctx context.Context, a netip.Addr, deadline time.Time, poll time.Duration) error {
	for {
		err := s.answers(a)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer SMB: %w", a, err)
		}
		if err := sleepCtx(ctx, poll); err != nil {
			return err
		}
	}
}
