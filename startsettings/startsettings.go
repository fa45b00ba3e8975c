package startsettings

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Setting is something ctdbd 4.17 gives a node at every start that rctdb
// keeps in Raft: Cmd commits it, and Holds reports whether the state has
// it already.
type Setting struct {
	What  string
	Cmd   raftlayer.Command
	Holds func(*raftlayer.State) bool
}

// Cluster is what applying the settings needs of the replicated state.
type Cluster interface {
	// Watch is closed when the next state is applied.
	Watch() <-chan struct{}
	// Initialized reports whether this node has a cluster state yet.
	Initialized() bool
	// LinearizableState is the state once it reflects everything
	// committed before the call.
	LinearizableState(ctx context.Context) (*raftlayer.State, error)
}

// Commit commits a command and waits until it is applied where it must be.
type Commit func(ctx context.Context, c raftlayer.Command) error

// Apply commits want once the cluster state can take them (the node
// reached a quorum), leaving alone what the state already has; it retries
// until they are in or ctx ends. A nil log discards.
func Apply(ctx context.Context, cl Cluster, commit Commit, want []Setting, log *slog.Logger) {
	log = orDiscard(log)
	for len(want) > 0 {
		watch := cl.Watch()
		if cl.Initialized() {
			want = commitMissing(ctx, cl, commit, want, log)
			if len(want) == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-watch:
		case <-time.After(time.Second):
		}
	}
}

// commitMissing commits the settings the cluster state does not hold yet,
// and returns those it could not commit yet. The state is read
// linearizably: a restarted node's own state may still be replaying the
// log, and would show a flag an admin has cleared since as still set.
func commitMissing(ctx context.Context, cl Cluster, commit Commit, want []Setting, log *slog.Logger) []Setting {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := cl.LinearizableState(rctx)
	if err != nil {
		log.Debug("start settings wait for the cluster state", "err", err)
		return want
	}
	for i, s := range want {
		if s.Holds(st) {
			continue
		}
		if err := commit(ctx, s.Cmd); err != nil {
			log.Debug("start setting not committed yet", "setting", s.What, "err", err)
			return want[i:]
		}
		log.Log(ctx, logging.LevelNotice, "start setting applied", "setting", s.What)
	}
	return nil
}

// Flags are [legacy] start as stopped and start as disabled of node self:
// the node comes up STOPPED or DISABLED, as 4.17's does, until `ctdb
// continue` or `ctdb enable`.
func Flags(self uint32, legacy config.Legacy) []Setting {
	var out []Setting
	if legacy.StartAsStopped {
		out = append(out, Setting{"start as stopped", &raftlayer.CmdSetStopped{PNN: self, Stopped: true},
			func(st *raftlayer.State) bool { return int(self) < len(st.Nodes) && st.Nodes[self].Stopped }})
	}
	if legacy.StartAsDisabled {
		out = append(out, Setting{"start as disabled", &raftlayer.CmdSetDisabled{PNN: self, Disabled: true},
			func(st *raftlayer.State) bool { return int(self) < len(st.Nodes) && st.Nodes[self].Disabled }})
	}
	return out
}

// TunablesFile reads node self's ctdb.tunables at path (none if ""), which
// ctdbd 4.17 reads at every start, as settings of this node's own values.
// A bad line is logged with its file and line, and the good ones still
// apply, as in 4.17. A nil log discards.
func TunablesFile(self uint32, path string, log *slog.Logger) []Setting {
	log = orDiscard(log)
	if path == "" {
		return nil
	}
	settings, err := config.ReadTunablesFile(path)
	if err != nil {
		log.Error("ctdb.tunables has bad lines; the others apply", "err", err)
	}
	var out []Setting
	for _, s := range settings {
		i, ok := protocol.TunableIndex(s.Name)
		switch {
		case !ok:
			log.Error("unknown tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		case protocol.Tunables[i].Obsolete:
			log.Error("obsolete tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		default:
			name, v := protocol.Tunables[i].Name, s.Value
			out = append(out, Setting{fmt.Sprintf("%s = %d from %s", name, v, path),
				&raftlayer.CmdSetNodeTunable{PNN: self, Name: name, Value: v},
				func(st *raftlayer.State) bool { got, _ := st.TunableByName(self, name); return got == v }})
		}
	}
	return out
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
