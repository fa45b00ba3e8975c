package tunables

import (
	"context"
	"log/slog"
	"syscall"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// Config is what the tunable controls need of their node.
type Config struct {
	// Self is the node's pnn: a plain set and every get are of its values.
	Self uint32
	// State is the node's current replicated state.
	State func() *raftlayer.State
	// Commit commits a command and waits until the nodes applied it.
	Commit func(ctx context.Context, c raftlayer.Command) error
	// Log gets a notice of every change (nil discards).
	Log *slog.Logger
}

type server struct{ Config }

// Controls returns the handlers of the tunable controls.
func Controls(cfg Config) control.Table {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := server{cfg}
	return control.Table{
		protocol.ControlSetTunable:        {Size: control.AnySize, Blocking: true, Serve: s.set},
		protocol.ControlSetTunableCluster: {Size: control.AnySize, Blocking: true, Serve: s.setCluster},
		protocol.ControlGetTunable:        {Size: control.AnySize, Serve: s.get},
		protocol.ControlListTunables:      {Size: control.AnySize, Serve: s.list},
		protocol.ControlGetAllTunables:    {Size: 0, Serve: s.getAll},
	}
}

// set sets a tunable on this node. Status 1 tells the tool the tunable is
// obsolete (it is set all the same).
func (s server) set(ctx context.Context, r *control.Request) control.Reply {
	return s.commit(ctx, r, func(name string, v uint32) raftlayer.Command {
		return &raftlayer.CmdSetNodeTunable{PNN: s.Self, Name: name, Value: v}
	}, "tunable set on this node")
}

// setCluster sets a tunable on every node (rctdb's own control, for
// `ctdb setvar --cluster`).
func (s server) setCluster(ctx context.Context, r *control.Request) control.Reply {
	return s.commit(ctx, r, func(name string, v uint32) raftlayer.Command {
		return &raftlayer.CmdSetTunable{Name: name, Value: v}
	}, "tunable set cluster-wide")
}

// commit commits the command cmd makes of a ctdb_tunable request. An
// unknown name fails (-1), as in ctdbd.
func (s server) commit(ctx context.Context, r *control.Request, cmd func(string, uint32) raftlayer.Command, what string) control.Reply {
	var t protocol.SetTunable
	if err := t.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	i, found := protocol.TunableIndex(t.Name)
	if !found {
		return control.Fail("unknown tunable %q", t.Name)
	}
	def := protocol.Tunables[i]
	if err := s.Commit(ctx, cmd(def.Name, t.Value)); err != nil {
		return control.FailErr(err)
	}
	s.Log.Log(ctx, logging.LevelNotice, what, "name", def.Name, "value", t.Value)
	if def.Obsolete {
		return control.Status(1)
	}
	return control.Status(0)
}

func (s server) get(ctx context.Context, r *control.Request) control.Reply {
	name, err := protocol.ParseStringN(r.Data)
	if err != nil {
		return control.FailErr(err)
	}
	v, found := s.State().TunableByName(s.Self, name)
	if !found {
		return control.Reply{Status: -int32(syscall.EINVAL), ErrMsg: "unknown tunable " + name}
	}
	return control.OK(protocol.U32(v))
}

func (s server) list(ctx context.Context, r *control.Request) control.Reply {
	vl := protocol.VarList{Names: protocol.ListedTunables()}
	return control.OK(vl.Marshal())
}

func (s server) getAll(ctx context.Context, r *control.Request) control.Reply {
	l := s.State().TunableListOf(s.Self)
	return control.OK(l.Marshal())
}
