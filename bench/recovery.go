package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// Recovery after a node is killed. A volatile database is filled with
// Records records spread over all nodes (each record written straight
// into the file of its lmaster, as its dmaster); client processes on the
// nodes that will survive fetch-lock and increment a working set of Keys
// records (each key owned by one client, which therefore knows its
// value); one node (by default the last one that is not the leader) is
// killed with SIGKILL while they run. Measured: the time from the kill
// until every survivor is in a new generation and out of recovery (all
// databases thawed), when a survivor first showed the recovery, and when
// every client completed operations again. Checked: no client gave up;
// every record whose last dmaster survived holds its last value (a
// client's last confirmed write, or its fill value); records only the
// killed node held may be gone (CTDB's semantics), and are counted. The
// workload ends the cluster's usefulness (a node is dead), so it is not
// in the standard set: ctdb-bench recovery starts a fresh cluster for
// every run.

const recoveryDBName = "bench_recovery.tdb"

// RecoveryParams configure the recovery workload.
type RecoveryParams struct {
	// Records in the database (default 10,000).
	Records int
	// KillLeader kills the leader; by default the victim is the last
	// node that is not the leader, so that runs of both daemons measure
	// the same thing whichever node won the election.
	KillLeader bool
	// Keys is the working set the clients update (default 10,000; at most
	// Records): the records 0 .. Keys-1.
	Keys int
	// Clients are client processes per surviving node (default 2).
	Clients int
	// Pause is how long a client waits after each update (default 0:
	// the clients update as fast as they can).
	Pause time.Duration
	// After is how long the clients go on after the recovery (default 2s).
	After time.Duration
	// Timeout bounds the wait for the recovery after the kill (default 5m).
	Timeout time.Duration
	// Poll is the interval between two looks at the survivors (default 2ms).
	Poll time.Duration
	// Exe is the ctdb-bench binary for workers (empty: this executable).
	Exe string
	// Log receives progress (nil: none).
	Log *slog.Logger
}

func (p *RecoveryParams) defaults() {
	if p.Records <= 0 {
		p.Records = 10_000
	}
	if p.Keys <= 0 {
		p.Keys = 10_000
	}
	p.Keys = min(p.Keys, p.Records)
	if p.Clients <= 0 {
		p.Clients = 2
	}
	if p.After <= 0 {
		p.After = 2 * time.Second
	}
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Minute
	}
	if p.Poll <= 0 {
		p.Poll = 2 * time.Millisecond
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
}

// RecoveryOutcome is one run of the recovery workload. The embedded
// Outcome carries the client operations and their latency, the checks
// and why the run failed (Err: it could not complete, e.g. the recovery
// did not finish in time; Failed: a check did not hold).
type RecoveryOutcome struct {
	Outcome
	Nodes   int `json:"nodes"`
	Records int `json:"records"`
	Keys    int `json:"keys"`
	Clients int `json:"clients"`
	// Victim is the node killed; Leader the leader before the kill.
	Victim     uint32 `json:"victim"`
	VictimPID  int    `json:"victim_pid"`
	Leader     uint32 `json:"leader"`
	KillLeader bool   `json:"kill_leader"`
	// RoleMoved: the run failed with ErrRoleMoved.
	RoleMoved bool `json:"role_moved,omitempty"`
	// GenBefore is the survivors' generation at the kill, GenAfter the
	// one they thawed in, GenEnd the one at the end of the run.
	GenBefore uint32 `json:"gen_before"`
	GenAfter  uint32 `json:"gen_after"`
	GenEnd    uint32 `json:"gen_end"`
	// Fill is how long writing the records took (all nodes together);
	// Settle how long the run waited before the kill for the daemons'
	// re-recovery timeout to pass since the last recovery.
	Fill   time.Duration `json:"fill"`
	Settle time.Duration `json:"settle"`
	// Detected: kill until a survivor first showed the recovery (in
	// recovery, or a new generation). Thawed: kill until every survivor
	// was in the same new generation with recovery mode NORMAL.
	Detected time.Duration `json:"detected"`
	Thawed   time.Duration `json:"thawed"`
	// Resumed: kill until the last client that was held up completed an
	// operation again (0: none was held up more than 5 ms). MaxStall is
	// the longest such pause of a client.
	Resumed  time.Duration `json:"resumed"`
	MaxStall time.Duration `json:"max_stall"`
	// ClientErrors are failed fetch-locks the clients retried.
	ClientErrors uint64 `json:"client_errors"`
	// Counts are the final check's.
	Counts recCheckCounts `json:"counts"`
}

