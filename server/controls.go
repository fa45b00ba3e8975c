package server

import (
	"context"
	"time"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/tunables"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// controlTable maps opcodes to their handlers; built once per node.
func (n *Node) controlTable() control.Table {
	t := control.Table{
		protocol.ControlProcessExists:    {Size: 4, Serve: n.ctrlProcessExists},
		protocol.ControlStatistics:       {Size: 0, Serve: n.ctrlStatistics},
		protocol.ControlPing:             {Size: 0, Serve: n.ctrlPing},
		protocol.ControlGetVNNMap:        {Size: 0, Serve: n.ctrlGetVNNMap},
		protocol.ControlGetDebug:         {Size: 0, Serve: n.ctrlGetDebug},
		protocol.ControlSetDebug:         {Size: 4, Serve: n.ctrlSetDebug},
		protocol.ControlGetRecMode:       {Size: 0, Serve: n.ctrlGetRecMode},
		protocol.ControlSetRecMode:       {Size: 4, Blocking: true, Serve: n.ctrlSetRecMode},
		protocol.ControlStatisticsReset:  {Size: 0, Serve: n.ctrlStatisticsReset},
		protocol.ControlRegisterSrvID:    {Size: control.AnySize, LocalClient: true, Serve: n.ctrlRegisterSrvID},
		protocol.ControlDeregisterSrvID:  {Size: control.AnySize, LocalClient: true, Serve: n.ctrlDeregisterSrvID},
		protocol.ControlGetPID:           {Size: control.AnySize, Serve: n.ctrlGetPID},
		protocol.ControlGetPNN:           {Size: control.AnySize, Serve: n.ctrlGetPNN},
		protocol.ControlShutdown:         {Size: control.AnySize, Serve: n.ctrlShutdown},
		protocol.ControlUptime:           {Size: control.AnySize, Serve: n.ctrlUptime},
		protocol.ControlGetCapabilities:  {Size: control.AnySize, Serve: n.ctrlGetCapabilities},
		protocol.ControlGetNodeMap:       {Size: 0, Serve: n.ctrlGetNodeMap},
		protocol.ControlGetReclockFile:   {Size: 0, Serve: n.ctrlGetReclockFile},
		protocol.ControlStopNode:         {Size: 0, Blocking: true, Serve: n.ctrlStopNode},
		protocol.ControlContinueNode:     {Size: 0, Blocking: true, Serve: n.ctrlContinueNode},
		protocol.ControlSetLMasterRole:   {Size: 4, Blocking: true, Serve: n.ctrlSetLMasterRole},
		protocol.ControlSetRecMasterRole: {Size: 4, Blocking: true, Serve: n.ctrlSetRecMasterRole},
		protocol.ControlSetBanState:      {Size: 8, Blocking: true, Serve: n.ctrlSetBanState},
		protocol.ControlGetBanState:      {Size: 0, Serve: n.ctrlGetBanState},
		protocol.ControlGetStatHistory:   {Size: 0, Serve: n.ctrlGetStatHistory},
		protocol.ControlGetRunstate:      {Size: 0, Serve: n.ctrlGetRunstate},
		protocol.ControlGetNodesFile:     {Size: 0, Serve: n.ctrlGetNodesFile},
		protocol.ControlReloadNodesFile:  {Size: 0, Blocking: true, Serve: n.ctrlReloadNodesFile},
		protocol.ControlCheckPIDSrvID:    {Size: protocol.PidSrvIDSize, Serve: n.ctrlCheckPIDSrvID},
		protocol.ControlEchoData:         {Size: control.AnySize, Serve: n.ctrlEchoData},
		protocol.ControlDisableNode:      {Size: 0, Blocking: true, Serve: n.ctrlDisableNode},
		protocol.ControlEnableNode:       {Size: 0, Blocking: true, Serve: n.ctrlEnableNode},

		protocol.ControlTraverseStart:    {Size: 16, LocalClient: true, Serve: n.ctrlTraverseStart},
		protocol.ControlTraverseStartExt: {Size: 24, LocalClient: true, Serve: n.ctrlTraverseStartExt},
		protocol.ControlTraverseAll:      {Size: 24, Serve: n.ctrlTraverseAll},
		protocol.ControlTraverseAllExt:   {Size: 32, Serve: n.ctrlTraverseAllExt},
		protocol.ControlTraverseData:     {Size: control.AnySize, Serve: n.ctrlTraverseData},
		protocol.ControlTraverseKill:     {Size: 16, Serve: n.ctrlTraverseKill},
	}
	// rctdb's own controls, apart so that the table above stays 4.17's.
	t.Merge(n.dbs.Controls())
	t.Merge(n.failover.Controls())
	t.Merge(n.tunnelControls())
	t.Merge(n.compatControls())
	t.Merge(tunables.Controls(tunables.Config{Self: n.self, Commit: n.commit, Log: n.log,
		State: func() *raftlayer.State { st, _ := n.raft.Current(); return st }}))
	return t
}

// handleClientControl runs, forwards or broadcasts a client's control.
func (n *Node) handleClientControl(c *clientConn, pkt []byte) error {
	var rc protocol.ReqControl
	if err := rc.Unmarshal(pkt); err != nil {
		return err
	}
	n.sm.controls.Inc()
	if noderpc.IsInternal(uint32(rc.Opcode)) {
		n.replyClient(c, &rc, control.Fail("control %d is internal to rctdb", uint32(rc.Opcode)))
		return nil
	}
	dest := rc.DestNode
	if dest == protocol.CurrentNode || dest == n.self {
		n.runControl(&control.Request{ReqControl: rc, Client: c, From: n.self})
		return nil
	}
	if protocol.IsBroadcast(dest) {
		if !rc.NoReply() {
			n.replyClient(c, &rc, control.Fail("broadcast controls need NOREPLY"))
			return nil
		}
		for _, t := range n.messageTargets(dest) {
			if t == n.self {
				n.runControl(&control.Request{ReqControl: rc, Client: c, From: n.self})
				continue
			}
			fwd := rc
			fwd.ClientID = c.id
			n.rpc.Go(t, fwd, 0, func(int32, []byte, []byte) {})
		}
		return nil
	}
	n.sm.forwarded.Inc()
	n.forwardControl(c, rc, dest, true)
	return nil
}

// forwardControl sends a client's control to node dest and answers the
// client with dest's reply. A control that could not be sent because this
// node's link to dest is down waits until the cluster takes dest out of
// the active set (then fails, see afterNodeLeft) or the link is back:
// then, if retry, it is sent once more. That is the case of a node that
// restarted and that the cluster already counts again while this node's
// link to it is still being made. A control lost in flight is not sent
// again: dest may have run it.
func (n *Node) forwardControl(c *clientConn, rc protocol.ReqControl, dest uint32, retry bool) {
	fwd := rc
	fwd.ClientID = c.id
	n.rpc.Go(dest, fwd, n.controlTimeout(), func(st int32, data, errmsg []byte) {
		if rc.NoReply() {
			return
		}
		rep := control.Reply{Status: st, Data: data, ErrMsg: string(errmsg)}
		if e := string(errmsg); e == noderpc.ErrTextDisconnectedNode || e == noderpc.ErrTextNodeDisconnected {
			n.afterNodeLeft(dest, func(linkBack bool) {
				if linkBack && retry && e == noderpc.ErrTextDisconnectedNode {
					n.forwardControl(c, rc, dest, false)
					return
				}
				n.replyClient(c, &rc, rep)
			})
			return
		}
		n.replyClient(c, &rc, rep)
	})
}

// afterNodeLeft runs fn once this node has applied the view that takes
// node out of the active set, or once its link to node is back (fn's
// linkBack), or after a bound. A client told that a node is unreachable
// then sees everything that node committed before it left: Samba's g_lock
// takes a holder on an unreachable node for dead (PROCESS_EXISTS fails)
// and goes ahead, and that holder's last commit, already in the Raft log,
// must be applied here before.
func (n *Node) afterNodeLeft(node uint32, fn func(linkBack bool)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		linkBack := false
		defer func() { fn(linkBack) }()
		deadline := time.NewTimer(afterNodeLeftMax)
		defer deadline.Stop()
		// The transport tells of no reconnection: look every linkPoll.
		poll := time.NewTicker(linkPoll)
		defer poll.Stop()
		for {
			ch := n.raft.Watch()
			if st, _ := n.raft.Current(); st.Flags(node)&protocol.NodeFlagsInactive != 0 {
				return
			}
			if n.tr.Connected(node) {
				linkBack = true
				return
			}
			select {
			case <-ch:
			case <-poll.C:
			case <-deadline.C:
				return
			case <-n.ctx.Done():
				return
			}
		}
	}()
}

