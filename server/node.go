package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/databases"
	"github.com/rctdb/rctdb/election"
	"github.com/rctdb/rctdb/failover"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/lifecycle"
	"github.com/rctdb/rctdb/membership"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/persistent"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/recovery"
	"github.com/rctdb/rctdb/startsettings"
	"github.com/rctdb/rctdb/statistics"
	"github.com/rctdb/rctdb/transport"
	"github.com/rctdb/rctdb/traverse"
	"github.com/rctdb/rctdb/tunnel"
	"github.com/rctdb/rctdb/volatile"
)

// Options configure a Node.
type Options struct {
	Config *config.Config
	// Transport replaces the TCP transport the configuration describes
	// (in-process tests use transport.Mem).
	Transport transport.Transport
	// Logger is the base logger; Level controls it at run time (SET_DEBUG).
	Logger *slog.Logger
	Level  *slog.LevelVar
	// Metrics receives the node's metrics; nil gives it a private set.
	Metrics *metrics.Set
	// RaftInMemory keeps Raft's log and snapshots in memory (tests only).
	RaftInMemory bool
	// ClientQueueLimit bounds the bytes queued for one client; a client
	// that lets more pile up is disconnected. 0 means 64 MiB.
	ClientQueueLimit int
	// Host is the operating system's side of public-IP failover (the
	// daemon passes linuxhost's); nil gives a host in memory without
	// interfaces, which refuses any public address.
	Host failover.Host
}

// Node is one rctdb node: client socket, transport, Raft and election.
type Node struct {
	cfg   *config.Config
	log   *slog.Logger
	level *logging.DebugLevel
	self  uint32
	port  uint16
	nodes []raftlayer.NodeState

	tr       transport.Transport
	rpc      *noderpc.Endpoint
	raft     *raftlayer.Node
	election *election.Manager
	vol      *volatile.Manager
	pers     *persistent.Store
	dbs      *databases.DBs
	ln       *net.UnixListener
	reg      *registry
	tunnels  *tunnel.Router
	stats    *statistics.Keeper
	sm       *serverMetrics
	controls control.Table
	internal map[uint64]func(from uint32, data []byte)
	failover *failover.Manager
	members  *membership.Follower
	traverse *traverse.Coordinator

	started          time.Time
	clientQueueLimit int
	life             *lifecycle.Manager
	part             *recovery.Participant
	recovery         *recovery.Leader
	incarnation      uint64 // this run of the daemon, see recovery.MustFreeze

	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup // the node's own goroutines, see doc/goroutines.md
	shutdownOnce sync.Once
	done         chan struct{} // closed when a client asks for shutdown

	// closers undo what New and Start set up, run in reverse order by
	// Shutdown or by a failed New or Start; only those touch it.
	closers []closer
}

// closer stops one part of the node.
type closer struct {
	what string
	fn   func(ctx context.Context) error
}

// onClose registers how to stop what was just set up.
func (n *Node) onClose(what string, fn func(ctx context.Context) error) {
	n.closers = append(n.closers, closer{what, fn})
}

// closeAll runs the closers in reverse order of registration, each once,
// and returns every error. It stops early when ctx ends: what is left
// open may still be in use by goroutines that did not end.
func (n *Node) closeAll(ctx context.Context) error {
	var errs []error
	for len(n.closers) > 0 {
		c := n.closers[len(n.closers)-1]
		n.closers = n.closers[:len(n.closers)-1]
		if err := c.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", c.what, err))
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("left %d parts running: %w", len(n.closers), ctx.Err()))
			break
		}
	}
	return errors.Join(errs...)
}

// takeCloser removes the closer registered as what and returns it.
func (n *Node) takeCloser(what string) closer {
	i := slices.IndexFunc(n.closers, func(c closer) bool { return c.what == what })
	c := n.closers[i]
	n.closers = slices.Delete(n.closers, i, i+1)
	return c
}

// quiet wraps a close without an error.
func quiet(f func()) func(context.Context) error {
	return func(context.Context) error { f(); return nil }
}

