package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/client"
)

// Lock contention: C locker processes per node fetch-lock keys of one
// volatile database the way smbd does (local chain lock, header check,
// migration request), hold each record for a set time, then increment the
// counter in it. Acquisition latency runs from the first chain lock
// attempt to holding the record.

const contentionDB = "bench_contention.tdb"

type contentionSpec struct {
	Socket   string        `json:"socket"`
	DB       string        `json:"db"`
	Keys     []string      `json:"keys"`
	Zipf     float64       `json:"zipf"` // 0: uniform
	Hold     time.Duration `json:"hold"`
	Duration time.Duration `json:"duration"`
	Seed     uint64        `json:"seed"`
}

type contentionResult struct {
	loopResult
	PerKey     []uint64 `json:"per_key"`
	Migrations uint64   `json:"migrations"`
}

func (s contentionSpec) session() (string, string, uint8, time.Duration) {
	return s.Socket, s.DB, 0, s.Duration
}

func init() { roles["contention"] = sessionRole(contentionWorker) }

// contentionWorker is one locker process.
func contentionWorker(ctx context.Context, s contentionSpec, sess *session) (any, error) {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9E3779B97F4A7C15))
	pick := func() int { return rng.IntN(len(s.Keys)) }
	if s.Zipf > 1 && len(s.Keys) > 1 {
		z := rand.NewZipf(rng, s.Zipf, 1, uint64(len(s.Keys)-1))
		pick = func() int { return int(z.Uint64()) }
	}
	db := sess.db
	res := contentionResult{PerKey: make([]uint64, len(s.Keys))}
	start := time.Now()
	end := start.Add(s.Duration)
	for time.Now().Before(end) {
		k := pick()
		key := []byte(s.Keys[k])
		t0 := time.Now()
		rec, err := db.FetchLock(ctx, key)
		if err != nil {
			return res, fmt.Errorf("fetch lock %s: %w", s.Keys[k], err)
		}
		res.Latency.Add(time.Since(t0))
		if s.Hold > 0 {
			holdFor(s.Hold)
		}
		if err := rec.Store(binary.LittleEndian.AppendUint64(nil, counter(rec.Data)+1)); err != nil {
			return res, fmt.Errorf("store %s: %w", s.Keys[k], err)
		}
		res.Ops++
		res.PerKey[k]++
		res.Migrations += uint64(rec.Migrations)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// holdFor keeps the record for d the way a C locker's usleep does: the
// thread (locked to the chain lock's owner) sleeps in the kernel.
// time.Sleep would wait for Go's timers, which fire in epoll's millisecond
// steps on Linux: a hold of 100 µs lasted 1.1 ms, and bounded the Zipf
// workload's hottest key at about 900 locks/s on any daemon.
func holdFor(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

// Contention runs p.Clients lockers per node on p.Keys fresh keys for
// p.Duration, keys chosen uniformly or (zipf) by a Zipf law of exponent
// p.Zipf. Shares are per locker; MaxHop comes from the daemons'
// statistics, reset just before the start. Afterwards every key's
// counter, read through node 0, must equal the increments the lockers
// made on it.
func Contention(ctx context.Context, sockets []string, p Params, zipf bool) Outcome {
	o := Outcome{}
	admins, err := connectAll(ctx, sockets)
	if err != nil {
		o.Err = err.Error()
		return o
	}
	defer closeAll(admins)
	id := runID()
	keys := make([]string, p.Keys)
	for k := range keys {
		keys[k] = fmt.Sprintf("lock_%s_%03d", id, k)
	}
	var specs []any
	var names []string
	for i, s := range sockets {
		for j := 0; j < p.Clients; j++ {
			sp := contentionSpec{Socket: s, DB: contentionDB, Keys: keys, Hold: p.Hold, Duration: p.Duration, Seed: rand.Uint64()}
			if zipf {
				sp.Zipf = p.Zipf
			}
			specs = append(specs, sp)
			names = append(names, fmt.Sprintf("locker %d on node %d", j, i))
		}
	}
	outs, err := runEach[contentionResult](ctx, p, "contention", names, specs, func() error {
		for _, c := range admins {
			if err := c.StatisticsReset(ctx, c.PNN()); err != nil {
				return fmt.Errorf("reset statistics of node %d: %w", c.PNN(), err)
			}
		}
		return nil
	})
	perKey := make([]uint64, len(keys))
	for _, r := range outs {
		o.add(&r.loopResult)
		for k, n := range r.PerKey {
			if k < len(perKey) {
				perKey[k] += n
			}
		}
	}
	if err != nil {
		o.Err = err.Error()
		return o
	}
	if o.MaxHop, err = maxHopCount(ctx, admins); err != nil {
		o.Err = err.Error()
		return o
	}
	o.HasHop = true
	checkCounters(ctx, p, sockets[0], contentionDB, keys, perKey, &o)
	return o
}

// checkCounters reads every key through the node of socket, in a worker
// (it opens the database's file), and compares it with the increments
// made on it.
func checkCounters(ctx context.Context, p Params, socket, dbName string, keys []string, want []uint64, o *Outcome) {
	runCheck(ctx, p, "check-counters", countersSpec{Socket: socket, DB: dbName, Keys: keys, Want: want}, o)
}

type countersSpec struct {
	Socket string   `json:"socket"`
	DB     string   `json:"db"`
	Keys   []string `json:"keys"`
	Want   []uint64 `json:"want"`
}

func init() { roles["check-counters"] = checkRole(countKeys) }

// countKeys is checkCounters in the worker.
func countKeys(ctx context.Context, s countersSpec, o *Outcome) error {
	c, err := client.Connect(ctx, s.Socket)
	if err != nil {
		return fmt.Errorf("check counters: %w", err)
	}
	defer c.Close()
	db, err := c.Attach(ctx, s.DB, 0)
	if err != nil {
		return fmt.Errorf("check counters: %w", err)
	}
	defer db.Close()
	var total, bad uint64
	for k, key := range s.Keys {
		data, _, err := db.Fetch(ctx, []byte(key))
		if err != nil {
			return fmt.Errorf("check counters: read %s: %w", key, err)
		}
		v := counter(data)
		total += v
		if v != s.Want[k] {
			bad++
			if bad <= 3 {
				o.fail("key %s holds %d after %d increments", key, v, s.Want[k])
			}
		}
	}
	if bad > 3 {
		o.fail("and %d more keys wrong", bad-3)
	}
	if bad == 0 {
		o.Checks = append(o.Checks, fmt.Sprintf("counters add up: %d keys, %d increments", len(s.Keys), total))
	}
	return nil
}

// maxHopCount is the highest max_hop_count in the nodes' statistics.
func maxHopCount(ctx context.Context, admins []*client.Client) (uint32, error) {
	var m uint32
	for _, c := range admins {
		st, err := c.Statistics(ctx, c.PNN())
		if err != nil {
			return 0, fmt.Errorf("statistics of node %d: %w", c.PNN(), err)
		}
		m = max(m, st.MaxHopCount)
	}
	return m, nil
}

// connectAll connects one client to each socket.
func connectAll(ctx context.Context, sockets []string) ([]*client.Client, error) {
	var cs []*client.Client
	for _, s := range sockets {
		c, err := client.Connect(ctx, s)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []*client.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// runCrew runs one worker process per spec: it waits until all are ready,
// calls beforeGo (nil: nothing), starts them together and decodes their
// results into outs.
func runCrew(ctx context.Context, p Params, role string, names []string, specs, outs []any, beforeGo func() error) error {
	exe, err := exePath(p.Exe)
	if err != nil {
		return err
	}
	c, err := startCrew(exe, role, names, specs)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := c.ready(ctx, 30*time.Second); err != nil {
		return err
	}
	if beforeGo != nil {
		if err := beforeGo(); err != nil {
			return err
		}
	}
	if err := c.start(nil); err != nil {
		return err
	}
	return c.results(ctx, p.Duration+time.Minute, outs)
}
