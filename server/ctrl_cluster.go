package server

import (
	"context"
	"errors"
	"time"

	"github.com/rctdb/rctdb/control"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
)

// nodeMap is what GET_NODEMAP returns: the replicated flags at this node's
// applied index. While this node is out of contact with a Raft quorum it
// shows itself, and every node it cannot reach, DISCONNECTED: it is not part
// of the cluster and clients such as smbd must not treat it as such.
func (n *Node) nodeMap() protocol.NodeMap {
	st, _ := n.raft.Current()
	inactive := n.election != nil && n.election.Inactive()
	nm := protocol.NodeMap{Nodes: make([]protocol.NodeInfo, len(st.Nodes))}
	for i, ns := range st.Nodes {
		p := uint32(i)
		flags := st.Flags(p)
		if inactive && (p == n.self || !n.tr.Connected(p)) {
			flags |= protocol.NodeFlagDisconnected
		}
		nm.Nodes[i] = protocol.NodeInfo{PNN: p, Flags: flags, Addr: n.members.SockAddr(ns.Addr)}
	}
	return nm
}

func (n *Node) ctrlGetNodeMap(ctx context.Context, r *control.Request) control.Reply {
	nm := n.nodeMap()
	return control.OK(nm.Marshal())
}

func (n *Node) ctrlGetPNN(ctx context.Context, r *control.Request) control.Reply {
	return control.Status(int32(n.self))
}

func (n *Node) ctrlGetVNNMap(ctx context.Context, r *control.Request) control.Reply {
	st, _ := n.raft.Current()
	vm := protocol.VNNMap{Generation: st.View.Generation, Map: st.View.VNNMap}
	return control.OK(vm.Marshal())
}

// generation is the current vnn map generation, stamped on packets.
func (n *Node) generation() uint32 {
	st, _ := n.raft.Current()
	return st.View.Generation
}

// ctrlGetRecMode reports RECOVERY while this node keeps its databases
// frozen (ctdbd's recovery mode; it is ACTIVE on banned nodes too).
func (n *Node) ctrlGetRecMode(ctx context.Context, r *control.Request) control.Reply {
	if n.vol.Recovering() {
		return control.Status(int32(protocol.RecoveryActive))
	}
	return control.Status(int32(protocol.RecoveryNormal))
}

