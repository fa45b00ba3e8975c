package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// FaultKind names a fault the scheduler injects.
type FaultKind string

// The faults. Slow disks are not among them: the nodes' databases are on
// the machine's own file system, and slowing it (dm-delay, a FUSE layer)
// needs block devices or modules this machine does not have.
const (
	FaultKill       FaultKind = "kill9"       // SIGKILL, held down, started again
	FaultRestart    FaultKind = "restart"     // SIGTERM and start again
	FaultPauseLong  FaultKind = "pause-long"  // SIGSTOP longer than the Raft timeouts, SIGCONT
	FaultPauseShort FaultKind = "pause-short" // SIGSTOP shorter than the Raft timeouts (400 ms)
	FaultIsolate    FaultKind = "isolate"     // 1|4: the node's veth down on the bridge side
	FaultSplit      FaultKind = "split"       // 2|3: blackhole routes both ways between the groups
	FaultOneWay     FaultKind = "oneway"      // one node sends to no one (blackholes in its namespace)
	FaultOneWayPair FaultKind = "oneway-pair" // one node cannot send to one other
)

var faultKinds = []FaultKind{FaultKill, FaultRestart, FaultPauseLong, FaultPauseShort, FaultIsolate, FaultSplit, FaultOneWay, FaultOneWayPair}

// Fault is one cycle's fault: what, on which nodes, for how long.
type Fault struct {
	Cycle int       `json:"cycle"`
	Kind  FaultKind `json:"kind"`
	// Nodes are the nodes the fault hits (for a split, one side).
	Nodes []int `json:"nodes"`
	// Peers are the other side of a split or a one-way cut.
	Peers []int         `json:"peers,omitempty"`
	Hold  time.Duration `json:"hold"`
}

func (f Fault) String() string {
	s := fmt.Sprintf("cycle %d: %s nodes %v", f.Cycle, f.Kind, f.Nodes)
	if len(f.Peers) > 0 {
		s += fmt.Sprintf(" from %v", f.Peers)
	}
	return s + " for " + f.Hold.String()
}

// Schedule is the campaign's faults, determined by seed alone: a replay
// with the same seed injects the same faults in the same order and holds
// them as long (the clients' timing is not replayed).
func Schedule(seed uint64, cycles, nodes int) []Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	hold := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)).Round(time.Millisecond)
	}
	out := make([]Fault, cycles)
	for c := range out {
		f := Fault{Cycle: c + 1, Kind: faultKinds[rng.IntN(len(faultKinds))]}
		perm := rng.Perm(nodes)
		switch f.Kind {
		case FaultKill:
			f.Nodes, f.Hold = perm[:1], hold(200*time.Millisecond, 3*time.Second)
		case FaultRestart:
			f.Nodes = perm[:1]
		case FaultPauseLong:
			f.Nodes, f.Hold = perm[:1], hold(time.Second, 5*time.Second)
		case FaultPauseShort:
			f.Nodes, f.Hold = perm[:1], hold(50*time.Millisecond, 300*time.Millisecond)
		case FaultIsolate, FaultOneWay:
			f.Nodes, f.Hold = perm[:1], hold(time.Second, 6*time.Second)
		case FaultSplit:
			f.Nodes, f.Peers, f.Hold = perm[:2], perm[2:], hold(time.Second, 6*time.Second)
		case FaultOneWayPair:
			f.Nodes, f.Peers, f.Hold = perm[:1], perm[1:2], hold(time.Second, 6*time.Second)
		}
		slices.Sort(f.Nodes)
		slices.Sort(f.Peers)
		out[c] = f
	}
	return out
}

// Target is what faults are done to: the cluster's processes and links.
type Target interface {
	Kill(node int) error
	Start(node int) error
	Restart(node int) error
	Pause(node int) error
	Resume(node int) error
	CutLink(node int) error
	RestoreLink(node int) error
	// Blackhole drops in from's namespace every packet to to's address;
	// Unblackhole removes that.
	Blackhole(from, to int) error
	Unblackhole(from, to int) error
}

// Inject applies f to t and returns the function that heals it. On an
// error, what was applied is healed already.
func Inject(t Target, f Fault, nodes int) (heal func() error, err error) {
	var undo []func() error
	healAll := func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		return errors.Join(errs...)
	}
	do := func(apply func() error, revert func() error) error {
		if err := apply(); err != nil {
			return errors.Join(fmt.Errorf("inject %s: %w", f, err), healAll())
		}
		undo = append(undo, revert)
		return nil
	}
	switch f.Kind {
	case FaultKill:
		n := f.Nodes[0]
		err = do(func() error { return t.Kill(n) }, func() error { return t.Start(n) })
	case FaultRestart:
		n := f.Nodes[0]
		err = do(func() error { return t.Restart(n) }, func() error { return nil })
	case FaultPauseLong, FaultPauseShort:
		n := f.Nodes[0]
		err = do(func() error { return t.Pause(n) }, func() error { return t.Resume(n) })
	case FaultIsolate:
		n := f.Nodes[0]
		err = do(func() error { return t.CutLink(n) }, func() error { return t.RestoreLink(n) })
	case FaultSplit:
		for _, a := range f.Nodes {
			for _, b := range f.Peers {
				for _, p := range [][2]int{{a, b}, {b, a}} {
					if err == nil {
						err = do(func() error { return t.Blackhole(p[0], p[1]) }, func() error { return t.Unblackhole(p[0], p[1]) })
					}
				}
			}
		}
	case FaultOneWay:
		for peer := range nodes {
			if peer != f.Nodes[0] && err == nil {
				err = do(func() error { return t.Blackhole(f.Nodes[0], peer) }, func() error { return t.Unblackhole(f.Nodes[0], peer) })
			}
		}
	case FaultOneWayPair:
		err = do(func() error { return t.Blackhole(f.Nodes[0], f.Peers[0]) }, func() error { return t.Unblackhole(f.Nodes[0], f.Peers[0]) })
	default:
		return nil, fmt.Errorf("inject: unknown fault %q", f.Kind)
	}
	if err != nil {
		return nil, err
	}
	return healAll, nil
}

// describeSchedule renders a schedule one fault a line.
func describeSchedule(fs []Fault) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}