// New builds a node from its configuration; Start brings it up. A failed
// New releases what it opened.
func New(opts Options) (_ *Node, err error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("server: Options.Config: required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	self, err := cfg.PNN()
	if err != nil {
		return nil, err
	}
	level := opts.Level
	if level == nil {
		level = new(slog.LevelVar)
		level.Set(cfg.Logging.SlogLevel())
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(logging.NewHandler(os.Stderr, level))
	}
	log = log.With("pnn", self)
	set := opts.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	n := &Node{
		cfg: cfg, log: log.With("subsystem", "server"), level: logging.NewDebugLevel(level, cfg.Logging.DebugLevel()), self: self,
		port: cfg.Cluster.Port, reg: newRegistry(),
		clientQueueLimit: cmp.Or(opts.ClientQueueLimit, 64<<20), done: make(chan struct{}),
		incarnation: newIncarnation(),
	}
	n.tunnels = tunnel.New(self, tunnelNet{n}, log.With("subsystem", "tunnel"), set)
	defer func() {
		if err != nil {
			n.closeAll(context.Background())
		}
	}()
	for _, cn := range cfg.Nodes {
		ns := raftlayer.NodeState{PNN: cn.PNN, Deleted: cn.Deleted}
		if !cn.Deleted {
			ns.Addr = cn.Addr.String()
		}
		n.nodes = append(n.nodes, ns)
	}

	// The event scripts (ctdb-config) expect every database directory.
	for _, d := range []string{cfg.Database.VolatileDir, cfg.Database.PersistentDir, cfg.Database.StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
	}
	n.tr = opts.Transport
	if n.tr == nil {
		tcfg := transport.Config{Links: cfg.Cluster.Links, ClusterID: cfg.EffectiveClusterID(), Self: self, TLS: cfg.TLS,
			SambaVersion:       transport.SambaVersionFromEnv(os.LookupEnv),
			AllowMixedVersions: func() bool { return n.tunables().AllowMixedVersions != 0 }}
		for _, cn := range cfg.Nodes {
			if !cn.Deleted {
				tcfg.Peers = append(tcfg.Peers, transport.Peer{PNN: cn.PNN, Addr: cn.Addr})
			}
		}
		tcp, err := transport.NewTCP(tcfg, log.With("subsystem", "transport"), set)
		if err != nil {
			return nil, err
		}
		n.tr = tcp
	}
	// The node owns its transport (also one it was given); Start moves
	// this closer after the goroutines that use it.
	n.onClose("transport", func(context.Context) error { return n.tr.Close() })
	n.stats = statistics.New(time.Now(), func() (uint64, uint64) {
		s := n.tr.Stats()
		return s.KeepalivesSent, s.KeepalivesRecv
	})
	n.rpc = noderpc.New(noderpc.Config{
		Self: self, Generation: n.generation, Timeout: n.controlTimeout,
		OnTimeout: n.stats.CountControlTimeout,
	}, nodeSender{n}, log.With("subsystem", "noderpc"), set)

	rcfg := raftlayer.Config{
		Raft:          cfg.Raft,
		InMemory:      opts.RaftInMemory,
		ClusterID:     cfg.EffectiveClusterID(),
		Self:          self,
		Nodes:         n.nodes,
		WaitInstalled: true,
	}
	// Before Raft can restore a replicated database into the volatile
	// directory (from a snapshot, while raftlayer.Open runs).
	volatile.RemoveStaleFiles(cfg.Database.VolatileDir, self, log.With("subsystem", "volatile"))
	n.pers, err = persistent.NewStore(persistent.Config{
		Self:          self,
		PersistentDir: cfg.Database.PersistentDir,
		ReplicatedDir: cfg.Database.VolatileDir,
		HashSize:      int(protocol.DefaultTunableValues().DatabaseHashSize),
	}, log.With("subsystem", "persistent"), set)
	if err != nil {
		return nil, err
	}
	n.onClose("persistent databases", quiet(n.pers.Close))
	rcfg.Data = n.pers
	// Raft opens before the transport starts: its stream listener already
	// exists, and the transport's handler must find Raft in place.
	n.raft, err = raftlayer.Open(rcfg, n.tr, n.rpc, log.With("subsystem", "raft"), set)
	if err != nil {
		return nil, err
	}
	n.onClose("raft", func(context.Context) error { return n.raft.Shutdown() })
	committer := persistent.NewCommitter(self, n.pers, n.raft, log.With("subsystem", "persistent"))
	caps := protocol.CapFeatures
	if cfg.Cluster.LeaderCapability {
		caps |= protocol.CapRecMaster
	}
	if cfg.Legacy.LMasterCapability {
		caps |= protocol.CapLMaster
	}
	n.vol, err = volatile.NewManager(volatile.Config{
		Self:             self,
		Dir:              cfg.Database.VolatileDir,
		HashSize:         int(protocol.DefaultTunableValues().DatabaseHashSize),
		LockWaitersPerDB: int(protocol.DefaultTunableValues().LockProcessesPerDB),
		Vacuum:           volatile.VacuumConfig{Tunables: n.tunables},
	}, nodeSender{n}, n.rpc, log.With("subsystem", "volatile"), set)
	if err != nil {
		return nil, err
	}
	n.onClose("volatile databases", quiet(n.vol.Close))
	// Node controls served by the subsystems use Raft and the databases:
	// they end before those close.
	n.onClose("node rpc", quiet(n.rpc.Close))
	n.members = membership.New(membership.Config{Self: self, NodesFile: cfg.Cluster.NodesFile, Port: cfg.Cluster.Port},
		n.raft, n.tr, log.With("subsystem", "membership"))
	n.part = recovery.NewParticipant(self, n.incarnation, n.vol)
	n.part.Register(n.rpc)
	n.recovery = recovery.NewLeader(self, n.raft, n.tr, n.rpc, n.part, log.With("subsystem", "recovery"), set)
	n.dbs = databases.New(databases.Config{
		Self: self, Volatile: n.vol, Persistent: n.pers, Committer: committer, Raft: n.raft,
		Commit: n.commit, Active: n.checkActive,
	}, log.With("subsystem", "databases"))
	n.traverse = traverse.New(traverse.Config{
		Self: self, QueueLimit: n.clientQueueLimit,
		Timeout: func() time.Duration { return time.Duration(cmp.Or(n.tunables().TraverseTimeout, 20)) * time.Second },
	}, traverseNodes{n.rpc, n}, n.dbs, log.With("subsystem", "traverse"), set)
	n.onClose("traverses", quiet(n.traverse.Close))
	n.election = election.New(election.Config{
		ClusterID:         cfg.EffectiveClusterID(),
		Nodes:             n.nodes,
		Capabilities:      caps,
		QuorumLossTimeout: cfg.Cluster.QuorumLossTimeout,
		Incarnation:       n.incarnation,
		Members:           n.members,
	}, n.raft, n.tr, n, log.With("subsystem", "election"), set)
	n.life, err = lifecycle.New(lifecycle.Config{
		Self: self, Incarnation: n.incarnation, Base: cfg.Event.Base, DebugScript: cfg.Event.DebugScript,
		EventdSocket: filepath.Join(filepath.Dir(cfg.Cluster.Socket), "eventd.socket"), Socket: cfg.Cluster.Socket,
		ScriptVarDir: filepath.Join(filepath.Dir(cfg.Database.StateDir), "scripts"),
		Logging:      cfg.Logging.Location, DebugLevel: cfg.Logging.Level,
	}, n.raft, n.election, log.With("subsystem", "events"), set)
	if err != nil {
		return nil, err
	}
	n.onClose("event scripts", n.life.Close)
	host := opts.Host
	if host == nil {
		host = failover.NewMemHost()
	}
	n.failover, err = failover.New(failover.Config{
		Self: self, Disabled: cfg.Failover.Disabled, AddressesFile: cfg.Failover.AddressesFile, Lease: cfg.Failover.Lease,
	}, n.raft, n.election, n.tr, n.rpc, host, n, n.life, log.With("subsystem", "failover"), set)
	if err != nil {
		return nil, err
	}
	n.controls = n.controlTable()
	n.internal = n.failover.Messages()
	n.internal[protocol.SrvIDDisableRecoveries] = n.handleDisableRecoveries
	n.internal[protocol.SrvIDMemDump] = n.handleMemDump
	n.sm = newServerMetrics(set, n)
	return n, nil
}

// Start opens the client socket, connects to the other nodes and starts the
// election and the node's goroutines. On error everything New and Start
// set up is released again.
func (n *Node) Start() (err error) {
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.started = time.Now()
	defer func() {
		if err != nil {
			n.closeAll(context.Background())
		}
	}()
	// The transport closes after the goroutines that use it have ended:
	// take its closer from New and put it back here.
	trClose := n.takeCloser("transport")
	n.onClose("goroutines", n.waitGoroutines)
	n.onClose(trClose.what, trClose.fn)
	// The init event runs before clients can connect, as in 4.17 (a
	// failure leaves the node up, not healthy, retrying).
	if err := n.life.Init(n.ctx); err != nil {
		return err
	}
	ln, err := listenSocket(n.cfg.Cluster.Socket)
	if err != nil {
		return err
	}
	n.ln = ln
	n.onClose("client socket", quiet(n.closeSocket))
	if err := n.tr.Start(n); err != nil {
		return err
	}
	n.election.Start()
	n.onClose("election", quiet(n.election.Stop))
	n.recovery.Start()
	n.onClose("recovery", quiet(n.recovery.Stop))
	// The shutdown event runs after failover released the addresses and
	// while clients (the scripts' ctdb calls) can still connect.
	n.life.Start()
	n.onClose("lifecycle", n.life.Stop)
	// Failover stops first: it releases this node's public addresses
	// while the node links still tell the leader.
	n.failover.Start()
	n.onClose("failover", quiet(n.failover.Stop))
	n.wg.Add(4)
	go n.acceptLoop()
	go n.watchState()
	go func() {
		defer n.wg.Done()
		n.stats.RunHistory(n.ctx, n.statHistoryInterval, n.reg.numClients)
	}()
	go func() {
		defer n.wg.Done()
		want := append(startsettings.Flags(n.self, n.cfg.Legacy), startsettings.TunablesFile(n.self, n.cfg.TunablesFile, n.log)...)
		startsettings.Apply(n.ctx, n.raft, n.commit, want, n.log)
	}()
	n.notice("node started", "socket", n.cfg.Cluster.Socket, "cluster_id", n.cfg.EffectiveClusterID())
	return nil
}

// closeSocket stops accepting clients, removes the socket and closes every
// client connection.
func (n *Node) closeSocket() {
	n.ln.Close()
	os.Remove(n.cfg.Cluster.Socket)
	for _, c := range n.reg.all() {
		c.close("")
	}
}

// waitGoroutines cancels the node's context and waits for its goroutines
// (accept and client loops, the state loop, blocking controls).
func (n *Node) waitGoroutines(ctx context.Context) error {
	n.cancel()
	waited := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when a client asked the daemon to shut down.
func (n *Node) Done() <-chan struct{} { return n.done }

func (n *Node) requestShutdown() { n.shutdownOnce.Do(func() { close(n.done) }) }

// Shutdown stops the node in reverse order of start: the recovery and
// the election, the node links, the client socket and its clients, then it
// cancels and joins the node's goroutines (bounded by ctx) and closes the
// subsystems: traverses, node controls, volatile databases, Raft, and the
// persistent databases last, so that nothing runs on a closed one.
func (n *Node) Shutdown(ctx context.Context) error {
	n.life.BeginShutdown()
	err := n.closeAll(ctx)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	n.notice("node stopped")
	return nil
}

func (n *Node) notice(msg string, args ...any) {
	n.log.Log(context.Background(), logging.LevelNotice, msg, args...)
}

// sendNode sends a packet to another node and counts it.
func (n *Node) sendNode(pnn uint32, pkt []byte) error {
	if err := n.tr.Send(pnn, pkt); err != nil {
		return err
	}
	n.stats.CountNodeSent()
	return nil
}

// HandlePacket is the transport's delivery of a packet from another node.
func (n *Node) HandlePacket(from uint32, pkt []byte) {
	op := protocol.PacketOp(pkt)
	n.stats.CountNodeRecv(op)
	if n.rpc.HandlePacket(from, pkt) {
		return
	}
	switch op {
	case protocol.OpReqControl:
		n.handleNodeControl(from, pkt)
	case protocol.OpReqMessage:
		n.handleNodeMessage(from, pkt)
	case protocol.OpReqTunnel:
		n.tunnels.FromNode(from, pkt)
	case protocol.OpReqCall:
		n.vol.HandleReqCall(pkt)
	case protocol.OpReqDMaster:
		n.vol.HandleReqDMaster(pkt)
	case protocol.OpReplyDMaster:
		n.vol.HandleReplyDMaster(pkt)
	case protocol.OpReplyCall:
		n.vol.HandleReplyCall(pkt)
	case protocol.OpReplyError:
		n.vol.HandleReplyError(pkt)
	default:
		n.log.Debug("dropping node packet", "pnn", from, "op", op)
	}
}

// PeerConnected is the transport's report that a node link came up.
func (n *Node) PeerConnected(pnn uint32) {
	n.election.LinkChanged()
	n.failover.LinkChanged()
}

// PeerDisconnected fails the controls pending on the node and tells the
// election.
func (n *Node) PeerDisconnected(pnn uint32) {
	n.rpc.PeerDisconnected(pnn)
	n.election.LinkChanged()
	n.failover.LinkChanged()
}

// handleClientPacket dispatches one packet from a local client. An error
// closes the connection.
func (n *Node) handleClientPacket(c *clientConn, op protocol.Operation, pkt []byte) error {
	switch op {
	case protocol.OpReqControl:
		return n.handleClientControl(c, pkt)
	case protocol.OpReqMessage:
		var m protocol.ReqMessage
		if err := m.Unmarshal(pkt); err != nil {
			return err
		}
		n.SendMessage(m.DestNode, m.SrvID, m.Data)
		return nil
	case protocol.OpReqCall:
		var call protocol.ReqCall
		if err := call.Unmarshal(pkt); err != nil {
			return err
		}
		reqid := call.ReqID
		if !n.vol.ClientCall(&call, func(status int32, data []byte) {
			rc := protocol.ReplyCall{
				Header: protocol.Header{Generation: n.generation(), SrcNode: n.self, ReqID: reqid},
				Status: status, Data: data,
			}
			c.send(rc.Marshal())
		}) {
			// ctdbd drops calls for unknown databases without a reply.
			n.log.Debug("dropping call for unknown database", "db_id", fmt.Sprintf("0x%08x", call.DBID), "client", c.id)
		}
		return nil
	case protocol.OpReqTunnel:
		return n.tunnels.FromClient(c.id, pkt)
	default:
		return fmt.Errorf("operation %v is not sent by clients", op)
	}
}

// watchState follows the replicated state: it installs the databases and
// the view, keeps the volatile databases frozen while this node may not
// serve them (recovery, no quorum, not a member of the generation), records
// recoveries for ctdb uptime.
func (n *Node) watchState() {
	defer n.wg.Done()
	wasRecovering := false
	for {
		watch, inactiveCh := n.raft.Watch(), n.election.InactiveChanged()
		st, idx := n.raft.Current()
		if n.raft.Initialized() {
			n.members.Sync(st)
		}
		n.dbs.Install(st)
		recovering := n.part.Install(st, n.election.Inactive())
		n.raft.Installed(idx)
		if recovering != wasRecovering {
			if !recovering {
				n.stats.CountRecovery()
			}
			wasRecovering = recovering
		}
		select {
		case <-n.ctx.Done():
			return
		case <-watch:
		case <-inactiveCh:
		}
	}
}

// nodeSender lets the volatile layer send node packets, counted.
type nodeSender struct{ n *Node }

func (s nodeSender) Send(pnn uint32, pkt []byte) error { return s.n.sendNode(pnn, pkt) }

// Connected reports whether the link to pnn is up.
func (s nodeSender) Connected(pnn uint32) bool { return s.n.tr.Connected(pnn) }

// statHistoryInterval is the StatHistoryInterval tunable, at least 1 s.
func (n *Node) statHistoryInterval() time.Duration {
	st, _ := n.raft.Current()
	if v := st.TunablesOf(n.self).StatHistoryInterval; v > 0 {
		return time.Duration(v) * time.Second
	}
	return time.Second
}

// SocketPath is the client socket of the node.
func (n *Node) SocketPath() string { return n.cfg.Cluster.Socket }

// PNN is this node's pnn.
func (n *Node) PNN() uint32 { return n.self }

// newIncarnation picks a random id for this run of the daemon.
func newIncarnation() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// tunables are this node's tunables as applied here.
func (n *Node) tunables() *protocol.TunableValues {
	st, _ := n.raft.Current()
	return st.TunablesOf(n.self)
}
