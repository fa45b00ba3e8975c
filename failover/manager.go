package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// Config configures a node's public-IP failover.
type Config struct {
	Self uint32
	// Disabled ([failover] disabled) leaves the interfaces alone.
	Disabled bool
	// AddressesFile is the node's public_addresses (missing: none).
	AddressesFile string
	// Lease is how long an address stays on an interface without the
	// leader's renewed consent (0: forever, as ctdbd).
	Lease time.Duration
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Lease < 0 {
		return errors.New("failover config: Lease: negative")
	}
	if c.Lease > 0 && c.Lease < 3*time.Second {
		return fmt.Errorf("failover config: Lease: %v is shorter than 3s (renewed every third)", c.Lease)
	}
	return nil
}

// Raft is what failover needs of the Raft layer.
type Raft interface {
	Current() (*raftlayer.State, uint64)
	Watch() <-chan struct{}
	IsLeader() bool
	Leader() (uint32, bool)
	LeaderChanged() <-chan struct{}
	VerifyLeader(ctx context.Context) error
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
}

// Links are the node links: which peers are connected and how the others
// left.
type Links interface {
	transport.Links
	transport.Departures
}

// Nodes reaches the other nodes.
type Nodes interface {
	noderpc.Peer
	// Go sends a control without waiting for its reply.
	Go(pnn uint32, req protocol.ReqControl, timeout time.Duration, done func(status int32, data, errmsg []byte))
}

// Messenger delivers messages: to this node's clients, or to a node.
type Messenger interface {
	DeliverLocal(srvid uint64, data []byte)
	SendMessage(dest uint32, srvid uint64, data []byte)
}

// Scripts are the event scripts as failover uses them: the public-address
// events, and the node's health as its monitor event decides it.
type Scripts interface {
	// RunEvent runs takeip, releaseip, updateip or ipreallocated and
	// returns the scripts' verdict.
	RunEvent(ctx context.Context, event string, args ...string) error
	// Healthy reports whether the node's last monitor event passed; a
	// node that is not healthy holds no address.
	Healthy() bool
	HealthChanged() <-chan struct{}
}

// NoScripts is a node without event scripts: every event passes and the
// node is healthy.
type NoScripts struct{}

// RunEvent does nothing.
func (NoScripts) RunEvent(context.Context, string, ...string) error { return nil }

// Healthy is always true.
func (NoScripts) Healthy() bool { return true }

// HealthChanged never fires.
func (NoScripts) HealthChanged() <-chan struct{} { return nil }

// Manager is one node's public-IP failover: its share of the addresses
// on its interfaces (node), the takeover runs while it leads (leader),
// the connection lists, and the controls and messages that drive them.
type Manager struct {
	cfg    Config
	raft   Raft
	quorum raftlayer.Quorum
	tr     Links
	rpc    Nodes
	host   Host
	msgs   Messenger
	events Scripts
	log    *slog.Logger
	met    *failoverMetrics

	conns *conns
	node  *node
	lead  *leader
	// links wakes the leader when a link changes.
	links chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopping is closed by Stop, so that what a control scheduled for
	// later (the repeats of a gratuitous ARP) leaves the host alone after it.
	stopping chan struct{}
	stopOnce sync.Once
}

// New reads the node's public addresses and checks that their interfaces
// exist on host; Start runs it.
func New(cfg Config, r Raft, q raftlayer.Quorum, tr Links, rpc Nodes, host Host, msgs Messenger, scripts Scripts, log *slog.Logger, set *metrics.Set) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if scripts == nil {
		scripts = NoScripts{}
	}
	addrs, err := config.LoadPublicAddresses(cfg.AddressesFile)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, raft: r, quorum: q, tr: tr, rpc: rpc, host: host, msgs: msgs, events: scripts, log: log,
		conns: newConns(), links: make(chan struct{}, 1), stopping: make(chan struct{})}
	if err := m.checkIfaces(addrs); err != nil {
		return nil, err
	}
	m.node = newNode(m, addrs)
	m.lead = newLeader(m)
	m.met = newMetrics(set, m)
	rpc.Register(noderpc.OpFailoverLease, m.lead.serveLease)
	rpc.Register(noderpc.OpFailoverReleased, m.node.serveReleased)
	rpc.Register(noderpc.OpFailoverMove, m.lead.serveMove)
	if len(addrs) == 0 {
		log.Info("no public addresses", "file", cfg.AddressesFile)
	}
	return m, nil
}

// checkIfaces refuses public addresses on interfaces this host lacks.
func (m *Manager) checkIfaces(addrs []config.PublicAddress) error {
	if m.cfg.Disabled || len(addrs) == 0 {
		return nil
	}
	var names []string
	for _, a := range addrs {
		for _, i := range a.Ifaces {
			if !slices.Contains(names, i) {
				names = append(names, i)
			}
		}
	}
	up, err := m.host.LinksUp(names)
	if err != nil {
		return fmt.Errorf("public addresses: read interfaces: %w", err)
	}
	for _, a := range addrs {
		for _, i := range a.Ifaces {
			if _, ok := up[i]; !ok {
				return fmt.Errorf("%s: public address %s: interface %q does not exist on this node", m.cfg.AddressesFile, a.Prefix, i)
			}
		}
	}
	return nil
}

// Start runs the node's reconciler, its lease renewals, the leader's
// takeover runs and the connection list pushes.
func (m *Manager) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for _, f := range []func(context.Context){m.node.loop, m.node.leaseLoop, m.lead.loop, m.pushLoop, m.node.reallocatedLoop} {
		m.wg.Go(func() { f(ctx) })
	}
}

// Stop ends the loops; the node releases every public address it holds
// first, as 4.17's shutdown event does.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() { close(m.stopping) })
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
}

// LinkChanged tells the leader that a node link went up or down.
func (m *Manager) LinkChanged() {
	select {
	case m.links <- struct{}{}:
	default:
	}
}

// ClientGone forgets the connections a local client registered.
func (m *Manager) ClientGone(c control.Client) { m.conns.DropClient(c) }

// hosting reports whether this node holds address a in the current
// assignment.
func (m *Manager) hosting(st *raftlayer.State) func(netip.Addr) bool {
	return func(a netip.Addr) bool {
		p, ok := st.Holder(a)
		return ok && p == m.cfg.Self
	}
}

// pushLoop sends every node the connection lists of the addresses this
// node holds when they changed, every TickleUpdateInterval.
func (m *Manager) pushLoop(ctx context.Context) {
	for {
		st, _ := m.raft.Current()
		every := time.Duration(st.TunablesOf(m.cfg.Self).TickleUpdateInterval) * time.Second
		if every <= 0 {
			every = 20 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		st, _ = m.raft.Current()
		m.pushLists(m.conns.TakeDirty(m.hosting(st)))
	}
}
