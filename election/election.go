package election

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// Raft is what the election needs from the Raft layer.
type Raft interface {
	Self() uint32
	IsLeader() bool
	Leader() (uint32, bool)
	LastContact() time.Time
	AppliedIndex() uint64
	ReadIndex(ctx context.Context) (uint64, error)
	Current() (*raftlayer.State, uint64)
	Initialized() bool
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
	Watch() <-chan struct{}
	LeaderChanged() <-chan struct{}
	TransferLeadership() error
}

// Members keeps the Raft configuration in step with the replicated node
// list; the leader calls Reconcile after every change. It returns how soon
// to call again while a change is still under way (0: done).
type Members interface {
	Reconcile(ctx context.Context, st *raftlayer.State) (time.Duration, error)
}

// Deliverer delivers a message to the local clients registered for srvid.
type Deliverer interface {
	DeliverLocal(srvid uint64, data []byte)
}

// Config configures the election.
type Config struct {
	ClusterID string
	// Nodes is the bootstrap membership, applied by the first leader.
	Nodes []raftlayer.NodeState
	// Capabilities of this node (CTDB_CAP_*).
	Capabilities uint32
	// Incarnation identifies this run of the daemon (random, not 0); it is
	// recorded in the replicated state so that the leader notices restarts.
	Incarnation uint64
	// QuorumLossTimeout is how long a node may be out of contact with a Raft
	// quorum before it declares itself inactive.
	QuorumLossTimeout time.Duration
	// Members keeps the Raft group in step with the node list; nil
	// leaves the group as bootstrapped.
	Members Members
	// BroadcastInterval is the period of leader broadcasts (1 s in ctdbd).
	BroadcastInterval time.Duration
	// PollInterval is how often quorum contact is checked.
	PollInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.QuorumLossTimeout <= 0 {
		c.QuorumLossTimeout = 2 * time.Second
	}
	if c.BroadcastInterval <= 0 {
		c.BroadcastInterval = time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.Capabilities == 0 {
		c.Capabilities = protocol.CapDefault
	}
}

// Manager runs the election duties of one node.
type Manager struct {
	cfg   Config
	raft  Raft
	links transport.Links
	out   Deliverer
	log   *slog.Logger
	self  uint32

	poke   chan struct{} // wakes the leader loop
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// inactive is true while this node is out of contact with a quorum or
	// has not yet caught up with the log after gaining contact.
	inactive bool
	// catchUpTo is the commit index seen when contact was (re)gained; the
	// node becomes active once it has applied it.
	catchUpTo  uint64
	hadContact bool
	// lastContact is the last time this node knew itself in contact with a
	// quorum; only contactLoop touches it.
	lastContact time.Time
	// lastCheck is when contactLoop last looked; a gap longer than the
	// quorum loss timeout means this process was frozen (SIGSTOP) or
	// starved, and what it believed (even being the leader) is stale.
	lastCheck time.Time
	caps      uint32
	changed   watch.Signal // notified when inactive changes

	mViewCommits *metrics.Counter
	mTransfers   *metrics.Counter
}

// New returns a Manager; Start runs it.
func New(cfg Config, r Raft, links transport.Links, out Deliverer, log *slog.Logger, set *metrics.Set) *Manager {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	m := &Manager{
		cfg: cfg, raft: r, links: links, out: out, log: log, self: r.Self(),
		poke: make(chan struct{}, 1), inactive: true, caps: cfg.Capabilities,
	}
	set.GetOrCreateGauge("ctdb_election_inactive", func() float64 {
		if m.Inactive() {
			return 1
		}
		return 0
	})
	set.GetOrCreateGauge("ctdb_election_is_leader", func() float64 {
		if r.IsLeader() {
			return 1
		}
		return 0
	})
	m.mViewCommits = set.GetOrCreateCounter("ctdb_election_view_commits_total")
	m.mTransfers = set.GetOrCreateCounter("ctdb_election_leadership_transfers_total")
	return m
}

// Start runs the election loops until Stop.
func (m *Manager) Start() {
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.goFunc(m.contactLoop)
	m.goFunc(m.broadcastLoop)
	m.goFunc(m.leaderLoop)
	m.goFunc(m.capsLoop)
}

// Stop ends the loops and waits for them.
func (m *Manager) Stop() {
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
}

func (m *Manager) goFunc(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// LinkChanged tells the leader that a node link went up or down.
func (m *Manager) LinkChanged() { m.wake() }

func (m *Manager) wake() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// Inactive reports whether this node is out of the cluster: no contact with
// a Raft quorum, or not yet caught up with the log.
func (m *Manager) Inactive() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inactive
}

// InactiveChanged returns a channel closed at the next change of Inactive.
func (m *Manager) InactiveChanged() <-chan struct{} { return m.changed.Changed() }

// Leader returns the leader pnn as clients should see it: UnknownPNN while
// this node is inactive or knows no leader.
func (m *Manager) Leader() uint32 {
	if m.Inactive() {
		return protocol.UnknownPNN
	}
	if p, ok := m.raft.Leader(); ok {
		return p
	}
	return protocol.UnknownPNN
}

// Capabilities returns this node's capabilities.
func (m *Manager) Capabilities() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caps
}

