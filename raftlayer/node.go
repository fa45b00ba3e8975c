package raftlayer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/noderpc"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// ErrNoLeader is returned when no leader is known within the caller's time.
var ErrNoLeader = errors.New("raft: no leader")

// stableKeyClusterID is where the stable store records the cluster id at
// bootstrap, so that a data directory is never reused by another cluster.
var stableKeyClusterID = []byte("rctdb_cluster_id")

// Node is this node's member of the Raft group.
type Node struct {
	cfg Config
	log *slog.Logger
	rpc noderpc.Caller
	m   *raftMetrics

	raft      *raft.Raft
	fsm       *fsm
	trans     *raft.NetworkTransport
	closeFns  []func() error
	bootstate *State // display state before CmdInit is applied

	observerCh chan raft.Observation
	observer   *raft.Observer

	leaderChanged watch.Signal // notified on every leader or Raft state change
	// installed is the log index whose state the node's owner reported
	// acting on; see Installed.
	installed watch.Index

	// formed is set once this node has Raft state (it bootstrapped the
	// cluster or joined it); other nodes learn it in the link handshake.
	formed atomic.Bool
	// joinConf is the bootstrap configuration a node without state
	// waits to apply, see bootstrapLoop; empty otherwise.
	joinConf raft.Configuration

	nudgeCh chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup

	// waitersMu guards waitersClosed, so that no waiter is added to
	// waiters once Shutdown waits for them.
	waitersMu     sync.Mutex
	waitersClosed bool
	// waiters are the goroutines of await, each blocked on one Raft future.
	waiters sync.WaitGroup
}

// Open starts the Raft member: it opens (or creates) the stores, bootstraps
// the cluster from cfg.Nodes if and only if there is no existing state, and
// joins the group over tr. rpc carries forwarded applies, read indexes and
// waits for other nodes; Open registers the controls it serves there.
func Open(cfg Config, tr Transport, rpc noderpc.Peer, log *slog.Logger, set *metrics.Set) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:       cfg,
		log:       log,
		rpc:       rpc,
		fsm:       newFSM(log, cfg.Data),
		bootstate: BootstrapState(cfg.ClusterID, cfg.Nodes),
		nudgeCh:   make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	if err := n.open(tr); err != nil {
		for _, f := range n.closeFns {
			f()
		}
		return nil, err
	}
	n.m = registerMetrics(set, n)
	n.register(rpc)
	n.observerCh = make(chan raft.Observation, 64)
	n.observer = raft.NewObserver(n.observerCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.observer)
	n.wg.Add(2)
	go n.observeLoop()
	go n.nudgeLoop()
	if sv, ok := tr.(surveyor); ok {
		sv.SetFormed(n.formed.Load)
		if len(n.joinConf.Servers) > 0 {
			n.wg.Add(1)
			go n.bootstrapLoop(sv, n.joinConf)
		}
	}
	return n, nil
}

