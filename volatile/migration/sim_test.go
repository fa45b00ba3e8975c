package migration

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// A sim is a cluster of Cores for one database over an in-memory network:
// per-link FIFO queues that deliver only when told, a clock that moves only
// when told, files as maps, and a driver that does what package volatile
// does with each action. Scenario files and the fuzz test drive it.

const (
	simDB          = 0x42
	simCallTimeout = time.Second
	simPin         = 500 * time.Microsecond
)

var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type simNode struct {
	pnn   uint32
	core  *Core
	env   *simEnv
	file  map[string]Record
	alive bool
	// locked: keys whose chain a local process holds (pin turns).
	locked  map[string]bool
	watched map[string]bool
}

type simEnv struct {
	s     *sim
	reqid uint32
}

func (e *simEnv) Generation() uint32        { return e.s.gen }
func (e *simEnv) Lmaster(key []byte) uint32 { return e.s.lmaster(key) }
func (e *simEnv) Readonly() bool            { return e.s.readonly }
func (e *simEnv) NewReqID() uint32          { e.reqid++; return e.reqid }

// simObserver tells the scenarios what a Core drops or finds amiss.
type simObserver struct {
	s   *sim
	pnn uint32
}

func (o simObserver) Observe(t Tally, key []byte, v float64) {
	switch t {
	case TallyStale:
		o.s.logf("n%d drops a packet of another generation", o.pnn)
	case TallyRedirect:
		o.s.maxHops = max(o.s.maxHops, uint32(v))
	case TallyMigratedOut:
		o.s.migrations[string(key)]++
	case TallyOldNotice:
		o.s.logf("n%d drops a notice older than what it knows", o.pnn)
	case TallyInconsistent:
		o.s.logf("n%d: REQ_DMASTER for %s from a node it does not know as dmaster", o.pnn, key)
	}
}

// callSeen is where a call stood when its record last moved.
type callSeen struct {
	migrations int
	hops       uint32
}

// circleLimit bounds the hops a call may make while its record stays put:
// the lmaster, the dmaster it names, a follow or two.
const circleLimit = 6

// noteCall records a REQ_CALL leaving; a call that makes more than
// circleLimit hops between two moves of its record is going round.
func (s *sim) noteCall(msg []byte) {
	var c protocol.ReqCall
	if c.Unmarshal(msg) != nil {
		return
	}
	id, migs := [2]uint32{c.SrcNode, c.ReqID}, s.migrations[string(c.Key)]
	seen, ok := s.calls[id]
	if !ok || seen.migrations != migs {
		s.calls[id] = callSeen{migrations: migs, hops: c.HopCount}
		return
	}
	if c.HopCount-seen.hops > circleLimit && s.circling == "" && !s.dirty() {
		s.circling = fmt.Sprintf("n%d's call %d for %s made %d hops while the record stayed put", c.SrcNode, c.ReqID, c.Key, c.HopCount-seen.hops)
	}
}

type simPacket struct {
	from, to uint32
	msg      []byte
}

type simClient struct {
	name     string
	node     uint32
	key      string
	callid   uint32
	answered bool
	status   int32
	data     []byte
}

type simLater struct {
	node uint32
	at   time.Time
	a    Later
}

type simRevoke struct {
	node uint32
	a    Revoke
}

type sim struct {
	nodes []*simNode
	gen   uint32
	// killedGen is the generation in which a node died last.
	killedGen uint32
	// maxHops is the most hops a call made; migrations counts each key's
	// hand-overs, calls each call's hops at its key's last hand-over, and
	// circling names a call that went round without the record moving.
	maxHops    uint32
	migrations map[string]int
	calls      map[[2]uint32]callSeen
	circling   string
	readonly   bool
	// lmasters names each key's lmaster; a key not named, or whose lmaster
	// died, has the lowest live node.
	lmasters map[string]uint32
	links    map[[2]uint32][]simPacket
	now      time.Time
	clients  []*simClient
	laters   []simLater
	revokes  []simRevoke
	out      []string // what happened, for scenario output
	// onAnswer and onStore let the fuzz test check each step.
	onAnswer func(n *simNode, c *simClient, a Answer)
	onStore  func(n *simNode, a Store)
}

func newSim(n int) *sim {
	s := &sim{gen: 1, lmasters: map[string]uint32{}, links: map[[2]uint32][]simPacket{}, now: simEpoch,
		migrations: map[string]int{}, calls: map[[2]uint32]callSeen{}}
	for i := range n {
		env := &simEnv{s: s}
		nd := &simNode{pnn: uint32(i), env: env, file: map[string]Record{}, alive: true,
			locked: map[string]bool{}, watched: map[string]bool{}}
		nd.core = New(Config{Self: uint32(i), DBID: simDB, Pin: simPin, Obs: simObserver{s, uint32(i)}}, env)
		s.nodes = append(s.nodes, nd)
	}
	return s
}

