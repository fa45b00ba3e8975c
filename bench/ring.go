package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/client"
)

// ring is one endpoint per node, in this process: an inbox of messages
// for that node's endpoint and a way to send from node i to node j. The
// daemons' rings use one client per node subscribed to a srvid; the floor
// uses raw sockets to minimal forwarders.
type ring struct {
	inbox []<-chan client.Message
	send  func(from, to int, data []byte) error
	close func()
}

// next is the node after i in direction dir (+1 or -1).
func (r *ring) next(i, dir int) int { return (i + dir + len(r.inbox)) % len(r.inbox) }

// openRing connects one client per socket and subscribes it to a fresh
// srvid; messages go to the next client's node.
func openRing(ctx context.Context, sockets []string) (*ring, []*client.Client, error) {
	if len(sockets) < 2 {
		return nil, nil, errors.New("a ring needs at least two nodes")
	}
	srvid := 0xBE4C000000000000 | rand.Uint64()>>16
	var clients []*client.Client
	r := &ring{close: func() {
		for _, c := range clients {
			c.Close()
		}
	}}
	for _, s := range sockets {
		c, err := client.Connect(ctx, s)
		if err != nil {
			r.close()
			return nil, nil, fmt.Errorf("ring: connect %s: %w", s, err)
		}
		clients = append(clients, c)
		ch, _, err := c.Subscribe(ctx, srvid, 1024)
		if err != nil {
			r.close()
			return nil, nil, fmt.Errorf("ring: register srvid on %s: %w", s, err)
		}
		r.inbox = append(r.inbox, ch)
	}
	r.send = func(from, to int, data []byte) error {
		return clients[from].SendMessage(clients[to].PNN(), srvid, data)
	}
	return r, clients, nil
}

// MessageRing passes two tokens around the nodes for d, one in each
// direction, as ctdb's message_ring does; each step is one message from a
// client through its daemon to the next node's daemon and client. Every
// token must arrive in order (no loss, no duplicate) and keep moving.
func MessageRing(ctx context.Context, sockets []string, d time.Duration) Outcome {
	r, _, err := openRing(ctx, sockets)
	if err != nil {
		return Outcome{Err: err.Error()}
	}
	defer r.close()
	return r.circulate(ctx, d, []int{1, -1}, func(int) error { return nil })
}

// FetchRing passes one token around the nodes for p.Duration; at each
// node the client fetch-locks one record (migrating it there), checks
// that it holds the number of steps so far, increments it and passes the
// token on, as ctdb's fetch_ring does. Each step is one record migration
// and one message. At the end the record, read through node 0, must equal
// the steps. The ring's clients open the database's files, so the ring
// runs in a worker process (see worker.go).
func FetchRing(ctx context.Context, sockets []string, dbName string, p Params) Outcome {
	var o Outcome
	spec := fetchRingSpec{Sockets: sockets, DB: dbName, Duration: p.Duration}
	if err := inWorker(ctx, p, "fetch-ring", "fetch ring", spec, &o); err != nil {
		o.Err = err.Error()
	}
	return o
}

type fetchRingSpec struct {
	Sockets  []string      `json:"sockets"`
	DB       string        `json:"db"`
	Duration time.Duration `json:"duration"`
}

func init() {
	roles["fetch-ring"] = func(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
		s, err := decodeSpec[fetchRingSpec](raw)
		if err != nil {
			return nil, err
		}
		if _, err := w.ready(nil); err != nil {
			return nil, err
		}
		return fetchRing(ctx, s.Sockets, s.DB, s.Duration), nil
	}
}

// fetchRing is FetchRing in the worker.
func fetchRing(ctx context.Context, sockets []string, dbName string, d time.Duration) Outcome {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	r, clients, err := openRing(ctx, sockets)
	if err != nil {
		return Outcome{Err: err.Error()}
	}
	defer r.close()
	dbs := make([]*client.DB, len(clients))
	for i, c := range clients {
		if dbs[i], err = c.Attach(ctx, dbName, 0); err != nil {
			return Outcome{Err: fmt.Sprintf("fetch ring: attach %s on node %d: %v", dbName, i, err)}
		}
		defer dbs[i].Close()
	}
	key := []byte("fetch_ring_" + runID())
	var done atomic.Uint64 // steps completed; they run in turn on several goroutines
	o := r.circulate(ctx, d, []int{1}, func(i int) error {
		rec, err := dbs[i].FetchLock(ctx, key)
		if err != nil {
			return fmt.Errorf("fetch lock: %w", err)
		}
		v := counter(rec.Data)
		if want := done.Load(); v != want {
			rec.Unlock()
			return fmt.Errorf("record holds %d after %d steps: an update was lost", v, want)
		}
		done.Add(1)
		if err := rec.Store(binary.LittleEndian.AppendUint64(nil, v+1)); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	})
	if o.Err != "" {
		return o
	}
	data, _, err := dbs[0].Fetch(ctx, key)
	if err != nil {
		o.Err = fmt.Sprintf("fetch ring: read the record back: %v", err)
		return o
	}
	if v := counter(data); v != o.Ops {
		o.fail("record is %d after %d steps", v, o.Ops)
	} else {
		o.Checks = append(o.Checks, fmt.Sprintf("record = steps = %d", v))
	}
	return o
}