func (n *Node) open(tr Transport) error {
	hclog := newHCLogger(n.log)
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(strconv.FormatUint(uint64(n.cfg.Self), 10))
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.Logger = hclog

	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	if n.cfg.InMemory {
		store := raft.NewInmemStore()
		logs, stable, snaps = store, store, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("raft data directory: %w", err)
		}
		bolt, err := raftboltdb.New(raftboltdb.Options{
			Path:        filepath.Join(n.cfg.DataDir, "raft.db"),
			BoltOptions: &bbolt.Options{Timeout: 2 * time.Second, FreelistType: bbolt.FreelistMapType},
			NoSync:      n.cfg.NoSync,
		})
		if err != nil {
			return fmt.Errorf("open raft store %s: %w", filepath.Join(n.cfg.DataDir, "raft.db"), err)
		}
		n.closeFns = append(n.closeFns, bolt.Close)
		cache, err := raft.NewLogCache(512, bolt)
		if err != nil {
			return fmt.Errorf("raft log cache: %w", err)
		}
		logs, stable = cache, bolt
		fss, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, 2, hclog)
		if err != nil {
			return fmt.Errorf("raft snapshot store in %s: %w", n.cfg.DataDir, err)
		}
		snaps = fss
	}

	ln := tr.RaftListener()
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{tr: tr, ln: ln, addr: raftAddr(tr.RaftAddr(n.cfg.Self))},
		MaxPool: 3,
		Timeout: 2 * time.Second,
		Logger:  hclog,
	})
	n.closeFns = append(n.closeFns, n.trans.Close)

	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state in %s: %w", n.cfg.DataDir, err)
	}
	if existing {
		id, err := stable.Get(stableKeyClusterID)
		if err != nil {
			return fmt.Errorf("read cluster id from raft state: %w", err)
		}
		if string(id) != n.cfg.ClusterID {
			return fmt.Errorf("raft state in %s belongs to cluster %q, configuration says %q", n.cfg.DataDir, id, n.cfg.ClusterID)
		}
		if err := n.checkStoredPNN(stable); err != nil {
			return err
		}
		if err := checkLogCovered(logs, snaps, n.cfg.DataDir); err != nil {
			return err
		}
		n.formed.Store(true)
		n.log.Info("found existing raft state; not bootstrapping", "dir", n.cfg.DataDir)
	} else {
		var servers []raft.Server
		for _, node := range n.cfg.Nodes {
			if node.Deleted {
				continue
			}
			servers = append(servers, raft.Server{
				Suffrage: raft.Voter,
				ID:       raft.ServerID(strconv.FormatUint(uint64(node.PNN), 10)),
				Address:  raft.ServerAddress(tr.RaftAddr(node.PNN)),
			})
		}
		if err := stable.Set(stableKeyClusterID, []byte(n.cfg.ClusterID)); err != nil {
			return fmt.Errorf("record cluster id: %w", err)
		}
		if err := n.checkStoredPNN(stable); err != nil {
			return err
		}
		conf := raft.Configuration{Servers: servers}
		if _, ok := tr.(surveyor); ok {
			// Whether to bootstrap or to join depends on the other
			// nodes; bootstrapLoop decides once Raft runs.
			n.joinConf = conf
		} else {
			if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.trans, conf); err != nil {
				return fmt.Errorf("bootstrap raft cluster: %w", err)
			}
			n.formed.Store(true)
			n.log.Info("bootstrapped raft cluster from the nodes file", "voters", len(servers))
		}
	}

	r, err := raft.NewRaft(rc, n.fsm, logs, stable, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("start raft from %s: %w", n.cfg.DataDir, err)
	}
	n.raft = r
	return nil
}

// checkStoredPNN refuses a state directory made by another node: a node
// that was removed and comes back under a new pnn must start empty, not
// with the log of its former self. A directory without the record gets it.
func (n *Node) checkStoredPNN(stable raft.StableStore) error {
	self := strconv.FormatUint(uint64(n.cfg.Self), 10)
	got, err := stable.Get(stableKeyPNN)
	if err != nil && err.Error() != "not found" { // both stores' ErrKeyNotFound
		return fmt.Errorf("read pnn from raft state in %s: %w", n.cfg.DataDir, err)
	}
	if len(got) == 0 {
		if err := stable.Set(stableKeyPNN, []byte(self)); err != nil {
			return fmt.Errorf("record pnn in raft state: %w", err)
		}
		return nil
	}
	if string(got) != self {
		return fmt.Errorf("raft state in %s belongs to node %s, this node is %s: remove that directory (and the node's database directories) to start it as a new node", n.cfg.DataDir, got, self)
	}
	return nil
}

// Shutdown leaves the Raft group and closes the stores.
func (n *Node) Shutdown() error {
	close(n.stop)
	n.drainWaiters(futureDrainTimeout)
	err := n.raft.Shutdown().Error()
	n.raft.DeregisterObserver(n.observer)
	n.wg.Wait()
	for i := len(n.closeFns) - 1; i >= 0; i-- {
		if cerr := n.closeFns[i](); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Self is this node's pnn.
func (n *Node) Self() uint32 { return n.cfg.Self }

// Current returns the replicated state as applied here and the log index
// it reflects. The state is shared by every reader and never changes:
// do not modify it (Clone it to derive another). Before the first leader
// initialised the cluster it is the bootstrap state from the
// configuration, at index 0.
func (n *Node) Current() (*State, uint64) {
	st, idx := n.fsm.read()
	if !st.Initialized() {
		return n.bootstate, 0
	}
	return st, idx
}

// Initialized reports whether the replicated state was initialised (CmdInit
// applied); until then Current returns the configuration's bootstrap state.
func (n *Node) Initialized() bool {
	st, _ := n.fsm.read()
	return st.Initialized()
}

// Watch returns a channel closed at the next change of the state (not at
// data entries, which leave it as it was). Take it before reading Current,
// so that no change is missed.
func (n *Node) Watch() <-chan struct{} { return n.fsm.changed.Changed() }

// AppliedIndex is the last log index applied to the local state.
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.Get() }

// Installed records that this node's owner has acted on the state of index
// (opened its databases, routed by its view, froze or thawed): with
// Config.WaitInstalled, WaitAppliedOn waits for this rather than for the
// apply alone, so that a caller told "every node has it" can rely on every
// node serving it.
func (n *Node) Installed(index uint64) { n.installed.Advance(index) }

// waitInstalled returns once this node has installed the state as of
// index (or later), or, without Config.WaitInstalled, applied it.
func (n *Node) waitInstalled(ctx context.Context, index uint64) error {
	if err := n.WaitApplied(ctx, index); err != nil || !n.cfg.WaitInstalled {
		return err
	}
	// The owner installs what changes the state; the entries after that
	// change (persistent commits, mostly) leave nothing more to install.
	return n.installed.Wait(ctx, n.fsm.lastChange(index), "installed raft index")
}

// WaitApplied blocks until the local state reflects index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitApplied(ctx, index)
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the pnn of the leader this node knows of.
func (n *Node) Leader() (uint32, bool) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return 0, false
	}
	p, err := strconv.ParseUint(string(id), 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(p), true
}