// ctrlSetRecMode: setting ACTIVE asks for a recovery (the ctdb tool does so
// to repair a failed wipedb; ctdb recover too); NORMAL is the leader's to
// set once the recovery is done, so it is accepted and ignored.
func (n *Node) ctrlSetRecMode(ctx context.Context, r *control.Request) control.Reply {
	if le32(r.Data) != uint32(protocol.RecoveryActive) {
		return control.Status(0)
	}
	if n.election.Inactive() {
		return control.FailErr(errInactive)
	}
	if err := n.election.ForceRecovery(ctx); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (n *Node) ctrlGetRunstate(ctx context.Context, r *control.Request) control.Reply {
	return control.OK(protocol.U32(uint32(n.life.Runstate())))
}

func (n *Node) ctrlGetCapabilities(ctx context.Context, r *control.Request) control.Reply {
	return control.OK(protocol.U32(n.election.Capabilities()))
}

// commit applies a command through Raft and waits until every connected
// node has applied it, so that all of them answer with the new state at
// once. A node that does not confirm within spreadTimeout delays the reply
// no further: the command is committed either way.
//
// An inactive node refuses at once: it cannot reach a quorum, and a change
// queued until the partition heals would surprise whoever asked for it.
func (n *Node) commit(ctx context.Context, c raftlayer.Command) error {
	if n.election.Inactive() {
		return errInactive
	}
	idx, err := n.raft.Apply(ctx, c)
	if err != nil {
		return err
	}
	var peers []uint32
	for _, node := range n.nodeMap().Nodes {
		if node.PNN == n.self || node.Flags&(protocol.NodeFlagDeleted|protocol.NodeFlagDisconnected) != 0 {
			continue
		}
		if n.tr.Connected(node.PNN) {
			peers = append(peers, node.PNN)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, spreadTimeout)
	defer cancel()
	if err := n.raft.WaitAppliedOn(sctx, idx, peers); err != nil {
		n.log.Warn("committed change not yet applied on every node", "index", idx, "err", err)
	}
	return nil
}

const spreadTimeout = 2 * time.Second

var errInactive = errors.New("this node is not in contact with a quorum of the cluster; no change can be committed through it")

// checkActive returns errInactive while this node is out of contact with
// a quorum.
func (n *Node) checkActive() error {
	if n.election.Inactive() {
		return errInactive
	}
	return nil
}

func (n *Node) ctrlSetBanState(ctx context.Context, r *control.Request) control.Reply {
	var bs protocol.BanState
	if err := bs.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if bs.PNN != n.self {
		return control.Fail("SET_BAN_STATE for node %d sent to node %d", bs.PNN, n.self)
	}
	st, _ := n.raft.Current()
	if bs.Time != 0 {
		if st.TunablesOf(n.self).EnableBans == 0 {
			n.log.Info("ban request ignored: EnableBans is 0", "seconds", bs.Time)
			return control.Status(0)
		}
	}
	cmd := &raftlayer.CmdBan{PNN: n.self, Seconds: bs.Time}
	if bs.Time != 0 {
		cmd.Until = time.Now().Add(time.Duration(bs.Time) * time.Second).UnixNano()
		n.notice("banning this node", "seconds", bs.Time)
	} else {
		n.notice("unbanning this node")
	}
	if err := n.commit(ctx, cmd); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (n *Node) ctrlGetBanState(ctx context.Context, r *control.Request) control.Reply {
	st, _ := n.raft.Current()
	bs := protocol.BanState{PNN: n.self}
	if int(n.self) < len(st.Nodes) && st.Nodes[n.self].Banned() {
		bs.Time = st.Nodes[n.self].BanSeconds
	}
	return control.OK(bs.Marshal())
}

func (n *Node) setFlag(ctx context.Context, c raftlayer.Command, what string) control.Reply {
	n.notice(what)
	if err := n.commit(ctx, c); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (n *Node) ctrlStopNode(ctx context.Context, r *control.Request) control.Reply {
	return n.setFlag(ctx, &raftlayer.CmdSetStopped{PNN: n.self, Stopped: true}, "stopping this node")
}

func (n *Node) ctrlContinueNode(ctx context.Context, r *control.Request) control.Reply {
	return n.setFlag(ctx, &raftlayer.CmdSetStopped{PNN: n.self, Stopped: false}, "continuing this node")
}

func (n *Node) ctrlDisableNode(ctx context.Context, r *control.Request) control.Reply {
	return n.setFlag(ctx, &raftlayer.CmdSetDisabled{PNN: n.self, Disabled: true}, "disabling this node")
}

func (n *Node) ctrlEnableNode(ctx context.Context, r *control.Request) control.Reply {
	return n.setFlag(ctx, &raftlayer.CmdSetDisabled{PNN: n.self, Disabled: false}, "enabling this node")
}

func (n *Node) setRole(ctx context.Context, r *control.Request, bit uint32) control.Reply {
	on := le32(r.Data) != 0
	if err := n.election.SetCapability(ctx, bit, on); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

func (n *Node) ctrlSetLMasterRole(ctx context.Context, r *control.Request) control.Reply {
	return n.setRole(ctx, r, protocol.CapLMaster)
}

func (n *Node) ctrlSetRecMasterRole(ctx context.Context, r *control.Request) control.Reply {
	return n.setRole(ctx, r, protocol.CapRecMaster)
}

func le32(b []byte) uint32 {
	v, _ := protocol.ParseU32(b)
	return v
}

func (n *Node) ctrlGetReclockFile(ctx context.Context, r *control.Request) control.Reply {
	return control.OK(nil)
}