// SetCapability turns a capability bit on or off and records it in the
// replicated state.
func (m *Manager) SetCapability(ctx context.Context, bit uint32, on bool) error {
	m.mu.Lock()
	if on {
		m.caps |= bit
	} else {
		m.caps &^= bit
	}
	caps := m.caps
	m.mu.Unlock()
	_, err := m.raft.Apply(ctx, &raftlayer.CmdSetCapabilities{PNN: m.self, Capabilities: caps})
	return err
}

// contactLoop tracks whether this node is in contact with a quorum.
func (m *Manager) contactLoop() {
	tick := time.NewTicker(m.cfg.PollInterval)
	defer tick.Stop()
	for {
		m.checkContact()
		select {
		case <-m.ctx.Done():
			return
		case <-tick.C:
		case <-m.raft.LeaderChanged():
		}
	}
}

func (m *Manager) checkContact() {
	// A leader is in contact with a quorum (hashicorp/raft steps down after
	// LeaderLeaseTimeout without one); a follower is as recent as the
	// leader's last message. A re-election alone does not make a node
	// inactive: only QuorumLossTimeout without any contact does.
	now := time.Now()
	gap := now.Sub(m.lastCheck)
	frozen := !m.lastCheck.IsZero() && gap > m.cfg.QuorumLossTimeout
	m.lastCheck = now
	if frozen {
		// Whatever Raft says right now dates from before the freeze:
		// start over, and catch up with the log before serving again.
		m.log.Warn("this process did not run for a while; checking its contact with the cluster again",
			"gap", gap.Round(time.Millisecond))
		m.lastContact = time.Time{}
	} else if m.raft.IsLeader() {
		m.lastContact = now
	} else if lc := m.raft.LastContact(); lc.After(m.lastContact) {
		m.lastContact = lc
	}
	contact := !m.lastContact.IsZero() && now.Sub(m.lastContact) < m.cfg.QuorumLossTimeout
	// Once in contact, the node is active when it has applied everything
	// the leader had applied at that time (a read index): a restarted node
	// must not serve its stale state.
	var catchUpTo uint64
	m.mu.Lock()
	needIndex := contact && !m.hadContact
	m.mu.Unlock()
	if needIndex {
		ctx, cancel := context.WithTimeout(m.ctx, time.Second)
		idx, err := m.raft.ReadIndex(ctx)
		cancel()
		if err != nil {
			m.log.Debug("read index for catch-up failed; will retry", "err", err)
			contact = false
		}
		catchUpTo = idx
	}
	m.mu.Lock()
	was := m.inactive
	switch {
	case !contact:
		m.hadContact = false
		m.inactive = true
	case needIndex:
		m.hadContact = true
		m.catchUpTo = catchUpTo
		m.inactive = m.raft.AppliedIndex() < m.catchUpTo
	case m.inactive:
		m.inactive = m.raft.AppliedIndex() < m.catchUpTo
	}
	inactive := m.inactive
	m.mu.Unlock()
	if inactive != was {
		m.changed.Notify()
		if inactive {
			m.log.Warn("lost contact with the raft quorum: node is INACTIVE")
		} else {
			m.log.Info("in contact with the raft quorum and caught up: node is active")
		}
		m.sendLeader()
		m.wake()
	}
}

