package clustertest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// Sockets is a running cluster as tests reach it.
type Sockets interface {
	// Size is the number of nodes (pnns 0 to Size-1).
	Size() int
	// Socket is node pnn's client socket.
	Socket(pnn uint32) string
}

// View is what one node reports of the cluster.
type View struct {
	PNN        uint32
	Flags      []uint32 // node map flags by pnn
	Leader     uint32
	Generation uint32
	RecMode    uint32
	Runstate   protocol.Runstate
}

// Observe asks node pnn for its view.
func Observe(ctx context.Context, c Sockets, pnn uint32) (View, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, c.Socket(pnn))
	if err != nil {
		return View{}, err
	}
	defer cl.Close()
	v := View{PNN: pnn}
	if v.Runstate, err = cl.GetRunstate(ctx, protocol.CurrentNode); err != nil {
		return v, err
	}
	if v.RecMode, err = cl.GetRecMode(ctx, protocol.CurrentNode); err != nil {
		return v, err
	}
	vm, err := cl.GetVNNMap(ctx, protocol.CurrentNode)
	if err != nil {
		return v, err
	}
	v.Generation = vm.Generation
	nm, err := cl.GetNodeMap(ctx, protocol.CurrentNode)
	if err != nil {
		return v, err
	}
	for _, n := range nm.Nodes {
		v.Flags = append(v.Flags, n.Flags)
	}
	if v.Leader, err = cl.WaitLeader(ctx); err != nil {
		return v, err
	}
	return v, nil
}

// Want is an agreement to wait for.
type Want struct {
	// Observers are the nodes asked; nil means every node.
	Observers []uint32
	// Flags are the node flags every observer must show (pnn -> flags);
	// nil means every observer shows every observer OK.
	Flags map[uint32]uint32
	// Timeout bounds WaitAgreed; 0 means 20 s.
	Timeout time.Duration
}

// All lists pnns 0 to n-1.
func All(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// Except lists pnns 0 to n-1 without not.
func Except(n int, not ...uint32) []uint32 {
	return slices.DeleteFunc(All(n), func(p uint32) bool { return slices.Contains(not, p) })
}

// OK is the flags of nodes that are all OK.
func OK(pnns ...uint32) map[uint32]uint32 {
	m := make(map[uint32]uint32, len(pnns))
	for _, p := range pnns {
		m[p] = 0
	}
	return m
}

func (w Want) observers(c Sockets) []uint32 {
	if w.Observers != nil {
		return w.Observers
	}
	return All(c.Size())
}

// Agreed checks the agreement once: every observer is RUNNING, out of
// recovery, in the same valid generation, follows the same known leader
// and shows the wanted flags. It returns the first observer's view.
func Agreed(ctx context.Context, c Sockets, w Want) (View, error) {
	obs := w.observers(c)
	flags := w.Flags
	if flags == nil {
		flags = OK(obs...)
	}
	var first View
	for i, o := range obs {
		v, err := Observe(ctx, c, o)
		if err != nil {
			return View{}, fmt.Errorf("node %d: %w", o, err)
		}
		// A banned or stopped node keeps its databases frozen (recovery
		// mode ACTIVE, as ctdbd's) and, banned or stopped since it
		// started, stays in FIRST_RECOVERY.
		inactive := flags[o]&protocol.NodeFlagsInactive != 0
		switch {
		case v.Runstate != protocol.RunstateRunning && !(inactive && v.Runstate == protocol.RunstateFirstRecovery):
			return View{}, fmt.Errorf("node %d is %s", o, v.Runstate)
		case v.RecMode != protocol.RecoveryNormal && !inactive:
			return View{}, fmt.Errorf("node %d is recovering", o)
		case v.Generation == protocol.InvalidGeneration:
			return View{}, fmt.Errorf("node %d has no generation yet", o)
		case v.Leader == protocol.UnknownPNN:
			return View{}, fmt.Errorf("node %d knows no leader", o)
		}
		for p, f := range flags {
			if int(p) >= len(v.Flags) || v.Flags[p] != f {
				got := protocol.NodeFlagDeleted
				if int(p) < len(v.Flags) {
					got = v.Flags[p]
				}
				return View{}, fmt.Errorf("node %d sees node %d as %s, want %s", o, p,
					protocol.NodeFlagsString(got), protocol.NodeFlagsString(f))
			}
		}
		if i == 0 {
			first = v
			continue
		}
		if v.Leader != first.Leader {
			return View{}, fmt.Errorf("nodes %d and %d follow leaders %d and %d", first.PNN, o, first.Leader, v.Leader)
		}
		if v.Generation != first.Generation {
			return View{}, fmt.Errorf("nodes %d and %d are in generations %d and %d", first.PNN, o, first.Generation, v.Generation)
		}
	}
	return first, nil
}

// WaitAgreed waits until Agreed holds, or fails the test at the deadline
// with the last disagreement; it returns the agreed view (its Leader and
// Generation are every observer's).
func WaitAgreed(t testing.TB, c Sockets, w Want) View {
	t.Helper()
	var v View
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	WaitFor(t, timeout, "the cluster to agree", func() error {
		var err error
		v, err = Agreed(context.Background(), c, w)
		return err
	})
	return v
}

// WaitFor polls cond until it returns nil and returns how long that took;
// at the deadline it fails the test (testutil.WaitFor).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return testutil.WaitFor(t, timeout, what, cond)
}
