package volatile

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/volatile/migration"
)

// Sender sends a packet to another node.
type Sender interface {
	Send(pnn uint32, pkt []byte) error
}

// Config configures the volatile databases of a node.
type Config struct {
	Self uint32
	// Dir is the volatile database directory.
	Dir string
	// HashSize of new TDB files when DBSpec gives none (ctdbd's
	// DatabaseHashSize, 100001).
	HashSize int
	// LockWaitersPerDB bounds the goroutines blocked in the kernel for chain
	// locks of one database when DBSpec gives no bound (ctdbd's
	// LockProcessesPerDB, 200).
	LockWaitersPerDB int
	// Pin is how long at most a record that arrived for local clients
	// stays here before other nodes' requests queued during its flight are
	// served, so that those clients get their turn; it ends earlier once
	// they had it (pinwatch.go).
	Pin time.Duration
	// PinPoll is how often a pin with requests waiting looks whether its
	// clients had their turn.
	PinPoll time.Duration
	// CallTimeout bounds a call to another node before it is sent again.
	CallTimeout time.Duration
	Vacuum      VacuumConfig
}

func (c *Config) setDefaults() {
	if c.HashSize <= 0 {
		c.HashSize = 100001
	}
	if c.LockWaitersPerDB <= 0 {
		c.LockWaitersPerDB = 200
	}
	if c.Pin <= 0 {
		c.Pin = 500 * time.Microsecond
	}
	if c.PinPoll <= 0 {
		c.PinPoll = 25 * time.Microsecond
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 5 * time.Second
	}
	c.Vacuum.setDefaults()
}

// view is the vnn map calls are routed by.
type view struct {
	gen    uint32
	vnnmap []uint32
	active []uint32
}

// Manager holds the volatile databases of a node.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	out   Sender
	rpc   noderpc.Caller
	met   *volatileMetrics
	stats nodeStats
	view  atomic.Pointer[view]

	mu     sync.RWMutex
	dbs    map[uint32]*DB
	byName map[string]*DB
	closed bool // set by Close: no database is opened again
	// recovering keeps every database frozen (see SetRecovering); it is
	// changed under mu and read without it.
	recovering atomic.Bool

	reqid atomic.Uint32
	// calls maps the reqid of a call this node sent to the database
	// whose fetch it is.
	callsMu sync.Mutex
	calls   map[uint32]*DB

	// parked holds node packets for databases not attached yet.
	parkMu sync.Mutex
	parked map[uint32][]parkedPacket

	pinWatch *pinWatch

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewManager prepares the volatile layer in cfg.Dir (created if missing).
// It leaves the files of earlier runs alone: the daemon removes them with
// RemoveStaleFiles before anything opens a file there.
func NewManager(cfg Config, out Sender, rpc noderpc.Caller, log *slog.Logger, set *metrics.Set) (*Manager, error) {
	cfg.setDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("volatile config: Dir: required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("volatile database directory: %w", err)
	}
	m := &Manager{
		cfg: cfg, log: log, out: out, rpc: rpc,
		dbs: make(map[uint32]*DB), byName: make(map[string]*DB),
		calls: make(map[uint32]*DB), stop: make(chan struct{}),
		parked: make(map[uint32][]parkedPacket), pinWatch: newPinWatch(),
	}
	// A node starts frozen: it serves records only once the cluster made
	// it a member of a recovered generation (SetRecovering).
	m.recovering.Store(true)
	m.met = newMetrics(set, m)
	m.view.Store(&view{gen: protocol.InvalidGeneration})
	m.wg.Add(3)
	go m.timerLoop()
	go m.vacuumLoop()
	go m.pinLoop()
	return m, nil
}

// RemoveStaleFiles deletes the NAME.tdb.PNN files of node self in dir, left
// by an earlier run: volatile content does not survive a restart. The
// replicated databases live in the same directory and are restored from
// Raft, so this runs before the persistent layer opens any of them, which
// a snapshot's restore does while Raft opens.
func RemoveStaleFiles(dir string, self uint32, log *slog.Logger) {
	suffix := fmt.Sprintf(".%d", self)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, suffix) && strings.Contains(n, ".tdb") {
			if err := os.Remove(filepath.Join(dir, n)); err == nil {
				log.Info("removed volatile database of an earlier run", "file", n)
			}
		}
	}
}

// ErrClosed is returned for work asked of a closed Manager.
var ErrClosed = errors.New("volatile databases closed")

// Close closes every database and stops the background work; from then on
// the manager refuses work (Ensure fails, calls and packets are dropped).
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	dbs := m.dbs
	m.dbs, m.byName = map[uint32]*DB{}, map[string]*DB{}
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	for _, db := range dbs {
		db.close()
	}
}