// LastContact is when this follower last heard from a leader (zero if
// never); on the leader it is now.
func (n *Node) LastContact() time.Time {
	if n.IsLeader() {
		return time.Now()
	}
	return n.raft.LastContact()
}

// LeaderChanged returns a channel closed at the next leader or Raft state
// change.
func (n *Node) LeaderChanged() <-chan struct{} { return n.leaderChanged.Changed() }

// VerifyLeader returns nil once a quorum confirmed that this node still
// leads: a deposed leader that has not noticed yet (it was stopped, or
// cut off) fails. It commits a no-op entry rather than using Raft's
// VerifyLeader, which a leader frozen while a heartbeat was in flight can
// pass on the answer to that old heartbeat; an entry appended after the
// call can only commit with answers sent after it.
func (n *Node) VerifyLeader(ctx context.Context) error {
	if n.raft.State() != raft.Leader {
		return fmt.Errorf("verify leadership: %w", raft.ErrNotLeader)
	}
	noop, _ := EncodeCommand(&CmdNoop{})
	if err := n.await(ctx, n.raft.Apply(noop, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("verify leadership: %w", err)
	}
	return nil
}

// TransferLeadership asks Raft to hand leadership to another voter.
func (n *Node) TransferLeadership() error {
	return n.await(context.Background(), n.raft.LeadershipTransfer())
}

func (n *Node) observeLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case o := <-n.observerCh:
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				n.log.Info("raft leader changed", "leader", lo.LeaderID, "term", n.raft.CurrentTerm())
			}
			n.leaderChanged.Notify()
		}
	}
}

// Apply commits c through the leader, from any node, and returns once the
// local state reflects it (read your writes). A command the state machine
// refuses returns its *ErrRejected.
func (n *Node) Apply(ctx context.Context, c Command) (uint64, error) {
	data, err := EncodeCommand(c)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	idx, err := n.applyData(ctx, data)
	n.m.applyDuration.UpdateDuration(start)
	if err != nil {
		n.m.applyErrors.Inc()
		return 0, err
	}
	n.m.applies.Inc()
	if err := n.WaitApplied(ctx, idx); err != nil {
		return idx, err
	}
	return idx, nil
}