// ErrRoleMoved fails a run whose victim gained or lost the leadership
// between the choice and the kill (on a loaded machine Raft may move it):
// the run measured nothing, and a fresh run may be made instead.
var ErrRoleMoved = errors.New("the victim's role changed")

// Recovery runs the recovery workload once on a healthy cluster of at
// least two nodes. The cluster is of no further
// use afterwards; the caller stops it (the killed daemon is its child and
// is reaped by it).
func Recovery(ctx context.Context, t Target, p RecoveryParams) RecoveryOutcome {
	p.defaults()
	o := RecoveryOutcome{Outcome: Outcome{Workload: "recovery", Target: t.Name}, Nodes: len(t.Sockets), Records: p.Records, Keys: p.Keys,
		Clients: p.Clients, Leader: protocol.UnknownPNN, Victim: protocol.UnknownPNN, KillLeader: p.KillLeader}
	if err := runRecovery(ctx, t, p, &o); err != nil {
		o.Err = err.Error()
		o.RoleMoved = errors.Is(err, ErrRoleMoved)
	}
	return o
}

// recoveryRun is the state of one run.
type recoveryRun struct {
	t         Target
	p         RecoveryParams
	o         *RecoveryOutcome
	admins    []*client.Client // one per node, in pnn order
	survivors []int
	vnnmap    []uint32 // at the fill
}

func runRecovery(ctx context.Context, t Target, p RecoveryParams, o *RecoveryOutcome) error {
	if len(t.Sockets) < 2 {
		return errors.New("recovery: needs at least two nodes")
	}
	admins, err := connectAll(ctx, t.Sockets)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	r := &recoveryRun{t: t, p: p, o: o, admins: admins}
	defer func() { closeAll(r.admins) }()
	vm, err := admins[0].GetVNNMap(ctx, protocol.CurrentNode)
	if err != nil {
		return fmt.Errorf("recovery: vnn map of node 0: %w", err)
	}
	r.vnnmap = vm.Map
	if err := r.fill(ctx); err != nil {
		return err
	}
	if err := r.chooseVictim(ctx); err != nil {
		return err
	}
	crew, err := r.startClients(ctx)
	if err != nil {
		return err
	}
	defer crew.close()
	if err := r.settle(ctx); err != nil {
		return err
	}
	killedAt, err := r.kill(ctx)
	if err != nil {
		return err
	}
	thawedAt, err := r.waitThawed(ctx, killedAt)
	if err != nil {
		return err
	}
	p.Log.Info("recovery: thawed", "target", t.Name, "after", o.Thawed, "generation", o.GenAfter)
	select {
	case <-time.After(p.After):
	case <-ctx.Done():
		return fmt.Errorf("recovery: %w", ctx.Err())
	}
	written, err := r.stopClients(ctx, crew, killedAt, thawedAt)
	if err != nil {
		return err
	}
	if err := r.checkCluster(ctx); err != nil {
		return err
	}
	return r.checkRecords(ctx, written)
}

