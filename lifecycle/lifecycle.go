package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/internal/watch"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Component is the event-script component ctdbd runs: events/legacy.
const Component = "legacy"

// Events runs event scripts; *events.Runner is one.
type Events interface {
	Run(ctx context.Context, component, event string, args []string, timeout time.Duration, flags events.RunFlags) (events.Result, error)
}

// Raft is what the lifecycle needs of the Raft layer.
type Raft interface {
	Current() (*raftlayer.State, uint64)
	Watch() <-chan struct{}
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
}

// Defaults of Config.
const (
	DefaultStartupRetry  = 5 * time.Second
	DefaultNotifyTimeout = 30 * time.Second
)

// Config configures a node's lifecycle.
type Config struct {
	Self uint32
	// Incarnation is this run of the daemon: health is reported for it.
	Incarnation uint64
	// Base is $CTDB_BASE: the scripts of Base/events/legacy run, and
	// Base/notify.sh is the notification script. Empty runs no scripts:
	// every event passes.
	Base string
	// DebugScript is [event] debug script (see events.Config).
	DebugScript string
	// EventdSocket is where ctdb-eventd's protocol is served, so that
	// `ctdb event` works ("" for nowhere); the daemon passes eventd.socket
	// beside its client socket, where 4.17's tool looks.
	EventdSocket string
	// Env is the scripts' environment before the variables 4.17 sets:
	// nil means this process's. CTDB_BASE is set to Base, CTDB_SOCKET to
	// Socket (the scripts' ctdb calls reach this node), CTDB_LOGGING and
	// CTDB_DEBUGLEVEL to Logging and DebugLevel when not empty, and
	// CTDB_SCRIPT_VARDIR to ScriptVarDir unless Env has it.
	Env          []string
	Socket       string
	ScriptVarDir string
	Logging      string
	DebugLevel   string
	// Events replaces the runner of Base's scripts (tests); no eventd
	// socket is served then.
	Events Events
	// NotifyTimeout bounds one notification; its process group is killed
	// then. 0 means DefaultNotifyTimeout.
	NotifyTimeout time.Duration
	// StartupRetry is how long after a failed init, setup or startup
	// event it runs again. 0 means DefaultStartupRetry, 4.17's for
	// startup.
	StartupRetry time.Duration
}

// scriptEnv is the environment of the event and notification scripts.
func (c *Config) scriptEnv() []string {
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	set := map[string]string{"CTDB_BASE": c.Base, "CTDB_SOCKET": c.Socket, "CTDB_LOGGING": c.Logging, "CTDB_DEBUGLEVEL": c.DebugLevel}
	out := make([]string, 0, len(env)+len(set)+1)
	hasVarDir := false
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if v, ok := set[name]; ok && v != "" {
			continue
		}
		hasVarDir = hasVarDir || name == "CTDB_SCRIPT_VARDIR"
		out = append(out, kv)
	}
	for _, name := range []string{"CTDB_BASE", "CTDB_SOCKET", "CTDB_LOGGING", "CTDB_DEBUGLEVEL"} {
		if v := set[name]; v != "" {
			out = append(out, name+"="+v)
		}
	}
	if !hasVarDir && c.ScriptVarDir != "" {
		out = append(out, "CTDB_SCRIPT_VARDIR="+c.ScriptVarDir)
	}
	return out
}

func (c *Config) setDefaults() {
	c.NotifyTimeout = cmp.Or(c.NotifyTimeout, DefaultNotifyTimeout)
	c.StartupRetry = cmp.Or(c.StartupRetry, DefaultStartupRetry)
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if c.NotifyTimeout < 0 {
		return fmt.Errorf("lifecycle config: NotifyTimeout: %v is negative", c.NotifyTimeout)
	}
	if c.StartupRetry < 0 {
		return fmt.Errorf("lifecycle config: StartupRetry: %v is negative", c.StartupRetry)
	}
	return nil
}

// Manager runs one node's lifecycle. Runstate, Healthy and RunEvent are
// safe for concurrent use.
type Manager struct {
	cfg    Config
	ev     Events
	raft   Raft
	quorum raftlayer.Quorum
	log    *slog.Logger
	met    *lifeMetrics

	runstate      atomic.Uint32
	healthy       atomic.Bool
	healthChanged watch.Signal

	notify *notifier
	// runner and eventd are the scripts of Base and the socket serving
	// them, when the lifecycle built them.
	runner    *events.Runner
	eventd    *events.Server
	serveDone chan struct{}

	// inited is set once the init event passed: only then does Stop run
	// the shutdown event.
	inited atomic.Bool
	cancel context.CancelFunc
	// wg counts the loop and the goroutines running its events.
	wg sync.WaitGroup
}

