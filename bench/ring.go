package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/client"
)

// Result is a ring's throughput.
type Result struct {
	Steps    uint64 // messages passed, or records locked and incremented
	Duration time.Duration
}

// PerSecond is the rate of steps.
func (r Result) PerSecond() float64 { return float64(r.Steps) / r.Duration.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d in %v: %.0f/s", r.Steps, r.Duration.Round(time.Millisecond), r.PerSecond())
}

// ring is one client per node, each subscribed to the ring's srvid.
type ring struct {
	clients []*client.Client
	inbox   []<-chan client.Message
	srvid   uint64
}

func openRing(ctx context.Context, sockets []string) (*ring, error) {
	if len(sockets) < 2 {
		return nil, errors.New("a ring needs at least two nodes")
	}
	r := &ring{srvid: 0xBE4C000000000000 | rand.Uint64()>>16}
	for _, s := range sockets {
		c, err := client.Connect(ctx, s)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("connect %s: %w", s, err)
		}
		r.clients = append(r.clients, c)
		ch, _, err := c.Subscribe(ctx, r.srvid, 1024)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("register srvid on %s: %w", s, err)
		}
		r.inbox = append(r.inbox, ch)
	}
	return r, nil
}

func (r *ring) close() {
	for _, c := range r.clients {
		c.Close()
	}
}

// next is the node after i in direction dir (+1 or -1).
func (r *ring) next(i, dir int) int { return (i + dir + len(r.clients)) % len(r.clients) }

// MessageRing passes two tokens around the nodes for d, one in each
// direction, as ctdb's message_ring does; each step is one message from a
// client through its daemon to the next node's daemon and client.
func MessageRing(ctx context.Context, sockets []string, d time.Duration) (Result, error) {
	r, err := openRing(ctx, sockets)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	return r.run(ctx, d, func(int) error { return nil })
}

// FetchRing passes a token around the nodes for d; at each node the client
// fetch-locks one record (migrating it there), increments the counter in
// it and passes the token on, as ctdb's fetch_ring does. Each step is one
// record migration and one message. The final counter is checked.
func FetchRing(ctx context.Context, sockets []string, dbName string, d time.Duration) (Result, error) {
	r, err := openRing(ctx, sockets)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	dbs := make([]*client.DB, len(r.clients))
	for i, c := range r.clients {
		if dbs[i], err = c.Attach(ctx, dbName, 0); err != nil {
			return Result{}, fmt.Errorf("attach %s: %w", dbName, err)
		}
		defer dbs[i].Close()
	}
	key := []byte(fmt.Sprintf("fetch_ring_%x", r.srvid))
	var last atomic.Uint64 // the steps run in turn, on several goroutines
	res, err := r.runOne(ctx, d, func(i int) error {
		rec, err := dbs[i].FetchLock(ctx, key)
		if err != nil {
			return err
		}
		var v uint64
		if len(rec.Data) == 8 {
			v = binary.LittleEndian.Uint64(rec.Data)
		}
		last.Store(v + 1)
		return rec.Store(binary.LittleEndian.AppendUint64(nil, v+1))
	})
	if err == nil && last.Load() != res.Steps {
		err = fmt.Errorf("counter is %d after %d increments", last.Load(), res.Steps)
	}
	return res, err
}

// run circulates one token each way and counts steps.
func (r *ring) run(ctx context.Context, d time.Duration, step func(i int) error) (Result, error) {
	return r.circulate(ctx, d, []int{1, -1}, step)
}

// runOne circulates a single token (steps at different nodes must not
// overlap: they work on one record).
func (r *ring) runOne(ctx context.Context, d time.Duration, step func(i int) error) (Result, error) {
	return r.circulate(ctx, d, []int{1}, step)
}

// circulate runs a goroutine per node that takes tokens from its inbox,
// does its step and sends them on, until d is over.
func (r *ring) circulate(ctx context.Context, d time.Duration, dirs []int, step func(i int) error) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var steps atomic.Uint64
	var stop atomic.Bool
	errc := make(chan error, len(r.clients))
	var wg sync.WaitGroup
	for i := range r.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var m client.Message
				select {
				case <-ctx.Done():
					return
				case m = <-r.inbox[i]:
				}
				if stop.Load() {
					return
				}
				if len(m.Data) != 1 {
					continue // not a token of ours
				}
				if err := step(i); err != nil {
					errc <- fmt.Errorf("node %d: %w", i, err)
					cancel()
					return
				}
				steps.Add(1)
				dir := int(int8(m.Data[0]))
				if err := r.clients[i].SendMessage(r.clients[r.next(i, dir)].PNN(), r.srvid, m.Data); err != nil {
					errc <- fmt.Errorf("node %d: send: %w", i, err)
					cancel()
					return
				}
			}
		}()
	}
	start := time.Now()
	for _, dir := range dirs {
		if err := r.clients[0].SendMessage(r.clients[0].PNN(), r.srvid, []byte{byte(int8(dir))}); err != nil {
			return Result{}, err
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	stop.Store(true)
	res := Result{Duration: time.Since(start)}
	cancel()
	wg.Wait()
	// Steps under way at the stop still count: they finished.
	res.Steps = steps.Load()
	return res, err
}
