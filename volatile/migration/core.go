package migration

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Env is what a Core reads of the node around it.
type Env interface {
	// Generation is the current generation; packets of others are stale.
	Generation() uint32
	// Lmaster is the key's lmaster under the current vnn map.
	Lmaster(key []byte) uint32
	// NewReqID returns a reqid unique on this node.
	NewReqID() uint32
	// Readonly reports whether the database hands out read-only copies.
	Readonly() bool
}

// Tally is something an Observer counts.
type Tally uint8

const (
	TallyCollapsed    Tally = iota // a local call joined a fetch in flight
	TallyFetch                     // a fetch started
	TallyCallSent                  // a REQ_CALL left (v: 1)
	TallyRedirect                  // a call was sent one hop on (v: its hops)
	TallyServed                    // another node's call was served (v: its hops)
	TallyMigratedOut               // a record left
	TallyMigratedIn                // a record arrived
	TallyInconsistent              // a REQ_DMASTER from a node not known as dmaster
	TallyDeferred                  // a call waits here for a record
	TallyStale                     // a packet of another generation was dropped
	TallyFetchDone                 // a fetch ended (v: its seconds)
	TallyDelegated                 // a read-only copy was given
	TallyRevoke                    // a revocation started
	TallyRevoked                   // a revocation ended and was cleared
	TallyResent                    // a fetch was sent again
	TallyPinTurn                   // a pin ended: PinTurn
	TallyPinWrite                  // a pin ended: PinWrite
	TallyPinDeadline               // a pin ended: PinDeadline
	TallyOldNotice                 // a notice older than the lmaster's knowledge was dropped
)

// Observer counts what a Core does, for metrics and statistics.
type Observer interface {
	Observe(t Tally, key []byte, v float64)
}

// Config configures a Core.
type Config struct {
	Self uint32
	DBID uint32
	// Pin is how long at most a record that arrived for local clients
	// stays here while other nodes wait for it.
	Pin time.Duration
	Log *slog.Logger
	Obs Observer
}

// Core is the migration state of one database on one node. It is not safe
// for concurrent use.
type Core struct {
	self uint32
	dbid uint32
	pin  time.Duration
	env  Env
	obs  Observer
	log  *slog.Logger

	// inflight maps a key to the fetch this node sent to become its
	// dmaster; reqs maps each reqid of a fetch to it.
	inflight map[string]*fetch
	reqs     map[uint32]*fetch
	fetchSeq uint64
	// pins holds, for records just received for local clients, when other
	// nodes may have them again; waiting holds other nodes' requests until
	// the record is free here; watched marks keys under the pin watch.
	pins    map[string]pin
	waiting map[string][]protocol.ReqCall
	watched map[string]bool
	// delegates maps a key this node is dmaster of to the nodes it gave
	// read-only copies to; revokes holds the revocations running.
	delegates map[string][]uint32
	revokes   map[string]*revocation
	revokeSeq uint64

	// The step in progress: its time, the record of its key as it is
	// now, and the actions decided so far.
	now time.Time
	cur Record
	out []Action
}

// New returns the Core of a database.
func New(cfg Config, env Env) *Core {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Obs == nil {
		cfg.Obs = nopObserver{}
	}
	return &Core{
		self: cfg.Self, dbid: cfg.DBID, pin: cfg.Pin, env: env, obs: cfg.Obs, log: cfg.Log,
		inflight: make(map[string]*fetch), reqs: make(map[uint32]*fetch),
		pins: make(map[string]pin), waiting: make(map[string][]protocol.ReqCall), watched: make(map[string]bool),
		delegates: make(map[string][]uint32), revokes: make(map[string]*revocation),
	}
}

type nopObserver struct{}

func (nopObserver) Observe(Tally, []byte, float64) {}

// Step applies ev at now; rec is the record of the event's key as the file
// holds it (the chain held), ignored by events that need none. The actions
// returned are the caller's.
func (c *Core) Step(ev Event, now time.Time, rec Record) []Action {
	c.now, c.cur, c.out = now, rec, nil
	switch e := ev.(type) {
	case LocalCall:
		c.localCall(e.Key, e.Flags, e.Client)
	case NodeCall:
		c.nodeCall(e.Call)
	case DMasterRequest:
		c.dmasterRequest(e.Req)
	case DMasterReply:
		p := e.Reply
		if c.stale(p.Generation) {
			break
		}
		c.becomeDMaster(p.Key, protocol.LtdbHeader{RSN: p.RSN, Flags: p.RecordFlags}, p.Data, p.ReqID)
	case CallReply:
		c.callReply(e.Reply)
	case CallError:
		c.callError(e)
	case Resend:
		c.resend(e)
	case SendFailed:
		c.keepUnsent(e.Key, e.Record, e.To)
	case PinLook:
		c.pinLook(e.Key, e.Late)
	case Release:
		c.obs.Observe(pinTally[e.Why], e.Key, 1)
		c.release(e.Key)
	case Unwatch:
		if len(c.waiting[string(e.Key)]) == 0 {
			delete(c.watched, string(e.Key))
		}
	case RevokeDone:
		c.finishRevoke(e.Key, e.Seq, e.OK)
	case Rerun:
		for _, d := range e.Calls {
			c.rerun(e.Key, d)
		}
	case Recover:
		c.recover()
	case Expire:
		c.expire()
	case Close:
		for _, f := range c.inflight {
			c.forget(f)
			c.fail(f)
		}
		clear(c.inflight)
	case VacuumFetch:
		c.vacuumFetch(e.Key, e.Client)
	default:
		panic(fmt.Sprintf("migration: unknown event %T", ev))
	}
	c.cur = Record{}
	return c.out
}