// New returns the lifecycle of a node; Init runs the init event, Start the
// rest of its life. A nil log discards, a nil set keeps the metrics
// private.
func New(cfg Config, r Raft, q raftlayer.Quorum, log *slog.Logger, set *metrics.Set) (*Manager, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	m := &Manager{cfg: cfg, ev: cfg.Events, raft: r, quorum: q, log: log}
	env := cfg.scriptEnv()
	notifyCfg := notifyConfig{Timeout: cfg.NotifyTimeout, Env: env}
	switch {
	case m.ev != nil:
	case cfg.Base == "":
		m.ev = noScripts{}
	default:
		runner, err := events.New(events.Config{EtcDir: cfg.Base, DebugScript: cfg.DebugScript, Env: env, Logger: log, Metrics: set})
		if err != nil {
			return nil, fmt.Errorf("event scripts: %w", err)
		}
		m.ev, m.runner = runner, runner
	}
	if cfg.Base != "" {
		notifyCfg.Script = filepath.Join(cfg.Base, "notify.sh")
	}
	m.runstate.Store(uint32(protocol.RunstateInit))
	m.notify = newNotifier(notifyCfg, log)
	m.met = newMetrics(set, m)
	return m, nil
}

// noScripts is the event runner of a node without scripts: every event
// passes at once, as an empty events directory does.
type noScripts struct{}

func (noScripts) Run(context.Context, string, string, []string, time.Duration, events.RunFlags) (events.Result, error) {
	return events.Result{Code: events.ResultOK, Status: &events.Status{}}, nil
}

// Runstate is the node's run state, as GET_RUNSTATE reports it.
func (m *Manager) Runstate() protocol.Runstate { return protocol.Runstate(m.runstate.Load()) }

// Healthy reports the verdict of this node's last conclusive monitor
// event; false until the first one passed.
func (m *Manager) Healthy() bool { return m.healthy.Load() }

// HealthChanged is closed at the next change of Healthy.
func (m *Manager) HealthChanged() <-chan struct{} { return m.healthChanged.Changed() }

// Init runs the init event, before the node's client socket opens, as
// 4.17 does. If it fails, the node comes up all the same, not healthy,
// and Start runs init again until it passes: 4.17 exits instead, which
// leaves an administrator nothing to ask why. Init fails only if the
// event daemon socket cannot be served.
func (m *Manager) Init(ctx context.Context) error {
	if err := m.serveEventd(); err != nil {
		return err
	}
	m.notify.start()
	if err := m.runLifeEvent(ctx, "init"); err != nil {
		m.log.Error("init event failed; retrying after start", "err", err, "in", m.cfg.StartupRetry)
		return nil
	}
	m.passedStage("init")
	return nil
}

// passedStage moves the run state past a start-up stage's event, as
// 4.17 does, with the notification.
func (m *Manager) passedStage(event string) {
	switch event {
	case "init":
		m.inited.Store(true)
		m.setRunstate(protocol.RunstateSetup)
	case "setup":
		m.setRunstate(protocol.RunstateFirstRecovery)
	case "startup":
		m.setRunstate(protocol.RunstateRunning)
	}
	m.notify.send(event)
}

// Start runs the rest of the node's life on the lifecycle's goroutine:
// init again if it failed, setup, the first recovery, startup and the
// monitor.
func (m *Manager) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	retryAt := time.Time{}
	if m.Runstate() == protocol.RunstateInit {
		retryAt = time.Now().Add(m.cfg.StartupRetry)
	}
	l := newLoop(m, ctx, retryAt)
	m.wg.Go(l.run)
}

// BeginShutdown moves the run state to SHUTDOWN: the daemon is going away.
func (m *Manager) BeginShutdown() { m.setRunstate(protocol.RunstateShutdown) }

// Stop ends the node's life: the loop stops (a monitor it ran is left to
// the runner) and the shutdown event runs if init had passed, bounded by
// ctx and EventScriptTimeout. RunEvent still works: Close ends it.
func (m *Manager) Stop(ctx context.Context) error {
	m.BeginShutdown()
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.inited.CompareAndSwap(true, false) {
		return m.runLifeEvent(ctx, "shutdown")
	}
	return nil
}

