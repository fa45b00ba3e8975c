package raftlayer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/rctdb/rctdb/internal/watch"
)

// fsm is the raft.FSM of the cluster state. Raft calls Apply, Snapshot
// and Restore from one goroutine; it alone writes cur. Every applied state
// is published whole: a command that changes the state applies to a copy,
// and readers load the pointer and never copy or lock.
type fsm struct {
	log  *slog.Logger
	data Data // may be nil

	cur     atomic.Pointer[published]
	applied watch.Index // the index of cur, for waiters
	// changed is notified when the state changes (a command, a restore),
	// not for the data entries and no-ops that leave it as it was: every
	// persistent commit is one, and the state's followers (the leader's
	// loops, the failover reconciler, ...) have nothing to do for it.
	changed watch.Signal
	// restored makes the next entry count as a change: a restore
	// publishes at the index before it.
	restored bool
}

// published is one applied state: st is shared and never modified; index
// is the log index it reflects, changedAt that of the last entry (or
// restore) that changed it: the state as of index is the state as of
// changedAt.
type published struct {
	st        *State
	index     uint64
	changedAt uint64
}

func newFSM(log *slog.Logger, data Data) *fsm {
	f := &fsm{log: log, data: data}
	st := &State{}
	st.rebuild()
	f.cur.Store(&published{st: st})
	return f
}

// Apply applies one committed log entry. A command the state machine
// refuses returns an *ErrRejected as the future's response; an undecodable
// entry is logged and skipped so that no node can be crashed by the log.
func (f *fsm) Apply(l *raft.Log) any {
	var result error
	st := f.cur.Load().st
	changed := f.restored
	f.restored = false
	switch cmd, err := DecodeCommand(l.Data); {
	case err != nil:
		f.log.Error("skipping undecodable raft entry", "index", l.Index, "err", err)
		result = err
	case isData(cmd):
		if f.data == nil {
			result = reject("no data store for data command")
			break
		}
		result = f.data.ApplyData(l.Index, cmd.(*CmdData).Payload, st)
		var rej *ErrRejected
		if result != nil && !errors.As(result, &rej) {
			result = &ErrRejected{Reason: result.Error()}
		}
	case isNoop(cmd):
	default:
		// Copy on write: readers hold the old state, and a refused
		// command leaves no trace.
		next := st.Clone()
		if result = next.Apply(cmd); result == nil {
			st, changed = next, true
		}
	}
	f.publish(st, l.Index, changed)
	return result
}

func isData(c Command) bool { _, ok := c.(*CmdData); return ok }
func isNoop(c Command) bool { _, ok := c.(*CmdNoop); return ok }

func (f *fsm) publish(st *State, index uint64, changed bool) {
	p := &published{st: st, index: index, changedAt: f.cur.Load().changedAt}
	if changed {
		p.changedAt = index
	}
	f.cur.Store(p)
	f.applied.Advance(index)
	if changed {
		f.changed.Notify()
	}
}

// lastChange returns the index of the last change of the state at or
// before index, given that index is applied: installing that index
// installs the state as of index. A change after index says nothing of
// the ones before, so then index itself is the answer.
func (f *fsm) lastChange(index uint64) uint64 {
	return min(index, f.cur.Load().changedAt)
}

// read returns the published state and the index it reflects.
func (f *fsm) read() (*State, uint64) {
	p := f.cur.Load()
	return p.st, p.index
}

// waitApplied blocks until index is applied here or ctx ends.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	return f.applied.Wait(ctx, index, "raft index")
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	body, err := json.Marshal(f.cur.Load().st)
	if err != nil {
		return nil, fmt.Errorf("snapshot cluster state: %w", err)
	}
	sections := []section{{"cluster", body}}
	if f.data != nil {
		data, err := f.data.SnapshotData()
		if err != nil {
			return nil, fmt.Errorf("snapshot data: %w", err)
		}
		sections = append(sections, section{"data", data})
	}
	return &fsmSnapshot{sections: sections}, nil
}

type fsmSnapshot struct{ sections []section }

func (s *fsmSnapshot) Release() {}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	sections, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	var st *State
	var data []byte
	for _, sec := range sections {
		switch sec.name {
		case "cluster":
			st = &State{}
			if err := json.Unmarshal(sec.body, st); err != nil {
				return fmt.Errorf("restore snapshot: cluster state: %w", err)
			}
			st.rebuild()
		case "data":
			data = sec.body
		default:
			return fmt.Errorf("restore snapshot: unknown section %q (snapshot from a newer rctdb?)", sec.name)
		}
	}
	if st == nil {
		return errors.New("restore snapshot: no cluster section")
	}
	if f.data != nil {
		if err := f.data.RestoreData(data); err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
	}
	// The snapshot's index is Raft's; the applied index moves on with the
	// next entry.
	f.publish(st, f.cur.Load().index, true)
	f.restored = true
	f.log.Info("restored cluster state from snapshot", "state", st.String())
	return nil
}