// broadcastLoop delivers the leader to local clients every interval and at
// every leader change.
func (m *Manager) broadcastLoop() {
	tick := time.NewTicker(m.cfg.BroadcastInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-tick.C:
		case <-m.raft.LeaderChanged():
		}
		m.sendLeader()
	}
}

func (m *Manager) sendLeader() { m.out.DeliverLocal(protocol.SrvIDLeader, protocol.U32(m.Leader())) }

// capsLoop records this node's capabilities and incarnation in the
// replicated state once the cluster is initialised, and again if they
// differ.
func (m *Manager) capsLoop() {
	for {
		watch := m.raft.Watch()
		st, _ := m.raft.Current()
		caps := m.Capabilities()
		if m.raft.Initialized() && !m.Inactive() && int(m.self) < len(st.Nodes) &&
			(st.Nodes[m.self].Caps() != caps || st.Nodes[m.self].Incarnation != m.cfg.Incarnation) {
			ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
			_, err := m.raft.Apply(ctx, &raftlayer.CmdSetCapabilities{PNN: m.self, Capabilities: caps, Incarnation: m.cfg.Incarnation})
			cancel()
			if err != nil && m.ctx.Err() == nil {
				m.log.Debug("recording capabilities failed; will retry", "err", err)
				if !sleepCtx(m.ctx, 200*time.Millisecond) {
					return
				}
				continue
			}
		}
		select {
		case <-m.ctx.Done():
			return
		case <-watch:
		case <-m.InactiveChanged():
		}
	}
}

// leaderLoop performs the leader's duties while this node leads.
func (m *Manager) leaderLoop() {
	var timer *time.Timer
	var timerC <-chan time.Time
	for {
		watch := m.raft.Watch()
		leaderChanged := m.raft.LeaderChanged()
		next := time.Duration(0)
		if m.raft.IsLeader() {
			var err error
			next, err = m.leaderDuties()
			if err != nil && m.ctx.Err() == nil {
				m.log.Warn("leader duty failed; retrying", "err", err)
				next = 100 * time.Millisecond
			}
		}
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
		if next > 0 {
			timer = time.NewTimer(next)
			timerC = timer.C
		}
		select {
		case <-m.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-m.poke:
		case <-watch:
		case <-leaderChanged:
		case <-timerC:
		}
	}
}

// leaderDuties does one round of duties and returns when the next round is
// due regardless of events (0 = only on events).
func (m *Manager) leaderDuties() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	st, _ := m.raft.Current()
	if !m.raft.Initialized() {
		m.log.Info("initialising the replicated cluster state", "cluster_id", m.cfg.ClusterID, "nodes", len(m.cfg.Nodes))
		_, err := m.raft.Apply(ctx, &raftlayer.CmdInit{ClusterID: m.cfg.ClusterID, Nodes: m.cfg.Nodes})
		return 0, err
	}
	if m.shouldHandOff(st) {
		m.mTransfers.Inc()
		m.log.Info("handing leadership to another node", "flags", protocol.NodeFlagsString(st.Flags(m.self)), "caps", st.Nodes[m.self].Caps())
		if err := m.raft.TransferLeadership(); err != nil {
			m.log.Warn("leadership transfer failed", "err", err)
			return time.Second, nil
		}
		return 0, nil
	}
	next, err := m.expireBans(ctx, st)
	if err != nil {
		return 0, err
	}
	if err := m.reconcileView(ctx, st); err != nil {
		return 0, err
	}
	if m.cfg.Members != nil {
		again, err := m.cfg.Members.Reconcile(ctx, st)
		if err != nil {
			return 0, err
		}
		if again > 0 && (next == 0 || again < next) {
			next = again
		}
	}
	return next, nil
}

// shouldHandOff reports whether this leader may not lead and another node
// could: ctdbd lets only nodes with the leader capability lead, and a banned
// or stopped node never does.
func (m *Manager) shouldHandOff(st *raftlayer.State) bool {
	mine := st.Flags(m.self)&(protocol.NodeFlagBanned|protocol.NodeFlagStopped) != 0 ||
		m.Capabilities()&protocol.CapRecMaster == 0
	if !mine {
		return false
	}
	for _, p := range st.Active() {
		if p != m.self && st.Nodes[p].Caps()&protocol.CapRecMaster != 0 && m.links.Connected(p) {
			return true
		}
	}
	return false
}