// Close stops what Stop leaves: the notifications still queued run
// (until ctx ends), the event daemon socket closes and the runner kills
// what still runs. It calls Stop first if nobody did.
func (m *Manager) Close(ctx context.Context) error {
	err := m.Stop(ctx)
	m.notify.stop(ctx)
	if m.eventd != nil {
		m.eventd.Shutdown(ctx)
		<-m.serveDone
	}
	if m.runner != nil {
		m.runner.Close()
	}
	return err
}

// serveEventd serves ctdb-eventd's protocol on Config.EventdSocket.
func (m *Manager) serveEventd() error {
	if m.runner == nil || m.cfg.EventdSocket == "" || m.eventd != nil {
		return nil
	}
	// The client socket lives in the same directory, which keeps others
	// out (0700) when the daemon creates it.
	if err := os.MkdirAll(filepath.Dir(m.cfg.EventdSocket), 0o700); err != nil {
		return fmt.Errorf("event daemon socket: %w", err)
	}
	ln, err := events.Listen(m.cfg.EventdSocket)
	if err != nil {
		return fmt.Errorf("event daemon socket: %w", err)
	}
	m.eventd = events.NewServer(m.runner, m.log)
	m.serveDone = make(chan struct{})
	go func() {
		defer close(m.serveDone)
		if err := m.eventd.Serve(ln); err != nil && !errors.Is(err, events.ErrServerClosed) {
			m.log.Error("event daemon socket failed", "err", err)
		}
	}()
	return nil
}

// RunEvent runs a public-address event (takeip, releaseip, updateip,
// ipreallocated) for failover and returns the scripts' verdict, mapped
// as 4.17 maps it: a timed-out takeip or releaseip counts as done.
func (m *Manager) RunEvent(ctx context.Context, event string, args ...string) error {
	res, err := m.ev.Run(ctx, Component, event, args, m.eventTimeout(), 0)
	if err != nil {
		return fmt.Errorf("event %s: %w", event, err)
	}
	return verdict(event, res.Code)
}

// runLifeEvent runs one of the events the daemon waits for (init,
// shutdown).
func (m *Manager) runLifeEvent(ctx context.Context, event string) error {
	res, err := m.ev.Run(ctx, Component, event, nil, m.eventTimeout(), 0)
	if err != nil {
		return fmt.Errorf("%s event: %w", event, err)
	}
	if err := verdict(event, res.Code); err != nil {
		return err
	}
	return nil
}

// eventTimeout is EventScriptTimeout.
func (m *Manager) eventTimeout() time.Duration {
	st, _ := m.raft.Current()
	return time.Duration(cmp.Or(st.TunablesOf(m.cfg.Self).EventScriptTimeout, protocol.DefaultTunableValues().EventScriptTimeout)) * time.Second
}

// timeoutIsSuccess lists the events whose timeout 4.17 treats as success.
var timeoutIsSuccess = map[string]bool{"startrecovery": true, "recovered": true, "takeip": true, "releaseip": true}

// verdict maps the result of an event run to an error: nil when the event
// passed. A missing events directory means no scripts, which pass.
func verdict(event string, code int32) error {
	switch code {
	case events.ResultOK, events.ResultNoDir:
		return nil
	case events.ResultTimedOut:
		if timeoutIsSuccess[event] {
			return nil
		}
		return fmt.Errorf("%s event timed out", event)
	case events.ResultCanceled:
		return fmt.Errorf("%s event: %w", event, errCanceled)
	case events.ResultFailed:
		return fmt.Errorf("%s event failed", event)
	}
	return fmt.Errorf("%s event: %w", event, syscall.Errno(code))
}

var errCanceled = errors.New("cancelled")

func (m *Manager) setRunstate(rs protocol.Runstate) {
	for {
		old := protocol.Runstate(m.runstate.Load())
		if old == rs || old == protocol.RunstateShutdown {
			return // nothing leaves SHUTDOWN
		}
		if m.runstate.CompareAndSwap(uint32(old), uint32(rs)) {
			m.log.Log(context.Background(), logging.LevelNotice, fmt.Sprintf("Set runstate to %s (%d)", rs, rs))
			return
		}
	}
}

// setHealthy records the monitor's verdict; a change wakes failover,
// logs as 4.17 does and runs the notification script.
func (m *Manager) setHealthy(ok bool) {
	if m.healthy.Swap(ok) == ok {
		return
	}
	m.met.healthChanges.Inc()
	m.healthChanged.Notify()
	if ok {
		m.log.Log(context.Background(), logging.LevelNotice, "monitor event OK - node re-enabled")
		m.notify.send("healthy")
	} else {
		m.log.Error("monitor event failed - disabling node")
		m.notify.send("unhealthy")
	}
}
