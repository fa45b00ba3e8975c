package netrig

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Overlap is a stretch of time in which one address was on interfaces of
// several nodes at once.
type Overlap struct {
	Addr        netip.Addr
	Nodes       []int
	First, Last time.Time // first and last sample that saw it
	Samples     int
}

// OverlapWatch samples which nodes hold a set of addresses and records every
// moment one is held by more than one node; see WatchOverlaps.
type OverlapWatch struct {
	r     *Rig
	addrs []netip.Addr
	every time.Duration
	stop  chan struct{}
	done  chan struct{}
	// ongoing maps an address to its overlap seen by the previous sample;
	// only the sampling goroutine uses it.
	ongoing map[netip.Addr]int

	mu sync.Mutex
	// overlaps and err are written by the sampling goroutine and read by
	// Stop after it ended; the mutex makes reads while it runs safe too.
	overlaps []Overlap
	err      error
}

// WatchOverlaps starts a goroutine that samples, every `every` (minimum
// 1 ms), which nodes hold each of addrs. A sample that sees an address on
// two nodes looks again at those nodes in the opposite order and records an
// Overlap only if they all still have it, so an address moving from one
// node to another between two reads is not mistaken for an overlap. An
// overlap shorter than the sampling period can be missed. Stop the watch
// with Stop before the rig is closed.
func (r *Rig) WatchOverlaps(every time.Duration, addrs ...netip.Addr) *OverlapWatch {
	w := &OverlapWatch{
		r:       r,
		every:   max(every, time.Millisecond),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		ongoing: map[netip.Addr]int{},
	}
	for _, a := range addrs {
		w.addrs = append(w.addrs, a.Unmap())
	}
	go w.run()
	return w
}

// Stop ends the watch and returns the overlaps seen, and the first error of
// reading the nodes' addresses if sampling had to end early.
func (w *OverlapWatch) Stop() ([]Overlap, error) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.overlaps), w.err
}

func (w *OverlapWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		if err := w.sample(); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

func (w *OverlapWatch) sample() error {
	sets := make([]map[netip.Addr]bool, w.r.n)
	for k := range w.r.n {
		set, err := w.r.nodeAddrs(k)
		if err != nil {
			return err
		}
		sets[k] = set
	}
	now := time.Now()
	for _, a := range w.addrs {
		var holders []int
		for k, set := range sets {
			if set[a] {
				holders = append(holders, k)
			}
		}
		var confirmed []int
		if len(holders) >= 2 {
			var err error
			if confirmed, err = w.confirm(a, holders); err != nil {
				return err
			}
		}
		if len(confirmed) < 2 {
			delete(w.ongoing, a)
			continue
		}
		w.record(a, confirmed, now)
	}
	return nil
}

// confirm re-reads the holders in reverse order and keeps those that still
// have a. Node X read at t1 and t4, node Y at t2 and t3 (t1<t2<t3<t4): both
// holding it at every read means both held it during [t2, t3], unless X
// dropped and regained it in between.
func (w *OverlapWatch) confirm(a netip.Addr, holders []int) ([]int, error) {
	var out []int
	for i := len(holders) - 1; i >= 0; i-- {
		has, err := w.r.nodeHas(holders[i], a)
		if err != nil {
			return nil, err
		}
		if has {
			out = append(out, holders[i])
		}
	}
	slices.Sort(out)
	return out, nil
}

// record notes that a sample at `at` saw a on nodes: the continuation of
// the overlap the previous sample saw, or a new one.
func (w *OverlapWatch) record(a netip.Addr, nodes []int, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.ongoing[a]; ok && slices.Equal(w.overlaps[i].Nodes, nodes) {
		w.overlaps[i].Last = at
		w.overlaps[i].Samples++
		return
	}
	w.ongoing[a] = len(w.overlaps)
	w.overlaps = append(w.overlaps, Overlap{Addr: a, Nodes: nodes, First: at, Last: at, Samples: 1})
}
