package volatile

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// testNet connects Managers in one process: packets between two nodes are
// delivered in order by one goroutine per link, as the transport does.
type testNet struct {
	t     *testing.T
	mu    sync.Mutex
	mgrs  map[uint32]*Manager
	links map[[2]uint32]chan []byte
	down  map[uint32]bool
	cut   map[[2]uint32]bool // links from, to that lose what is sent
	// rpcHook, if set, runs before a control reaches node pnn; an error
	// fails the control.
	rpcHook func(pnn uint32, op protocol.Opcode) error
	wg      sync.WaitGroup
	done    chan struct{}
}

func newTestNet(t *testing.T, n int) *testNet { return newTestNetWith(t, n, nil) }

// newTestNetWith is newTestNet with each node's configuration adjusted by
// configure (if not nil).
func newTestNetWith(t *testing.T, n int, configure func(*Config)) *testNet {
	tn := &testNet{t: t, mgrs: map[uint32]*Manager{}, links: map[[2]uint32]chan []byte{},
		down: map[uint32]bool{}, cut: map[[2]uint32]bool{}, done: make(chan struct{})}
	var all []uint32
	for i := 0; i < n; i++ {
		all = append(all, uint32(i))
	}
	for _, p := range all {
		log := slog.New(slog.DiscardHandler)
		if testing.Verbose() {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pnn", p)
		}
		cfg := Config{Self: p, Dir: t.TempDir(), HashSize: 131, Pin: time.Millisecond, Vacuum: VacuumConfig{Interval: time.Hour}}
		if configure != nil {
			configure(&cfg)
		}
		m, err := NewManager(cfg, tn.sender(p), tn.rpc(), log, nil)
		if err != nil {
			t.Fatal(err)
		}
		tn.mgrs[p] = m
	}
	for _, m := range tn.mgrs {
		m.SetView(42, all, all)
		m.SetRecovering(false)
	}
	t.Cleanup(func() {
		close(tn.done)
		tn.wg.Wait()
		for _, m := range tn.mgrs {
			m.Close()
		}
	})
	return tn
}

type netSender struct {
	tn   *testNet
	from uint32
}

func (tn *testNet) sender(from uint32) Sender { return netSender{tn, from} }

// setDown cuts node pnn off: nothing reaches it or leaves it.
func (tn *testNet) setDown(pnn uint32) {
	tn.mu.Lock()
	tn.down[pnn] = true
	tn.mu.Unlock()
}

func (s netSender) Send(pnn uint32, pkt []byte) error {
	tn := s.tn
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if tn.down[pnn] || tn.down[s.from] || tn.cut[[2]uint32{s.from, pnn}] {
		return fmt.Errorf("node %d unreachable", pnn)
	}
	k := [2]uint32{s.from, pnn}
	ch := tn.links[k]
	if ch == nil {
		ch = make(chan []byte, 1<<16)
		tn.links[k] = ch
		tn.wg.Add(1)
		go tn.deliver(pnn, ch)
	}
	ch <- append([]byte(nil), pkt...)
	return nil
}

func (tn *testNet) deliver(to uint32, ch chan []byte) {
	defer tn.wg.Done()
	for {
		select {
		case <-tn.done:
			return
		case pkt := <-ch:
			m := tn.mgrs[to]
			switch protocol.PacketOp(pkt) {
			case protocol.OpReqCall:
				m.HandleReqCall(pkt)
			case protocol.OpReqDMaster:
				m.HandleReqDMaster(pkt)
			case protocol.OpReplyDMaster:
				m.HandleReplyDMaster(pkt)
			case protocol.OpReplyCall:
				m.HandleReplyCall(pkt)
			case protocol.OpReplyError:
				m.HandleReplyError(pkt)
			case protocol.OpReqControl:
				var c protocol.ReqControl
				c.Unmarshal(pkt)
				tn.control(m, &c)
			}
		}
	}
}

// control serves the NOREPLY controls the volatile layer sends.
func (tn *testNet) control(m *Manager, c *protocol.ReqControl) {
	switch c.Opcode {
	case protocol.ControlVacuumFetch:
		var rb protocol.RecBuffer
		rb.Unmarshal(c.Data)
		if db := m.DB(rb.DBID); db != nil {
			db.VacuumFetch(rb.Records)
		}
	case protocol.ControlUpdateSeqnum:
		id, _ := protocol.ParseU32(c.Data)
		if db := m.DB(id); db != nil {
			db.BumpSeqnum()
		}
	}
}