// fill writes the records into every node's file, in one worker per
// node, and starts it on every node at once.
func (r *recoveryRun) fill(ctx context.Context) error {
	var names []string
	var specs []any
	for i, s := range r.t.Sockets {
		names = append(names, fmt.Sprintf("filler of node %d", i))
		specs = append(specs, fillSpec{Socket: s, DB: recoveryDBName, Records: r.p.Records, VNNMap: r.vnnmap})
	}
	start := time.Now()
	p := Params{Exe: r.p.Exe, Duration: 10 * time.Minute}
	res, err := runEach[fillResult](ctx, p, "recovery-fill", names, specs, nil)
	if err != nil {
		return fmt.Errorf("recovery: fill: %w", err)
	}
	r.o.Fill = time.Since(start)
	total := 0
	var per []string
	for _, f := range res {
		total += f.Stored
		per = append(per, fmt.Sprintf("node %d %d", f.PNN, f.Stored))
	}
	if total != r.p.Records {
		return fmt.Errorf("recovery: fill stored %d records, not %d (%s)", total, r.p.Records, strings.Join(per, ", "))
	}
	r.p.Log.Info("recovery: filled", "target", r.t.Name, "records", total, "per node", strings.Join(per, ", "), "took", r.o.Fill.Round(time.Millisecond))
	return nil
}

// leader asks node n for the leader (its next leader broadcast).
func (r *recoveryRun) leader(ctx context.Context, n int) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := r.admins[n].WaitLeader(ctx)
	if err == nil && l == protocol.UnknownPNN {
		err = errors.New("only elections heard")
	}
	if err == nil && int(l) >= len(r.admins) {
		err = fmt.Errorf("leader %d is not a node of the cluster", l)
	}
	if err != nil {
		return 0, fmt.Errorf("recovery: leader seen by node %d: %w", n, err)
	}
	return l, nil
}

// chooseVictim picks the node to kill: the leader, or the last node that
// is not the leader; the others survive.
func (r *recoveryRun) chooseVictim(ctx context.Context) error {
	l, err := r.leader(ctx, 0)
	if err != nil {
		return err
	}
	r.o.Leader, r.o.Victim = l, l
	if !r.p.KillLeader {
		for i := len(r.t.Sockets) - 1; i >= 0; i-- {
			if uint32(i) != l {
				r.o.Victim = uint32(i)
				break
			}
		}
	}
	r.survivors = nil
	for i := range r.t.Sockets {
		if uint32(i) != r.o.Victim {
			r.survivors = append(r.survivors, i)
		}
	}
	return nil
}