func (s *sim) logf(format string, args ...any) { s.out = append(s.out, fmt.Sprintf(format, args...)) }

func (s *sim) lmaster(key []byte) uint32 {
	if l, ok := s.lmasters[string(key)]; ok && s.nodes[l].alive {
		return l
	}
	for _, n := range s.nodes {
		if n.alive {
			return n.pnn
		}
	}
	return 0
}

// record is key's record in n's file, or the initial one.
func (s *sim) record(n *simNode, key []byte) Record {
	if r, ok := n.file[string(key)]; ok {
		return r
	}
	return Record{Header: protocol.LtdbHeader{DMaster: s.lmaster(key), Flags: protocol.RecFlagAutomatic}}
}

// step feeds n's Core one event and carries out its actions.
func (s *sim) step(n *simNode, ev Event, key []byte) {
	var rec Record
	if key != nil {
		rec = s.record(n, key)
	}
	var unsent []SendFailed
	for _, a := range n.core.Step(ev, s.now, rec) {
		switch a := a.(type) {
		case Send:
			for snd := &a; snd != nil; snd = snd.Then {
				if !s.send(n.pnn, snd.To, snd.Msg) {
					if snd.Unsent != nil {
						unsent = append(unsent, SendFailed{Key: snd.Key, Record: *snd.Unsent, To: snd.To})
					}
					break
				}
			}
		case Store:
			if a.Delete {
				delete(n.file, string(a.Key))
				s.logf("n%d deletes %s", n.pnn, a.Key)
			} else {
				n.file[string(a.Key)] = Record{Header: a.Record.Header, Data: bytes.Clone(a.Record.Data), Exists: true}
				s.logf("n%d stores %s %s", n.pnn, a.Key, describeRecord(a.Record))
			}
			if s.onStore != nil {
				s.onStore(n, a)
			}
		case Answer:
			a.Client.Reply(a.Status, a.Data)
		case Watch:
			n.watched[string(a.Key)] = true
		case Revoke:
			s.revokes = append(s.revokes, simRevoke{node: n.pnn, a: a})
			s.logf("n%d revokes the copies of %s on %v", n.pnn, a.Key, a.Holders)
		case Later:
			s.laters = append(s.laters, simLater{node: n.pnn, at: s.now.Add(a.Delay), a: a})
		case Forget:
		default:
			panic(fmt.Sprintf("unknown action %T", a))
		}
	}
	for _, f := range unsent {
		s.step(n, f, f.Key)
	}
}

// send queues a packet; false if the destination is dead.
func (s *sim) send(from, to uint32, msg []byte) bool {
	if !s.nodes[to].alive || !s.nodes[from].alive {
		s.logf("n%d -> n%d %s: no link", from, to, describePacket(msg))
		return false
	}
	if h, err := protocol.DecodeHeader(msg); err == nil && h.Operation == protocol.OpReqCall {
		s.noteCall(msg)
	}
	l := [2]uint32{from, to}
	s.links[l] = append(s.links[l], simPacket{from: from, to: to, msg: msg})
	s.logf("n%d -> n%d %s", from, to, describePacket(msg))
	return true
}

// call starts a local client's call.
func (s *sim) call(node uint32, key string, callid, flags uint32) *simClient {
	c := &simClient{name: fmt.Sprintf("c%d", len(s.clients)+1), node: node, key: key, callid: callid}
	s.clients = append(s.clients, c)
	n := s.nodes[node]
	reply := func(status int32, data []byte) {
		if c.answered {
			panic(c.name + " answered twice")
		}
		c.answered, c.status, c.data = true, status, bytes.Clone(data)
		s.logf("%s answered on n%d: status %d data %q", c.name, n.pnn, status, data)
		if s.onAnswer != nil {
			s.onAnswer(n, c, Answer{Status: status, Data: data})
		}
	}
	cl := Client{CallID: callid, Start: s.now, Reply: reply}
	s.step(s.nodes[node], LocalCall{Key: []byte(key), Flags: flags, Client: cl}, []byte(key))
	return c
}