type netRPC struct{ tn *testNet }

func (tn *testNet) rpc() noderpc.Caller { return netRPC{tn} }

func (r netRPC) Call(ctx context.Context, pnn uint32, op uint32, data []byte) ([]byte, error) {
	m := r.tn.mgrs[pnn]
	r.tn.mu.Lock()
	hook := r.tn.rpcHook
	r.tn.mu.Unlock()
	if hook != nil {
		if err := hook(pnn, protocol.Opcode(op)); err != nil {
			return nil, err
		}
	}
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(data); err != nil {
		return nil, err
	}
	switch protocol.Opcode(op) {
	case protocol.ControlTryDeleteRecords:
		kept := protocol.RecBuffer{DBID: rb.DBID, Records: m.DB(rb.DBID).TryDeleteRecords(rb.Records)}
		return kept.Marshal(), nil
	case protocol.ControlUpdateRecord:
		return nil, m.DB(rb.DBID).UpdateRecords(rb.Records)
	}
	return nil, fmt.Errorf("unexpected rpc %d", op)
}

// attach attaches name on every node.
func (tn *testNet) attach(name string) uint32 {
	id := protocol.DBID(name)
	for _, m := range tn.mgrs {
		m.Sync(map[uint32]DBSpec{id: {Name: name}})
	}
	return id
}

// call runs a client call on node pnn and waits for its answer.
func (tn *testNet) call(pnn, dbid, callid uint32, key string) (int32, []byte) {
	tn.t.Helper()
	type res struct {
		st   int32
		data []byte
	}
	ch := make(chan res, 1)
	ok := tn.mgrs[pnn].ClientCall(&protocol.ReqCall{DBID: dbid, CallID: callid, Flags: protocol.CallFlagImmediateMigration, Key: []byte(key)},
		func(st int32, data []byte) { ch <- res{st, data} })
	if !ok {
		tn.t.Fatalf("call on node %d: unknown db", pnn)
	}
	select {
	case r := <-ch:
		return r.st, r.data
	case <-time.After(10 * time.Second):
		tn.t.Errorf("call for %q on node %d never answered; state:\n%s", key, pnn, tn.dump(dbid, key))
		tn.t.FailNow()
		return 0, nil
	}
}

// record reads node pnn's copy of key directly from its TDB.
func (tn *testNet) record(pnn, dbid uint32, key string) (record, bool) {
	db := tn.mgrs[pnn].DB(dbid)
	db.mu.Lock()
	defer db.mu.Unlock()
	v, err := db.tdb.Fetch([]byte(key))
	if err != nil {
		return record{}, false
	}
	return parseRecord(v)
}

// write stores data as the record's dmaster would (smbd writing under the
// chain lock with the header unchanged).
func (tn *testNet) write(pnn, dbid uint32, key, data string) {
	tn.t.Helper()
	db := tn.mgrs[pnn].DB(dbid)
	db.mu.Lock()
	defer db.mu.Unlock()
	done := false
	db.withChain([]byte(key), func() {
		r := db.fetchRecord([]byte(key))
		if r.hdr.DMaster != pnn {
			tn.t.Errorf("node %d writes %q without being its dmaster (%d)", pnn, key, r.hdr.DMaster)
		}
		r.data = []byte(data)
		db.tdb.Store([]byte(key), r.encode(), 1)
		done = true
	})
	if !done {
		tn.t.Fatal("chain busy in write")
	}
}

// dump describes every node's view of key, for failures.
func (tn *testNet) dump(dbid uint32, key string) string {
	out := ""
	for p := uint32(0); p < uint32(len(tn.mgrs)); p++ {
		m := tn.mgrs[p]
		db := m.DB(dbid)
		db.mu.Lock()
		v, err := db.tdb.Fetch([]byte(key))
		r, _ := parseRecord(v)
		fs := db.core.Describe([]byte(key), time.Now())
		out += fmt.Sprintf("node %d: lmaster %d rec %+v err %v %s chains %d held %d\n", p, m.lmaster([]byte(key)), r.hdr, err, fs, len(db.chains), len(db.held))
		db.mu.Unlock()
	}
	return out
}