// startClients starts the clients on the survivors and waits until each
// has updated every key it owns once, so that the whole working set lives
// on the survivors before the kill.
func (r *recoveryRun) startClients(ctx context.Context) (*crew, error) {
	exe, err := exePath(r.p.Exe)
	if err != nil {
		return nil, err
	}
	of := r.p.Clients * len(r.survivors)
	var names []string
	var specs []any
	for _, n := range r.survivors {
		for j := 0; j < r.p.Clients; j++ {
			names = append(names, fmt.Sprintf("client %d on node %d", j, n))
			specs = append(specs, recClientSpec{Socket: r.t.Sockets[n], DB: recoveryDBName, Index: len(specs), Of: of,
				Keys: r.p.Keys, VNNMap: r.vnnmap, Victim: r.o.Victim, Pause: r.p.Pause, GiveUp: r.p.Timeout + time.Minute,
				Timeout: 2*r.p.Timeout + 10*time.Minute})
		}
	}
	c, err := startCrew(exe, "recovery-client", names, specs)
	if err != nil {
		return nil, fmt.Errorf("recovery: clients: %w", err)
	}
	if _, err := c.ready(ctx, 30*time.Second); err != nil {
		c.close()
		return nil, fmt.Errorf("recovery: clients: %w", err)
	}
	if err := c.start(nil); err != nil {
		c.close()
		return nil, fmt.Errorf("recovery: clients: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, w := range c.procs {
		if _, err := w.next(wctx, "its first pass over its keys"); err != nil {
			c.close()
			return nil, fmt.Errorf("recovery: clients: %w", err)
		}
	}
	r.p.Log.Info("recovery: clients warm", "target", r.t.Name, "clients", len(specs), "keys", r.p.Keys)
	return c, nil
}

// settle waits until the daemons' re-recovery timeout has passed since
// the last recovery any node finished: ctdbd starts no recovery within
// RerecoveryTimeout (10 s) of the previous one, and a failure so soon
// after start-up would measure that wait rather than the recovery.
func (r *recoveryRun) settle(ctx context.Context) error {
	start := time.Now()
	rerec := 10 * time.Second
	if v, err := r.admins[0].GetTunable(ctx, protocol.CurrentNode, "RerecoveryTimeout"); err == nil {
		rerec = time.Duration(v) * time.Second
	}
	var last time.Time
	for i, c := range r.admins {
		u, err := c.Uptime(ctx, protocol.CurrentNode)
		if err != nil {
			return fmt.Errorf("recovery: uptime of node %d: %w", i, err)
		}
		if f := time.Unix(u.LastRecoveryFinished.Sec, u.LastRecoveryFinished.Usec*1000); u.LastRecoveryFinished.Sec > 0 && f.After(last) {
			last = f
		}
	}
	if wait := time.Until(last.Add(rerec + 500*time.Millisecond)); wait > 0 {
		r.p.Log.Info("recovery: waiting for the re-recovery timeout since the last recovery", "target", r.t.Name, "wait", wait.Round(time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("recovery: %w", ctx.Err())
		}
	}
	r.o.Settle = time.Since(start)
	return nil
}

// kill checks that the victim still has the role the run measures (the
// leader with KillLeader, else not the leader; a leadership move among the
// survivors on a busy machine changes nothing), waits until the survivors
// agree on a generation out of recovery, then kills the victim's daemon
// (its pid from GET_PID) with SIGKILL.
func (r *recoveryRun) kill(ctx context.Context) (time.Time, error) {
	l, err := r.leader(ctx, r.survivors[0])
	if err != nil {
		return time.Time{}, err
	}
	if (l == r.o.Victim) != r.p.KillLeader {
		return time.Time{}, fmt.Errorf("recovery: the leader moved from node %d to node %d before the kill: %w", r.o.Leader, l, ErrRoleMoved)
	}
	r.o.Leader = l
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		st, err := r.look(wctx)
		if err == nil && st.settled(protocol.InvalidGeneration) {
			r.o.GenBefore = st.gens[0]
			break
		}
		select {
		case <-wctx.Done():
			return time.Time{}, fmt.Errorf("recovery: before the kill: survivors not in one generation out of recovery: %s %v", st, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	pid, err := r.admins[r.o.Victim].GetPID(ctx, protocol.CurrentNode)
	if err != nil {
		return time.Time{}, fmt.Errorf("recovery: pid of node %d: %w", r.o.Victim, err)
	}
	if pid <= 1 || pid == int32(os.Getpid()) {
		return time.Time{}, fmt.Errorf("recovery: node %d reports pid %d", r.o.Victim, pid)
	}
	r.o.VictimPID = int(pid)
	r.admins[r.o.Victim].Close()
	killedAt := time.Now()
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		return time.Time{}, fmt.Errorf("recovery: kill node %d (pid %d): %w", r.o.Victim, pid, err)
	}
	r.p.Log.Info("recovery: killed", "target", r.t.Name, "node", r.o.Victim, "pid", pid, "leader", r.o.Leader, "generation", r.o.GenBefore)
	return killedAt, nil
}

// state is what the survivors answered in one look.
type state struct {
	pnns, gens, modes []uint32
}

func (s state) String() string {
	var b strings.Builder
	for i := range s.gens {
		mode := "NORMAL"
		if s.modes[i] != protocol.RecoveryNormal {
			mode = "RECOVERY"
		}
		fmt.Fprintf(&b, "[node %d: generation %d, %s]", s.pnns[i], s.gens[i], mode)
	}
	return b.String()
}

// settled reports whether every survivor is out of recovery in one valid
// generation other than old.
func (s state) settled(old uint32) bool {
	for i := range s.gens {
		if s.gens[i] == protocol.InvalidGeneration || s.gens[i] == old || s.gens[i] != s.gens[0] || s.modes[i] != protocol.RecoveryNormal {
			return false
		}
	}
	return len(s.gens) > 0
}

// look asks every survivor for its generation and recovery mode.
func (r *recoveryRun) look(ctx context.Context) (state, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var st state
	for _, n := range r.survivors {
		c := r.admins[n]
		vm, err := c.GetVNNMap(ctx, protocol.CurrentNode)
		if err != nil {
			return st, r.reconnect(ctx, n, fmt.Errorf("vnn map of node %d: %w", n, err))
		}
		mode, err := c.GetRecMode(ctx, protocol.CurrentNode)
		if err != nil {
			return st, r.reconnect(ctx, n, fmt.Errorf("recovery mode of node %d: %w", n, err))
		}
		st.pnns, st.gens, st.modes = append(st.pnns, uint32(n)), append(st.gens, vm.Generation), append(st.modes, mode)
	}
	return st, nil
}

// reconnect replaces node n's admin client if its connection ended, and
// returns err.
func (r *recoveryRun) reconnect(ctx context.Context, n int, err error) error {
	select {
	case <-r.admins[n].Done():
	default:
		return err
	}
	if c, cerr := client.Connect(ctx, r.t.Sockets[n]); cerr == nil {
		r.admins[n].Close()
		r.admins[n] = c
	}
	return err
}

// waitThawed looks at the survivors every Poll until they settle in a new
// generation, and records when they first showed the recovery and when
// they settled.
func (r *recoveryRun) waitThawed(ctx context.Context, killedAt time.Time) (time.Time, error) {
	deadline := killedAt.Add(r.p.Timeout)
	var last state
	var lastErr error
	for {
		st, err := r.look(ctx)
		now := time.Now()
		if err == nil {
			last = st
			if r.o.Detected == 0 {
				for i := range st.gens {
					if st.modes[i] != protocol.RecoveryNormal || st.gens[i] != r.o.GenBefore {
						r.o.Detected = now.Sub(killedAt)
					}
				}
			}
			if st.settled(r.o.GenBefore) {
				r.o.Thawed, r.o.GenAfter = now.Sub(killedAt), st.gens[0]
				if r.o.Detected == 0 {
					r.o.Detected = r.o.Thawed
				}
				return now, nil
			}
		} else {
			lastErr = err
		}
		if now.After(deadline) {
			msg := fmt.Sprintf("%s did not complete recovery within %v of the kill: survivors %s", r.t.Name, r.p.Timeout, last)
			if lastErr != nil {
				msg += fmt.Sprintf("; last error: %v", lastErr)
			}
			return time.Time{}, errors.New(msg)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("recovery: waiting for the survivors: %w", ctx.Err())
		case <-time.After(r.p.Poll):
		}
	}
}

// stopClients stops the clients and collects their results: operations,
// errors, checks made on the way; when each resumed after the kill; and
// the last value each wrote to each key.
func (r *recoveryRun) stopClients(ctx context.Context, c *crew, killedAt, thawedAt time.Time) (map[int]uint64, error) {
	for _, w := range c.procs {
		if err := json.NewEncoder(w.stdin).Encode(workerMsg{Go: json.RawMessage(`{"stop":true}`)}); err != nil {
			return nil, fmt.Errorf("recovery: stop %s: %w", w.name, err)
		}
	}
	res := make([]recClientResult, len(c.procs))
	ptrs := make([]any, len(res))
	for i := range res {
		ptrs[i] = &res[i]
	}
	err := c.results(ctx, time.Minute, ptrs)
	written := map[int]uint64{}
	var bad []string
	var lost uint64
	o := r.o
	for i, cr := range res {
		o.Ops += cr.Ops
		o.Shares = append(o.Shares, cr.Ops)
		o.Latency.Merge(&cr.Latency)
		o.ClientErrors += cr.Errors
		lost += cr.Lost
		if cr.Bad > 0 {
			bad = append(bad, fmt.Sprintf("%s read %d wrong values: %s", c.procs[i].name, cr.Bad, strings.Join(cr.Examples, "; ")))
		}
		for k, v := range cr.Last {
			written[k] = v
		}
		resumed, stall := resumedAfter(cr.Gaps, killedAt, thawedAt)
		o.Resumed, o.MaxStall = max(o.Resumed, resumed), max(o.MaxStall, stall)
	}
	o.Duration = time.Since(killedAt)
	if err != nil {
		return nil, fmt.Errorf("recovery: a client failed: %w", err)
	}
	if len(bad) > 0 {
		o.fail("%s", strings.Join(bad, "; "))
	}
	note := ""
	if o.ClientErrors > 0 {
		note = fmt.Sprintf(" (last: %s)", firstLine(lastClientErr(res)))
	}
	o.Checks = append(o.Checks, fmt.Sprintf("clients: %d fetch-locks by %d processes, every value as last written, %d errors retried%s, none gave up; %d keys of node %d found lost",
		o.Ops, len(res), o.ClientErrors, note, lost, o.Victim))
	return written, nil
}

func lastClientErr(res []recClientResult) string {
	for _, r := range res {
		if r.LastErr != "" {
			return r.LastErr
		}
	}
	return ""
}

// resumedAfter is how long after the kill a client whose pauses were
// gaps completed an operation again, from the pauses that overlap the
// kill to thaw window, and the longest of those pauses. A client that
// never paused there resumed at once.
func resumedAfter(gaps []gap, killedAt, thawedAt time.Time) (resumed, stall time.Duration) {
	k, t := killedAt.UnixNano(), thawedAt.UnixNano()
	for _, g := range gaps {
		if g.To < k || g.From > t {
			continue
		}
		resumed = max(resumed, time.Duration(g.To-k))
		stall = max(stall, time.Duration(g.To-g.From))
	}
	return resumed, stall
}

// checkCluster checks the survivors at the end: both see each other with
// no flag and the victim disconnected, out of recovery, in one
// generation.
func (r *recoveryRun) checkCluster(ctx context.Context) error {
	st, err := r.look(ctx)
	if err != nil {
		return fmt.Errorf("recovery: at the end: %w", err)
	}
	if !st.settled(protocol.InvalidGeneration) {
		r.o.fail("at the end the survivors are not settled: %s", st)
		return nil
	}
	r.o.GenEnd = st.gens[0]
	for _, n := range r.survivors {
		nm, err := r.admins[n].GetNodeMap(ctx, protocol.CurrentNode)
		if err != nil {
			return fmt.Errorf("recovery: node map of node %d: %w", n, err)
		}
		for _, m := range nm.Nodes {
			switch {
			case m.PNN == r.o.Victim && m.Flags&protocol.NodeFlagDisconnected == 0:
				r.o.fail("node %d sees the killed node %d as %s", n, m.PNN, protocol.NodeFlagsString(m.Flags))
			case m.PNN != r.o.Victim && m.Flags != 0:
				r.o.fail("node %d sees node %d as %s", n, m.PNN, protocol.NodeFlagsString(m.Flags))
			}
		}
	}
	more := ""
	if r.o.GenEnd != r.o.GenAfter {
		more = fmt.Sprintf(", then another recovery (generation %d)", r.o.GenEnd)
	}
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("recovered: generation %d -> %d%s; survivors OK, node %d DISCONNECTED, nobody banned",
		r.o.GenBefore, r.o.GenAfter, more, r.o.Victim))
	return nil
}

// checkRecords checks every record in the survivors' files, in a worker.
func (r *recoveryRun) checkRecords(ctx context.Context, written map[int]uint64) error {
	var socks []string
	for _, n := range r.survivors {
		socks = append(socks, r.t.Sockets[n])
	}
	spec := recCheckSpec{Sockets: socks, DB: recoveryDBName, Records: r.p.Records, VNNMap: r.vnnmap, Victim: r.o.Victim, Written: written}
	var res recCheckResult
	if err := inWorker(ctx, Params{Exe: r.p.Exe, Duration: 10 * time.Minute}, "recovery-check", "record check", spec, &res); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	if res.Failed != "" {
		r.o.fail("%s", res.Failed)
	}
	n := res.Counts
	r.o.Counts = n
	r.o.Checks = append(r.o.Checks, fmt.Sprintf("records: %d written by clients hold their last value, %d others of the survivors their fill value; of node %d's, %d lost (allowed), %d kept",
		n.KeptWritten, n.Kept, r.o.Victim, n.Lost, n.KeptVictim))
	return nil
}
