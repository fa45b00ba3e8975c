package server

import (
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// applyTunablesFile gives this node the values of its ctdb.tunables file,
// which ctdbd 4.17 reads at every start. rctdb keeps a node's tunables in
// Raft, so they are committed as this node's own values once the cluster
// state can take them; values the node already has are left alone. A bad
// line is logged with its file and line, and the good ones still apply,
// as in 4.17.
func (n *Node) applyTunablesFile() {
	defer n.wg.Done()
	path := n.cfg.TunablesFile
	if path == "" {
		return
	}
	settings, err := config.ReadTunablesFile(path)
	if err != nil {
		n.log.Error("ctdb.tunables has bad lines; the others apply", "err", err)
	}
	var want []raftlayer.CmdSetNodeTunable
	for _, s := range settings {
		i, ok := protocol.TunableIndex(s.Name)
		switch {
		case !ok:
			n.log.Error("unknown tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		case protocol.Tunables[i].Obsolete:
			n.log.Error("obsolete tunable in ctdb.tunables", "file", path, "line", s.Line, "name", s.Name)
		default:
			want = append(want, raftlayer.CmdSetNodeTunable{PNN: n.self, Name: protocol.Tunables[i].Name, Value: s.Value})
		}
	}
	if len(want) == 0 {
		return
	}
	n.notice("loading tunables", "file", path, "count", len(want))
	retry := time.Second
	for len(want) > 0 {
		watch := n.raft.Watch()
		if n.raft.Initialized() {
			want = n.commitTunables(want)
			if len(want) == 0 {
				return
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case <-watch:
		case <-time.After(retry):
		}
	}
}

// commitTunables commits the settings that differ from this node's
// values, and returns those it could not commit yet.
func (n *Node) commitTunables(want []raftlayer.CmdSetNodeTunable) []raftlayer.CmdSetNodeTunable {
	for i, c := range want {
		st, _ := n.raft.Current()
		if v, _ := st.TunableByName(n.self, c.Name); v == c.Value {
			continue
		}
		if err := n.commit(n.ctx, &c); err != nil {
			n.log.Debug("tunable from ctdb.tunables not committed yet", "name", c.Name, "err", err)
			return want[i:]
		}
		n.notice("tunable set on this node from ctdb.tunables", "name", c.Name, "value", c.Value)
	}
	return nil
}