// linkPoll is how often afterNodeLeft looks whether a link is back.
const linkPoll = 20 * time.Millisecond

// afterNodeLeftMax bounds afterNodeLeft: the leader notices a dead node
// within the dead peer timeout.
const afterNodeLeftMax = 10 * time.Second

// handleNodeControl serves a control another node sent.
func (n *Node) handleNodeControl(from uint32, pkt []byte) {
	var rc protocol.ReqControl
	if err := rc.Unmarshal(pkt); err != nil {
		n.log.Warn("dropping malformed REQ_CONTROL from node", "pnn", from, "err", err)
		return
	}
	n.runControl(&control.Request{ReqControl: rc, From: from})
}

// runControl executes a control on this node and sends the reply.
func (n *Node) runControl(r *control.Request) {
	ctl, found := n.controls[r.Opcode]
	if !found {
		n.finishControl(r, time.Now(), control.Fail("control %s (%d) is not implemented", r.Opcode, uint32(r.Opcode)))
		return
	}
	if ctl.Size != control.AnySize && len(r.Data) != ctl.Size {
		n.finishControl(r, time.Now(), control.Fail("control %s: %d bytes of data, want %d", r.Opcode, len(r.Data), ctl.Size))
		return
	}
	if ctl.LocalClient && r.Client == nil {
		n.finishControl(r, time.Now(), control.Fail("control %s needs a local client", r.Opcode))
		return
	}
	start := time.Now()
	if !ctl.Blocking {
		n.finishControl(r, start, ctl.Serve(n.ctx, r))
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, n.controlTimeout())
		defer cancel()
		n.finishControl(r, start, ctl.Serve(ctx, r))
	}()
}