var pinTally = [...]Tally{PinTurn: TallyPinTurn, PinWrite: TallyPinWrite, PinDeadline: TallyPinDeadline}

func (c *Core) emit(a Action) { c.out = append(c.out, a) }

// stale reports (and counts) a packet of another generation.
func (c *Core) stale(gen uint32) bool {
	if gen == c.env.Generation() {
		return false
	}
	c.obs.Observe(TallyStale, nil, 1)
	return true
}

// initial is the record of a key the file does not hold.
func (c *Core) initial(key []byte) Record {
	return Record{Header: protocol.LtdbHeader{DMaster: c.env.Lmaster(key), Flags: protocol.RecFlagAutomatic}}
}

// store writes key's record as ctdbd's ltdb store does: the rsn is bumped
// when this node is the dmaster, AUTOMATIC never reaches the file, and an
// empty record is deleted unless something still needs it.
func (c *Core) store(key []byte, r Record) {
	h := r.Header
	h.Flags &^= protocol.RecFlagAutomatic | protocol.RecFlagVacuumMigrated
	if h.DMaster == c.self && r.Header.Flags&protocol.RecFlagsRO == 0 {
		h.RSN++
	}
	if len(r.Data) == 0 && !c.keepEmpty(key, r.Header) {
		c.emit(Store{Key: key, Delete: true})
		c.cur = c.initial(key)
		return
	}
	stored := Record{Header: h, Data: r.Data, Exists: true}
	c.emit(Store{Key: key, Record: stored, Vacuum: len(r.Data) == 0 && h.DMaster == c.self})
	c.cur = stored
}

// keepEmpty is ctdbd's rule for empty records: they are kept (for
// vacuuming to decide) on the lmaster and the dmaster, and when flags say
// the record travelled with data or is new.
func (c *Core) keepEmpty(key []byte, h protocol.LtdbHeader) bool {
	switch {
	case h.Flags&protocol.RecFlagsRO != 0, h.Flags&protocol.RecFlagAutomatic != 0,
		h.Flags&protocol.RecFlagMigratedWithData != 0:
		return true
	case c.env.Lmaster(key) == c.self:
		return h.Flags&protocol.RecFlagVacuumMigrated == 0 || h.DMaster != c.self
	}
	return h.DMaster == c.self
}

// FetchKey returns the key of the fetch reqid belongs to.
func (c *Core) FetchKey(reqid uint32) ([]byte, bool) {
	if f := c.reqs[reqid]; f != nil {
		return f.key, true
	}
	return nil, false
}

// Fetching reports whether this node has a fetch of key in flight.
func (c *Core) Fetching(key []byte) bool { return c.inflight[string(key)] != nil }

// Fetches counts the fetches in flight.
func (c *Core) Fetches() int { return len(c.inflight) }

// StaleFetches lists the fetches sent before cutoff (all of them for the
// zero time).
func (c *Core) StaleFetches(cutoff time.Time) []FetchRef {
	var refs []FetchRef
	for _, f := range c.inflight {
		if cutoff.IsZero() || f.sentAt.Before(cutoff) {
			refs = append(refs, FetchRef{Key: f.key, ID: f.id})
		}
	}
	return refs
}

// PinState is what the pin watch should do about a key.
type PinState uint8

const (
	PinIdle PinState = iota // nobody waits: Unwatch
	PinOver                 // the pin ended: Release with PinDeadline
	PinOn                   // the clients may not have had their turn yet
)

// Pin tells the pin watch where key stands at now.
func (c *Core) Pin(key []byte, now time.Time) PinState {
	k := string(key)
	if len(c.waiting[k]) == 0 {
		return PinIdle
	}
	if p, ok := c.pins[k]; !ok || !now.Before(p.until) {
		return PinOver
	}
	return PinOn
}

// Watched reports whether key is under the pin watch.
func (c *Core) Watched(key []byte) bool { return c.watched[string(key)] }

// HexKey shows a key in logs: hex, cut after 32 bytes.
func HexKey(key []byte) string {
	if len(key) > 32 {
		return hex.EncodeToString(key[:32]) + "..."
	}
	return hex.EncodeToString(key)
}

// Waiting counts other nodes' requests held here for key.
func (c *Core) Waiting(key []byte) int { return len(c.waiting[string(key)]) }

// Describe tells where key stands here, for test failures and logs.
func (c *Core) Describe(key []byte, now time.Time) string {
	k := string(key)
	s := "fetch none"
	if f := c.inflight[k]; f != nil {
		s = fmt.Sprintf("fetch reqids %v local %d sent %v ago", f.reqids, len(f.local), now.Sub(f.sentAt).Round(time.Millisecond))
	}
	if p, ok := c.pins[k]; ok {
		s += fmt.Sprintf(" pinned for %v", p.until.Sub(now).Round(time.Microsecond))
	}
	return s + fmt.Sprintf(" waiting %d watched %v", len(c.waiting[k]), c.watched[k])
}
