package server

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/control"

	"github.com/rctdb/rctdb/protocol"
)

func (n *Node) ctrlPing(ctx context.Context, r *control.Request) control.Reply {
	return control.Status(int32(n.reg.numClients()))
}

func (n *Node) ctrlGetPID(ctx context.Context, r *control.Request) control.Reply {
	return control.Status(int32(os.Getpid()))
}

func (n *Node) ctrlShutdown(ctx context.Context, r *control.Request) control.Reply {
	n.notice("shutdown requested by a client", "from_node", r.From)
	n.requestShutdown()
	return control.Status(0)
}

func (n *Node) ctrlRegisterSrvID(ctx context.Context, r *control.Request) control.Reply {
	n.reg.register(clientOf(r), r.SrvID)
	rep := control.Status(0)
	if r.SrvID == protocol.SrvIDLeader {
		// The ctdb tool waits for the first leader message; answer right
		// after the registration instead of making every command wait up
		// to a broadcast interval.
		c := clientOf(r)
		rep.After = func() { n.messageClient(c, protocol.SrvIDLeader, protocol.U32(n.election.Leader())) }
	}
	return rep
}

func (n *Node) ctrlDeregisterSrvID(ctx context.Context, r *control.Request) control.Reply {
	if !n.reg.deregister(clientOf(r), r.SrvID) {
		return control.Status(int32(syscall.ENOENT))
	}
	return control.Status(0)
}

// ctrlProcessExists tells whether a connected client has that pid. An
// inactive node disconnects such a client and answers no, as ctdbd does, so
// that Samba processes on a node that left the cluster are not trusted.
func (n *Node) ctrlProcessExists(ctx context.Context, r *control.Request) control.Reply {
	pid := int32(le32(r.Data))
	if n.election.Inactive() {
		for _, c := range n.reg.clientsWithPID(pid) {
			c.close("PROCESS_EXISTS on an inactive node")
		}
		return control.Status(-1)
	}
	if !n.reg.hasPID(pid, nil) || syscall.Kill(int(pid), 0) != nil {
		return control.Status(-1)
	}
	return control.Status(0)
}

func (n *Node) ctrlCheckPIDSrvID(ctx context.Context, r *control.Request) control.Reply {
	var ps protocol.PidSrvID
	if err := ps.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if !n.reg.hasPID(ps.PID, &ps.SrvID) {
		return control.Status(-1)
	}
	return control.Status(0)
}

func (n *Node) ctrlStatistics(ctx context.Context, r *control.Request) control.Reply {
	st := n.stats.Current(n.reg.numClients(), time.Now())
	n.vol.Fill(&st)
	return control.OK(st.Marshal())
}

func (n *Node) ctrlStatisticsReset(ctx context.Context, r *control.Request) control.Reply {
	n.stats.Reset(time.Now())
	n.vol.ResetStats()
	return control.Status(0)
}

func (n *Node) ctrlGetStatHistory(ctx context.Context, r *control.Request) control.Reply {
	l := n.stats.History()
	return control.OK(l.Marshal())
}

// ctrlGetDebug returns the debug level as last set, as ctdbd does: a node
// set to 7 answers 7, which the tool prints as INFO.
func (n *Node) ctrlGetDebug(ctx context.Context, r *control.Request) control.Reply {
	return control.OK(protocol.U32(uint32(n.level.Get())))
}

// ctrlSetDebug takes any number, as ctdbd does; the tool sends 0 to 10.
func (n *Node) ctrlSetDebug(ctx context.Context, r *control.Request) control.Reply {
	n.level.Set(int32(le32(r.Data)))
	return control.Status(0)
}

func (n *Node) ctrlUptime(ctx context.Context, r *control.Request) control.Reply {
	started, finished, _ := n.part.LastRecovery()
	u := protocol.Uptime{
		CurrentTime:          protocol.TimevalOf(time.Now()),
		StartTime:            protocol.TimevalOf(n.started),
		LastRecoveryStarted:  protocol.TimevalOf(started),
		LastRecoveryFinished: protocol.TimevalOf(finished),
	}
	return control.OK(u.Marshal())
}

func (n *Node) ctrlEchoData(ctx context.Context, r *control.Request) control.Reply {
	var e protocol.EchoData
	if err := e.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	return control.OK(e.Marshal())
}