// expireBans lifts bans whose time is up and returns when the next expires.
func (m *Manager) expireBans(ctx context.Context, st *raftlayer.State) (time.Duration, error) {
	now := time.Now()
	var next time.Duration
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if !n.Banned() {
			continue
		}
		left := time.Unix(0, n.BannedUntil).Sub(now)
		if left <= 0 {
			m.log.Info("ban expired", "pnn", n.PNN)
			if _, err := m.raft.Apply(ctx, &raftlayer.CmdExpireBan{PNN: n.PNN, Until: n.BannedUntil}); err != nil {
				return 0, err
			}
			continue
		}
		if next == 0 || left < next {
			next = left
		}
	}
	return next, nil
}

// DesiredView computes the runtime view the leader wants from the state and
// the links; ok is false when the committed view already matches.
func DesiredView(st *raftlayer.State, self uint32, connected func(uint32) bool) (raftlayer.RuntimeView, bool) {
	var disc []uint32
	for i := range st.Nodes {
		p := uint32(i)
		if p != self && !st.Nodes[i].Deleted && !connected(p) {
			disc = append(disc, p)
		}
	}
	next := st.Clone()
	next.View.Disconnected = disc
	active := next.Active()
	var vnn []uint32
	for _, p := range active {
		if next.Nodes[p].Caps()&protocol.CapLMaster != 0 {
			vnn = append(vnn, p)
		}
	}
	if len(vnn) == 0 {
		vnn = []uint32{self}
	}
	gen := st.View.Generation
	if gen == protocol.InvalidGeneration || !slices.Equal(vnn, st.View.VNNMap) || !slices.Equal(active, st.Active()) ||
		restartedSinceRecovery(st, active) {
		gen = newGeneration(st.View.Generation)
	}
	view := raftlayer.RuntimeView{
		Generation: gen, VNNMap: vnn, Disconnected: disc, DecidedBy: self,
		Recovering: st.View.Recovering, RecoverFrom: st.View.RecoverFrom, Members: st.View.Members,
	}
	if gen != st.View.Generation {
		// A new generation starts with a recovery. One that interrupts a
		// recovery still recovers from the nodes that held the records
		// when the interrupted one began.
		view.Recovering = true
		if !st.View.Recovering {
			view.RecoverFrom = st.View.MemberPNNs()
		}
	}
	same := gen == st.View.Generation &&
		slices.Equal(vnn, st.View.VNNMap) &&
		slices.Equal(disc, st.View.Disconnected)
	return view, !same
}

// restartedSinceRecovery reports whether an active node runs another
// incarnation than the one the last recovery made a member: a node that
// restarted too quickly for the cluster to see it gone has lost its
// volatile records, and the records other nodes believe it holds must be
// recovered.
func restartedSinceRecovery(st *raftlayer.State, active []uint32) bool {
	if st.View.Recovering {
		return false // the running recovery ends with a fresh check
	}
	for _, p := range active {
		if !st.View.IsMember(p, st.Nodes[p].Incarnation) {
			return true
		}
	}
	return false
}

func newGeneration(old uint32) uint32 {
	for {
		g := rand.Uint32()
		if g != 0 && g != protocol.InvalidGeneration && g != old {
			return g
		}
	}
}

// reconcileView commits the view the cluster should have. A view with a
// new generation asks for a recovery (Recovering), which the recovery
// leader runs and ends on its own goroutine.
func (m *Manager) reconcileView(ctx context.Context, st *raftlayer.State) error {
	view, changed := DesiredView(st, m.self, m.links.Connected)
	if !changed {
		return nil
	}
	if _, err := m.raft.Apply(ctx, &raftlayer.CmdSetView{View: view, PrevSeq: st.View.Seq}); err != nil {
		return err
	}
	m.mViewCommits.Inc()
	m.log.Info("committed runtime view", "generation", view.Generation, "vnnmap", view.VNNMap,
		"disconnected", view.Disconnected, "recovering", view.Recovering)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