func (n *Node) finishControl(r *control.Request, start time.Time, rep control.Reply) {
	n.sm.controlLatency.UpdateDuration(start)
	// Many controls return their result in the status; only a negative
	// status or an error text is a failure.
	if rep.Status < 0 || rep.ErrMsg != "" {
		n.sm.controlErrors.Inc()
		n.log.Debug("control failed", "op", r.Opcode, "status", rep.Status, "err", rep.ErrMsg)
	}
	if !r.NoReply() {
		if r.Client != nil {
			n.replyClient(clientOf(r), &r.ReqControl, rep)
		} else {
			n.replyNode(r.From, &r.ReqControl, rep)
		}
	}
	if rep.After != nil {
		rep.After()
	}
}

func (n *Node) replyPacket(req *protocol.ReqControl, dest uint32, rep control.Reply) []byte {
	rp := protocol.ReplyControl{
		Header: protocol.Header{Generation: n.generation(), DestNode: dest, SrcNode: n.self, ReqID: req.ReqID},
		Status: rep.Status, Data: rep.Data, ErrMsg: []byte(rep.ErrMsg),
	}
	return rp.Marshal()
}

// replyClient answers a local client; ctdbd leaves destnode 0.
func (n *Node) replyClient(c *clientConn, req *protocol.ReqControl, rep control.Reply) {
	c.send(n.replyPacket(req, 0, rep))
}

func (n *Node) replyNode(node uint32, req *protocol.ReqControl, rep control.Reply) {
	if err := n.sendNode(node, n.replyPacket(req, node, rep)); err != nil {
		n.log.Debug("could not reply to node", "pnn", node, "op", req.Opcode, "err", err)
	}
}

// controlTimeout is the ControlTimeout tunable.
func (n *Node) controlTimeout() time.Duration {
	st, _ := n.raft.Current()
	if v := st.TunablesOf(n.self).ControlTimeout; v > 0 {
		return time.Duration(v) * time.Second
	}
	return 60 * time.Second
}
