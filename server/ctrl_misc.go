package server

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

func (n *Node) ctrlPing(ctx context.Context, r *controlReq) reply {
	return status(int32(n.reg.numClients()))
}

func (n *Node) ctrlGetPID(ctx context.Context, r *controlReq) reply {
	return status(int32(os.Getpid()))
}

func (n *Node) ctrlShutdown(ctx context.Context, r *controlReq) reply {
	n.notice("shutdown requested by a client", "from_node", r.from)
	n.requestShutdown()
	return status(0)
}

func (n *Node) ctrlRegisterSrvID(ctx context.Context, r *controlReq) reply {
	n.reg.register(r.client, r.SrvID)
	rep := status(0)
	if r.SrvID == protocol.SrvIDLeader {
		// The ctdb tool waits for the first leader message; answer right
		// after the registration instead of making every command wait up
		// to a broadcast interval.
		c := r.client
		rep.after = func() { n.messageClient(c, protocol.SrvIDLeader, protocol.U32(n.election.Leader())) }
	}
	return rep
}

func (n *Node) ctrlDeregisterSrvID(ctx context.Context, r *controlReq) reply {
	if !n.reg.deregister(r.client, r.SrvID) {
		return status(int32(syscall.ENOENT))
	}
	return status(0)
}

// ctrlProcessExists tells whether a connected client has that pid. An
// inactive node disconnects such a client and answers no, as ctdbd does, so
// that Samba processes on a node that left the cluster are not trusted.
func (n *Node) ctrlProcessExists(ctx context.Context, r *controlReq) reply {
	pid := int32(le32(r.Data))
	if n.election.Inactive() {
		for _, c := range n.reg.clientsWithPID(pid) {
			c.close("PROCESS_EXISTS on an inactive node")
		}
		return status(-1)
	}
	if !n.reg.hasPID(pid, nil) || syscall.Kill(int(pid), 0) != nil {
		return status(-1)
	}
	return status(0)
}

func (n *Node) ctrlCheckPIDSrvID(ctx context.Context, r *controlReq) reply {
	var ps protocol.PidSrvID
	if err := ps.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	if !n.reg.hasPID(ps.PID, &ps.SrvID) {
		return status(-1)
	}
	return status(0)
}

func (n *Node) ctrlStatistics(ctx context.Context, r *controlReq) reply {
	st := n.stats.current(n.reg.numClients(), time.Now())
	n.vol.Fill(&st)
	return ok(st.Marshal())
}

func (n *Node) ctrlStatisticsReset(ctx context.Context, r *controlReq) reply {
	n.stats.reset(time.Now())
	n.vol.ResetStats()
	return status(0)
}

func (n *Node) ctrlGetStatHistory(ctx context.Context, r *controlReq) reply {
	l := n.stats.historyList()
	return ok(l.Marshal())
}

func (n *Node) ctrlGetDebug(ctx context.Context, r *controlReq) reply {
	return ok(protocol.U32(uint32(logging.ToCTDB(n.level.Level()))))
}

func (n *Node) ctrlSetDebug(ctx context.Context, r *controlReq) reply {
	n.level.Set(logging.FromCTDB(int32(le32(r.Data))))
	return status(0)
}

// ctrlSetTunable sets a tunable cluster-wide through Raft. Status 1 tells
// the tool the tunable is obsolete (it is set all the same).
func (n *Node) ctrlSetTunable(ctx context.Context, r *controlReq) reply {
	var t protocol.SetTunable
	if err := t.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	i, found := protocol.TunableIndex(t.Name)
	if !found {
		return fail("unknown tunable %q", t.Name)
	}
	if err := n.commit(ctx, &raftlayer.CmdSetTunable{Name: t.Name, Value: t.Value}); err != nil {
		return failErr(err)
	}
	n.notice("tunable set cluster-wide", "name", protocol.Tunables[i].Name, "value", t.Value)
	if protocol.Tunables[i].Obsolete {
		return status(1)
	}
	return status(0)
}

func (n *Node) ctrlGetTunable(ctx context.Context, r *controlReq) reply {
	name, err := protocol.ParseStringN(r.Data)
	if err != nil {
		return failErr(err)
	}
	st, _ := n.raft.Current()
	v, found := st.TunableByName(name)
	if !found {
		return reply{status: -int32(syscall.EINVAL), errmsg: "unknown tunable " + name}
	}
	return ok(protocol.U32(v))
}

func (n *Node) ctrlListTunables(ctx context.Context, r *controlReq) reply {
	vl := protocol.VarList{Names: protocol.ListedTunables()}
	return ok(vl.Marshal())
}

func (n *Node) ctrlGetAllTunables(ctx context.Context, r *controlReq) reply {
	st, _ := n.raft.Current()
	l := st.TunableList()
	return ok(l.Marshal())
}

func (n *Node) ctrlUptime(ctx context.Context, r *controlReq) reply {
	started, finished, _ := n.part.LastRecovery()
	u := protocol.Uptime{
		CurrentTime:          protocol.TimevalOf(time.Now()),
		StartTime:            protocol.TimevalOf(n.started),
		LastRecoveryStarted:  protocol.TimevalOf(started),
		LastRecoveryFinished: protocol.TimevalOf(finished),
	}
	return ok(u.Marshal())
}

func (n *Node) ctrlEchoData(ctx context.Context, r *controlReq) reply {
	var e protocol.EchoData
	if err := e.Unmarshal(r.Data); err != nil {
		return failErr(err)
	}
	return ok(e.Marshal())
}