// Sync makes the attached databases those of want (id -> name, flags):
// missing ones are opened, ones no longer wanted are closed and removed.
func (m *Manager) Sync(want map[uint32]DBSpec) {
	m.mu.Lock()
	var closing []*DB
	for id, db := range m.dbs {
		if _, ok := want[id]; !ok {
			delete(m.dbs, id)
			delete(m.byName, db.Name)
			closing = append(closing, db)
		}
	}
	m.mu.Unlock()
	for _, db := range closing {
		db.close()
		os.Remove(db.Path)
		m.log.Info("detached database", "db", db.Name)
	}
	for id, spec := range want {
		if _, err := m.Ensure(id, spec); err != nil {
			m.log.Error("attach failed", "db", spec.Name, "err", err)
		}
	}
}

// DBSpec describes a database to attach: its name and flags, and the
// replicated tunables that shape it (0: the configured defaults).
type DBSpec struct {
	Name        string
	Flags       uint8
	HashSize    int // DatabaseHashSize, for a new file
	LockWaiters int // LockProcessesPerDB
}

// Ensure returns the open database id, opening it if needed.
func (m *Manager) Ensure(id uint32, spec DBSpec) (*DB, error) {
	m.mu.RLock()
	db := m.dbs[id]
	m.mu.RUnlock()
	if db != nil {
		db.update(spec)
		return db, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("attach db %q: %w", spec.Name, ErrClosed)
	}
	if db := m.dbs[id]; db != nil {
		return db, nil
	}
	db, err := m.openDB(id, spec)
	if err != nil {
		return nil, err
	}
	// Runs after the deferred unlock, with the database in place.
	m.wg.Add(1)
	defer func() {
		go func() {
			defer m.wg.Done()
			m.runParked(id)
		}()
	}()
	db.mu.Lock()
	db.m.met.attached.Inc()
	if m.recovering.Load() {
		db.requestFreeze()
	}
	db.mu.Unlock()
	m.dbs[id] = db
	m.byName[spec.Name] = db
	m.log.Info("attached database", "db", spec.Name, "id", fmt.Sprintf("0x%08x", id), "path", db.Path)
	return db, nil
}

// DB returns the attached database id, or nil.
func (m *Manager) DB(id uint32) *DB {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.dbs[id]
}

// DBByName returns the attached database name, or nil.
func (m *Manager) DBByName(name string) *DB {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byName[name]
}

// DBs returns the attached databases sorted by id.
func (m *Manager) DBs() []*DB {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*DB, 0, len(m.dbs))
	for _, db := range m.dbs {
		out = append(out, db)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetView installs a new vnn map. Packets of other generations are dropped
// from now on; calls in flight are sent again under the new generation when
// the recovery that comes with it thaws the databases.
func (m *Manager) SetView(gen uint32, vnnmap, active []uint32) {
	m.view.Store(&view{gen: gen, vnnmap: append([]uint32(nil), vnnmap...), active: append([]uint32(nil), active...)})
}

// Generation is the generation packets are stamped with.
func (m *Manager) Generation() uint32 { return m.view.Load().gen }

// lmaster returns the lmaster of key under the current vnn map.
func (m *Manager) lmaster(key []byte) uint32 {
	v := m.view.Load()
	if len(v.vnnmap) == 0 {
		return m.cfg.Self
	}
	return v.vnnmap[hashKey(key)%uint32(len(v.vnnmap))]
}

func (m *Manager) newReqID() uint32 {
	for {
		if id := m.reqid.Add(1); id != 0 {
			return id
		}
	}
}

// send sends a packet to another node, counting failures.
// send sends a node packet; false if it could not leave (no link to the
// node), in which case a record it carried must stay here.
func (m *Manager) send(pnn uint32, pkt []byte) bool {
	if err := m.out.Send(pnn, pkt); err != nil {
		m.met.sendErrors.Inc()
		m.log.Debug("send to node failed", "pnn", pnn, "err", err)
		return false
	}
	return true
}

// timerLoop resends calls that got no answer and propagates sequence numbers.
func (m *Manager) timerLoop() {
	defer m.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		m.resendStale()
		m.propagateSeqnums()
		m.expirePins()
	}
}

// expirePins forgets pins that ended without a request to clear them, and
// requests held for a generation that is over (their senders send again).
func (m *Manager) expirePins() {
	for _, db := range m.DBs() {
		db.mu.Lock()
		if !db.closed {
			db.step(migration.Expire{}, nil)
		}
		db.mu.Unlock()
	}
}
