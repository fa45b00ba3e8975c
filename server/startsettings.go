package server

import (
	"context"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// startSetting is something ctdbd 4.17 gives a node at every start (its
// ctdb.tunables, [legacy] start as stopped/disabled) that rctdb keeps in
// Raft: cmd commits it, and holds reports whether the state has it already.
type startSetting struct {
	what  string
	cmd   raftlayer.Command
	holds func(*raftlayer.State) bool
}

// applyStartSettings commits the node's start settings once the cluster
// state can take them (the node reached a quorum), leaving alone what the
// state already has; it retries until they are in or the node stops.
func (n *Node) applyStartSettings() {
	defer n.wg.Done()
	want := append(n.flagsAtStart(), n.tunablesFromFile()...)
	if len(want) == 0 {
		return
	}
	for len(want) > 0 {
		watch := n.raft.Watch()
		if n.raft.Initialized() {
			want = n.commitStartSettings(want)
			if len(want) == 0 {
				return
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case <-watch:
		case <-time.After(time.Second):
		}
	}
}

// commitStartSettings commits the settings the cluster state does not
// hold yet, and returns those it could not commit yet. The state is read
// linearizably: a restarted node's own state may still be replaying the
// log, and would show a flag an admin has cleared since as still set.
func (n *Node) commitStartSettings(want []startSetting) []startSetting {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	st, err := n.raft.LinearizableState(ctx)
	if err != nil {
		n.log.Debug("start settings wait for the cluster state", "err", err)
		return want
	}
	for i, s := range want {
		if s.holds(st) {
			continue
		}
		if err := n.commit(n.ctx, s.cmd); err != nil {
			n.log.Debug("start setting not committed yet", "setting", s.what, "err", err)
			return want[i:]
		}
		n.notice("start setting applied", "setting", s.what)
	}
	return nil
}

// flagsAtStart are [legacy] start as stopped and start as disabled: the
// node comes up STOPPED or DISABLED, as 4.17's does, until `ctdb
// continue` or `ctdb enable`.
func (n *Node) flagsAtStart() []startSetting {
	var out []startSetting
	self := n.self
	if n.cfg.Legacy.StartAsStopped {
		out = append(out, startSetting{"start as stopped", &raftlayer.CmdSetStopped{PNN: self, Stopped: true},
			func(st *raftlayer.State) bool { return int(self) < len(st.Nodes) && st.Nodes[self].Stopped }})
	}
	if n.cfg.Legacy.StartAsDisabled {
		out = append(out, startSetting{"start as disabled", &raftlayer.CmdSetDisabled{PNN: self, Disabled: true},
			func(st *raftlayer.State) bool { return int(self) < len(st.Nodes) && st.Nodes[self].Disabled }})
	}
	return out
}

// tunablesFromFile reads the node's ctdb.tunables, which ctdbd 4.17 reads
// at every start, as settings of this node's own values. A bad line is
// logged with its file and line, and the good ones still apply, as in 4.17.
func (n *Node) tunablesFromFile() []startSetting {
	path := n.cfg.TunablesFile
	if path == "" {
		return nil
	}
	settings, err := config.ReadTunablesFile(path)
	if err != nil {
		n.log.Error("ctdb.tunables has bad lines; the others apply", "err", err)
	}
	var out []startSetting
	for _, s := range settings {
		i, ok := protocol.TunableIndex(s.Name)
		switch {
		case !ok:
			n.log.Error("unknown tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		case protocol.Tunables[i].Obsolete:
			n.log.Error("obsolete tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		default:
			name, v, self := protocol.Tunables[i].Name, s.Value, n.self
			out = append(out, startSetting{fmt.Sprintf("%s = %d from %s", name, v, path),
				&raftlayer.CmdSetNodeTunable{PNN: self, Name: name, Value: v},
				func(st *raftlayer.State) bool { got, _ := st.TunableByName(self, name); return got == v }})
		}
	}
	return out
}