// applyData applies an encoded command on the leader, forwarding it there
// when this node is a follower, and retrying while leadership moves.
func (n *Node) applyData(ctx context.Context, data []byte) (uint64, error) {
	backoff := 10 * time.Millisecond
	for {
		leader, ok := n.Leader()
		var err error
		if ok && leader == n.cfg.Self {
			var idx uint64
			idx, err = n.applyLocalCtx(ctx, data)
			if err == nil || isRejected(err) {
				return idx, err
			}
		} else if ok {
			var reply []byte
			n.m.forwarded.Inc()
			reply, err = n.rpc.Call(ctx, leader, noderpc.OpApply, data)
			if err == nil {
				return decodeIndex(reply)
			}
			if rej := rejectedFromRemote(err); rej != nil {
				return 0, rej
			}
		} else {
			err = ErrNoLeader
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("raft apply: %w (last error: %v)", ctx.Err(), err)
		}
		n.log.Debug("raft apply retry", "err", err)
		select {
		case <-ctx.Done():
		case <-n.LeaderChanged():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// applyLocalCtx applies on this node, which must be the leader, and waits
// for the outcome until ctx ends or the node shuts down; the entry may still
// commit later, as with any timed-out write.
func (n *Node) applyLocalCtx(ctx context.Context, data []byte) (uint64, error) {
	f := n.raft.Apply(data, n.cfg.ApplyTimeout)
	if err := n.await(ctx, f); err != nil {
		return 0, err
	}
	if cmdType(data[0]) != typeNoop {
		n.nudge()
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return f.Index(), err
	}
	return f.Index(), nil
}

// await waits for a Raft future. hashicorp/raft leaves futures unanswered
// when it shuts down with their entries still queued for the state machine,
// so the wait also ends on ctx and on Shutdown.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	n.waitersMu.Lock()
	if n.waitersClosed {
		n.waitersMu.Unlock()
		return raft.ErrRaftShutdown
	}
	n.waiters.Add(1)
	n.waitersMu.Unlock()
	done := make(chan error, 1)
	go func() {
		defer n.waiters.Done()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stop:
		return raft.ErrRaftShutdown
	}
}

// futureDrainTimeout bounds how long Shutdown lets Raft answer the futures
// still awaited: committed entries are applied within milliseconds, and a
// leader cut off from its followers answers the rest when its lease runs out.
const futureDrainTimeout = 5 * time.Second

// drainWaiters lets Raft answer the futures that await's goroutines still
// wait on before it is shut down: hashicorp/raft never answers entries
// still queued for the state machine at shutdown, and their waiters would
// block for ever.
func (n *Node) drainWaiters(timeout time.Duration) {
	n.waitersMu.Lock()
	n.waitersClosed = true
	n.waitersMu.Unlock()
	idle := make(chan struct{})
	go func() {
		n.waiters.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(timeout):
		n.log.Warn("raft futures still unanswered at shutdown", "waited", timeout)
	}
}

func isRejected(err error) bool {
	var rej *ErrRejected
	return errors.As(err, &rej)
}

// nudge asks the nudge loop to append a no-op so that followers learn the
// new commit index immediately.
func (n *Node) nudge() {
	select {
	case n.nudgeCh <- struct{}{}:
	default:
	}
}

// nudgeLoop appends at most one no-op at a time; nudges that arrive while
// one is in flight collapse into the next.
func (n *Node) nudgeLoop() {
	defer n.wg.Done()
	data, _ := EncodeCommand(&CmdNoop{})
	for {
		select {
		case <-n.stop:
			return
		case <-n.nudgeCh:
		}
		if n.raft.State() != raft.Leader {
			continue
		}
		if err := n.await(context.Background(), n.raft.Apply(data, n.cfg.ApplyTimeout)); err != nil {
			n.log.Debug("commit nudge failed", "err", err)
		}
	}
}

// ReadIndex returns an index such that the local state is linearizable once
// it has applied it: everything committed before the call is at or below.
// The index is that of a no-op command committed through the leader: unlike
// a Raft barrier, a command reaches every node's state machine, so a node's
// applied index reaches it.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	data, _ := EncodeCommand(&CmdNoop{})
	for {
		leader, ok := n.Leader()
		var err error
		if ok && leader == n.cfg.Self {
			var idx uint64
			if idx, err = n.applyLocalCtx(ctx, data); err == nil {
				return idx, nil
			}
		} else if ok {
			var reply []byte
			if reply, err = n.rpc.Call(ctx, leader, noderpc.OpReadIndex, nil); err == nil {
				return decodeIndex(reply)
			}
		} else {
			err = ErrNoLeader
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("raft read index: %w (last error: %v)", ctx.Err(), err)
		}
		select {
		case <-ctx.Done():
		case <-n.LeaderChanged():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LinearizableState returns the state once it reflects everything committed
// before the call.
func (n *Node) LinearizableState(ctx context.Context) (*State, error) {
	idx, err := n.ReadIndex(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.WaitApplied(ctx, idx); err != nil {
		return nil, err
	}
	st, _ := n.Current()
	return st, nil
}

// WaitAppliedOn waits until each of pnns (this node included or not) has
// applied index. It asks the other nodes in parallel and returns the first
// error.
func (n *Node) WaitAppliedOn(ctx context.Context, index uint64, pnns []uint32) error {
	errs := make(chan error, len(pnns))
	for _, p := range pnns {
		go func() {
			if p == n.cfg.Self {
				errs <- n.waitInstalled(ctx, index)
				return
			}
			_, err := n.rpc.Call(ctx, p, noderpc.OpWaitApplied, encodeIndex(index))
			if err != nil {
				err = fmt.Errorf("node %d: %w", p, err)
			}
			errs <- err
		}()
	}
	var first error
	for range pnns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Snapshot forces a snapshot now (tests and administration).
func (n *Node) Snapshot() error { return n.await(context.Background(), n.raft.Snapshot()) }