// linkOrder lists the links with packets queued, in a fixed order.
func (s *sim) linkOrder() [][2]uint32 {
	var ls [][2]uint32
	for l, q := range s.links {
		if len(q) > 0 {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool {
		if ls[i][0] != ls[j][0] {
			return ls[i][0] < ls[j][0]
		}
		return ls[i][1] < ls[j][1]
	})
	return ls
}

// deliver hands the first packet queued on link l to its destination;
// false if none is queued.
func (s *sim) deliver(l [2]uint32) bool {
	q := s.links[l]
	if len(q) == 0 {
		return false
	}
	p := q[0]
	s.links[l] = q[1:]
	n := s.nodes[p.to]
	s.logf("n%d <- n%d %s", p.to, p.from, describePacket(p.msg))
	h, err := protocol.DecodeHeader(p.msg)
	if err != nil {
		panic(err)
	}
	switch h.Operation {
	case protocol.OpReqCall:
		var c protocol.ReqCall
		must(c.Unmarshal(p.msg))
		s.step(n, NodeCall{Call: c}, c.Key)
	case protocol.OpReqDMaster:
		var r protocol.ReqDMaster
		must(r.Unmarshal(p.msg))
		s.step(n, DMasterRequest{Req: r}, r.Key)
	case protocol.OpReplyDMaster:
		var r protocol.ReplyDMaster
		must(r.Unmarshal(p.msg))
		s.step(n, DMasterReply{Reply: r}, r.Key)
	case protocol.OpReplyCall:
		var r protocol.ReplyCall
		must(r.Unmarshal(p.msg))
		if key, ok := n.core.FetchKey(r.ReqID); ok {
			s.step(n, CallReply{Reply: r}, key)
		}
	default:
		panic(fmt.Sprintf("unexpected packet %v", h.Operation))
	}
	return true
}

// deliverAll delivers packets, one per link in turn, until none is left;
// false if that took more than limit deliveries.
func (s *sim) deliverAll(limit int) bool {
	for n := 0; ; {
		ls := s.linkOrder()
		if len(ls) == 0 {
			return true
		}
		for _, l := range ls {
			s.deliver(l)
			if n++; n > limit {
				return false
			}
		}
	}
}

// tick moves the clock and runs what the driver runs on time: calls
// waiting to run again, revocations, resends of stale fetches, expiry and
// the pin watch.
func (s *sim) tick(d time.Duration) {
	s.now = s.now.Add(d)
	s.runRevokes()
	laters := s.laters
	s.laters = nil
	for _, l := range laters {
		if l.at.After(s.now) {
			s.laters = append(s.laters, l)
			continue
		}
		if n := s.nodes[l.node]; n.alive {
			s.step(n, Rerun{Key: l.a.Key, Calls: l.a.Calls}, l.a.Key)
		}
	}
	for _, n := range s.nodes {
		if !n.alive {
			continue
		}
		for _, ref := range n.core.StaleFetches(s.now.Add(-simCallTimeout)) {
			s.step(n, Resend{Fetch: ref, Gen: s.gen}, ref.Key)
		}
		s.step(n, Expire{}, nil)
		s.watchPins(n)
	}
}

// watchPins is the driver's pin watch: a key whose chain a local process
// holds is released when it unlocks (see unlock).
func (s *sim) watchPins(n *simNode) {
	for _, k := range slices.Sorted(mapKeys(n.watched)) {
		key := []byte(k)
		switch n.core.Pin(key, s.now) {
		case PinIdle:
			s.step(n, Unwatch{Key: key}, nil)
			delete(n.watched, k)
		case PinOver:
			s.step(n, Release{Key: key, Why: PinDeadline}, key)
			delete(n.watched, k)
		default:
			if !n.locked[k] {
				s.step(n, PinLook{Key: key}, key)
				if !n.core.Watched(key) {
					delete(n.watched, k)
				}
			}
		}
	}
}

// unlock ends a local process's hold of key's chain on n: a pin watch
// waiting behind it looks now, late.
func (s *sim) unlock(n *simNode, key string) {
	delete(n.locked, key)
	if n.watched[key] && n.core.Pin([]byte(key), s.now) == PinOn {
		s.step(n, PinLook{Key: []byte(key), Late: true}, []byte(key))
		if !n.core.Watched([]byte(key)) {
			delete(n.watched, key)
		}
	}
}

// runRevokes replaces the read-only copies a revocation names, as
// UPDATE_RECORD does (existing copies only), and ends it.
func (s *sim) runRevokes() {
	revokes := s.revokes
	s.revokes = nil
	for _, rv := range revokes {
		ok := true
		for _, h := range rv.a.Holders {
			hn := s.nodes[h]
			if !hn.alive {
				ok = false
				continue
			}
			upd, _ := ParseRecord(rv.a.Update.Data)
			if _, exists := hn.file[string(rv.a.Update.Key)]; exists {
				hn.file[string(rv.a.Update.Key)] = Record{Header: upd.Header, Data: bytes.Clone(upd.Data), Exists: true}
			}
		}
		if n := s.nodes[rv.node]; n.alive {
			s.step(n, RevokeDone{Key: rv.a.Key, Seq: rv.a.Seq, OK: ok}, rv.a.Key)
		}
	}
}

// kill stops node p: its links go with everything queued on them.
func (s *sim) kill(p uint32) {
	s.nodes[p].alive = false
	s.killedGen = s.gen
	for l := range s.links {
		if l[0] == p || l[1] == p {
			delete(s.links, l)
		}
	}
}

// recover runs a recovery into a new generation: every live node gets the
// newest copy of each record (the highest rsn; on a tie the copy its
// dmaster holds), naming as dmaster the node that held it. Fetches in
// flight are sent again, as at the thaw.
func (s *sim) recover() {
	s.gen++
	for _, n := range s.nodes {
		if n.alive {
			s.step(n, Recover{}, nil)
		}
	}
	keys := map[string]bool{}
	for _, n := range s.nodes {
		for k := range n.file {
			keys[k] = true
		}
	}
	for _, k := range slices.Sorted(mapKeys(keys)) {
		var best Record
		var holder uint32
		found := false
		for _, n := range s.nodes {
			r, ok := n.file[k]
			if !n.alive || !ok {
				continue
			}
			better := !found || r.Header.RSN > best.Header.RSN ||
				(r.Header.RSN == best.Header.RSN && r.Header.DMaster == n.pnn)
			if better {
				best, holder, found = r, n.pnn, true
			}
		}
		if !found {
			continue
		}
		best.Header.DMaster = holder
		best.Header.Flags &^= protocol.RecFlagsRO
		for _, n := range s.nodes {
			if n.alive {
				n.file[k] = Record{Header: best.Header, Data: bytes.Clone(best.Data), Exists: true}
			}
		}
		s.logf("recovered %s: %s", k, describeRecord(best))
	}
	for _, n := range s.nodes {
		if !n.alive {
			continue
		}
		for _, ref := range n.core.StaleFetches(time.Time{}) {
			s.step(n, Resend{Fetch: ref, Gen: s.gen}, ref.Key)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func describeRecord(r Record) string {
	var flags []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{
		{protocol.RecFlagMigratedWithData, "with-data"}, {protocol.RecFlagVacuumMigrated, "vacuum"},
		{protocol.RecFlagROHaveDelegations, "delegations"}, {protocol.RecFlagROHaveReadonly, "readonly"},
		{protocol.RecFlagRORevokingReadonly, "revoking"}, {protocol.RecFlagRORevokeComplete, "revoked"},
		{protocol.RecFlagAutomatic, "automatic"},
	} {
		if r.Header.Flags&f.bit != 0 {
			flags = append(flags, f.name)
		}
	}
	s := fmt.Sprintf("rsn=%d dmaster=%d data=%q", r.Header.RSN, r.Header.DMaster, r.Data)
	if len(flags) > 0 {
		s += " flags=" + strings.Join(flags, ",")
	}
	return s
}

func describePacket(msg []byte) string {
	h, err := protocol.DecodeHeader(msg)
	if err != nil {
		return "malformed"
	}
	head := fmt.Sprintf("gen=%d reqid=%d", h.Generation, h.ReqID)
	switch h.Operation {
	case protocol.OpReqCall:
		var c protocol.ReqCall
		must(c.Unmarshal(msg))
		s := fmt.Sprintf("REQ_CALL %s %s from=n%d hops=%d", c.Key, head, c.SrcNode, c.HopCount)
		if c.Flags&CallFlagFollows != 0 {
			s += " follows"
		}
		return s
	case protocol.OpReqDMaster:
		var r protocol.ReqDMaster
		must(r.Unmarshal(msg))
		kind := "REQ_DMASTER"
		if r.RecordFlags&RecFlagNotice != 0 {
			kind = "REQ_DMASTER notice"
		}
		return fmt.Sprintf("%s %s %s to=n%d rsn=%d data=%q", kind, r.Key, head, r.DMaster, r.RSN, r.Data)
	case protocol.OpReplyDMaster:
		var r protocol.ReplyDMaster
		must(r.Unmarshal(msg))
		return fmt.Sprintf("REPLY_DMASTER %s %s rsn=%d data=%q", r.Key, head, r.RSN, r.Data)
	case protocol.OpReplyCall:
		var r protocol.ReplyCall
		must(r.Unmarshal(msg))
		rec, _ := ParseRecord(r.Data)
		return fmt.Sprintf("REPLY_CALL %s status=%d %s", head, r.Status, describeRecord(rec))
	}
	return h.Operation.String()
}