// counter decodes a little-endian u64 counter record (0 when empty).
func counter(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// A token is 24 bytes: 'T', direction, token number, 5 bytes of padding,
// the step number and the sender's clock (ns since the ring started).
const tokenSize = 24

func encodeToken(dir int, id int, seq uint64, sent time.Duration) []byte {
	b := make([]byte, tokenSize)
	b[0], b[1], b[2] = 'T', byte(int8(dir)), byte(id)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(sent))
	return b
}

func decodeToken(b []byte) (dir, id int, seq uint64, sent time.Duration, ok bool) {
	if len(b) != tokenSize || b[0] != 'T' {
		return 0, 0, 0, 0, false
	}
	return int(int8(b[1])), int(b[2]), binary.LittleEndian.Uint64(b[8:]), time.Duration(binary.LittleEndian.Uint64(b[16:])), true
}

// tokenState follows one token: the last step number seen.
type tokenState struct {
	seq atomic.Uint64
}

// parkTimeout bounds the wait for the tokens still in flight when a ring
// stops: each must arrive once more, else it was lost.
const parkTimeout = 5 * time.Second

// circulate runs a goroutine per node that takes tokens from its inbox,
// checks that each arrives with the next step number, does its step and
// sends it on, until d is over. A step's latency runs from the send at the
// previous node to the end of the step here. At the end every token must
// arrive once more, in order, where it was sent: none was lost.
func (r *ring) circulate(ctx context.Context, d time.Duration, dirs []int, step func(i int) error) (o Outcome) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	rs := &ringRun{ring: r, start: start, step: step, tokens: make([]tokenState, len(dirs)),
		parked: make(chan int, len(dirs)), errc: make(chan error, len(r.inbox))}
	hists := make([]Hist, len(r.inbox))
	var wg sync.WaitGroup
	for i := range r.inbox {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rs.serve(ctx, i, &hists[i]); err != nil {
				rs.errc <- fmt.Errorf("node %d: %w", i, err)
				cancel()
			}
		}()
	}
	defer func() { // o is the named result: this fills what is returned
		cancel()
		wg.Wait()
		// Steps under way at the stop still count: they finished.
		o.Ops = rs.steps.Load()
		for i := range hists {
			o.Latency.Merge(&hists[i])
		}
	}()
	for id, dir := range dirs {
		if err := r.send(0, 0, encodeToken(dir, id, 1, time.Since(start))); err != nil {
			o.Err = fmt.Sprintf("ring: send the first token: %v", err)
			return o
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case err := <-rs.errc:
		o.Err = err.Error()
	case <-ctx.Done():
		o.Err = fmt.Sprintf("ring: %v", ctx.Err())
	}
	rs.stop.Store(true)
	o.Duration = time.Since(start)
	if o.Err != "" {
		return o
	}
	o.Err = rs.waitParked(ctx, len(dirs))
	if o.Err == "" {
		o.Checks = append(o.Checks, fmt.Sprintf("%d token(s) arrived in order every step, none lost or duplicated", len(dirs)))
	}
	return o
}

// ringRun is the state of one circulate.
type ringRun struct {
	*ring
	start  time.Time
	step   func(int) error
	tokens []tokenState
	steps  atomic.Uint64
	stop   atomic.Bool
	parked chan int // token numbers that arrived after the stop
	errc   chan error
}

// waitParked waits until each of n tokens has arrived after the stop.
func (rs *ringRun) waitParked(ctx context.Context, n int) string {
	t := time.NewTimer(parkTimeout)
	defer t.Stop()
	for got := 0; got < n; got++ {
		select {
		case <-rs.parked:
		case err := <-rs.errc:
			return err.Error()
		case <-t.C:
			return fmt.Sprintf("ring: only %d of %d tokens arrived within %v of the stop: lost", got, n, parkTimeout)
		case <-ctx.Done():
			return fmt.Sprintf("ring: %v", ctx.Err())
		}
	}
	return ""
}

// serve is node i's loop in circulate: after the stop, tokens are checked
// and parked instead of passed on.
func (rs *ringRun) serve(ctx context.Context, i int, h *Hist) error {
	for {
		var m client.Message
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case m, ok = <-rs.inbox[i]:
		}
		if !ok {
			return errors.New("connection closed")
		}
		dir, id, seq, sent, ok := decodeToken(m.Data)
		if !ok || id >= len(rs.tokens) {
			return fmt.Errorf("unexpected message of %d bytes", len(m.Data))
		}
		tok := &rs.tokens[id]
		if prev := tok.seq.Load(); seq != prev+1 {
			return fmt.Errorf("token %d arrived with step %d after step %d: lost, duplicated or reordered", id, seq, prev)
		}
		tok.seq.Store(seq)
		if rs.stop.Load() {
			rs.parked <- id
			continue
		}
		if err := rs.step(i); err != nil {
			return err
		}
		h.Add(time.Since(rs.start) - sent)
		rs.steps.Add(1)
		if err := rs.send(i, rs.next(i, dir), encodeToken(dir, id, seq+1, time.Since(rs.start))); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
}