// TestCallWaitsForLateAttach: node 0 attached a database before node 1
// applied the attach; node 0's calls to node 1 wait for node 1's attach
// instead of failing, and calls for a database that never comes are
// refused after parkTimeout.
func TestCallWaitsForLateAttach(t *testing.T) {
	tn := newTestNet(t, 2)
	const name = "late.tdb"
	id := protocol.DBID(name)
	if _, err := tn.mgrs[0].Ensure(id, DBSpec{Name: name}); err != nil {
		t.Fatal(err)
	}
	// A key whose lmaster is node 1 (with node 0 as dmaster nothing would
	// cross).
	key := ""
	for i := 0; ; i++ {
		key = fmt.Sprintf("k%d", i)
		if tn.mgrs[0].lmaster([]byte(key)) == 1 {
			break
		}
	}
	type res struct {
		st   int32
		data []byte
	}
	ch := make(chan res, 1)
	tn.mgrs[0].ClientCall(&protocol.ReqCall{DBID: id, CallID: protocol.CallFetchFunc, Key: []byte(key)},
		func(st int32, data []byte) { ch <- res{st, data} })
	select {
	case r := <-ch:
		t.Fatalf("call answered (%d) before node 1 attached", r.st)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := tn.mgrs[1].Ensure(id, DBSpec{Name: name}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		if r.st != 0 {
			t.Fatalf("call after the late attach: status %d", r.st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parked call never ran after the attach")
	}

	// A database node 1 never attaches: refused after parkTimeout.
	const never = "never.tdb"
	nid := protocol.DBID(never)
	if _, err := tn.mgrs[0].Ensure(nid, DBSpec{Name: never}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tn.mgrs[0].ClientCall(&protocol.ReqCall{DBID: nid, CallID: protocol.CallFetchFunc, Key: []byte(key)},
		func(st int32, data []byte) { ch <- res{st, data} })
	select {
	case r := <-ch:
		if r.st == 0 || time.Since(start) < parkTimeout/2 {
			t.Fatalf("call for a database node 1 lacks: status %d after %v", r.st, time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("call for a database node 1 lacks was never refused")
	}
}

// TestRecordKeptWhenItCannotBeSent: the dmaster cannot send a record to
// the node that asked for it (no link yet), after its notice told the
// lmaster of the hand-over; it keeps the record as its dmaster instead of
// pointing at a node that never got it, tells the lmaster again, and the
// call, sent again, gets the record with its data.
func TestRecordKeptWhenItCannotBeSent(t *testing.T) {
	tn := newTestNet(t, 3)
	id := tn.attach("kept.tdb")
	key := ""
	for i := 0; ; i++ {
		key = fmt.Sprintf("k%d", i)
		if tn.mgrs[0].lmaster([]byte(key)) == 1 {
			break
		}
	}
	tn.call(0, id, protocol.CallNullFunc, key)
	tn.write(0, id, key, "precious")
	tn.mu.Lock()
	tn.cut[[2]uint32{0, 2}] = true
	tn.mu.Unlock()
	type res struct {
		st   int32
		data []byte
	}
	ch := make(chan res, 1)
	tn.mgrs[2].ClientCall(&protocol.ReqCall{DBID: id, CallID: protocol.CallFetchFunc, Flags: protocol.CallFlagImmediateMigration, Key: []byte(key)},
		func(st int32, data []byte) { ch <- res{st, data} })
	waitFor(t, "node 0 keeps the record as dmaster, and its lmaster knows", func() bool {
		r, ok := tn.record(0, id, key)
		l, lok := tn.record(1, id, key)
		return ok && r.hdr.DMaster == 0 && string(r.data) == "precious" && lok && l.hdr.DMaster == 0 && l.hdr.RSN == r.hdr.RSN
	})
	tn.mu.Lock()
	delete(tn.cut, [2]uint32{0, 2})
	tn.mu.Unlock()
	select {
	case r := <-ch:
		if r.st != 0 || string(r.data) != "precious" {
			t.Fatalf("call after the link came up: status %d data %q", r.st, r.data)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("call never answered; state:\n%s", tn.dump(id, key))
	}
}
