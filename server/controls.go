package server

import (
	"context"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// controlReq is a control to execute on this node.
type controlReq struct {
	protocol.ReqControl
	// client is the local client that sent it; nil when another node did.
	client *clientConn
	// from is the node that sent it (this node for local clients).
	from uint32
}

// reply is a control's outcome.
type reply struct {
	status int32
	data   []byte
	errmsg string
	// after runs once the reply is sent (or dropped for NOREPLY).
	after func()
}

func ok(data []byte) reply { return reply{data: data} }
func status(s int32) reply { return reply{status: s} }
func fail(format string, args ...any) reply {
	return reply{status: -1, errmsg: fmt.Sprintf(format, args...)}
}

func failErr(err error) reply { return reply{status: noderpc.StatusOf(err), errmsg: err.Error()} }

// exactAny marks a control whose request may have any size.
const exactAny = -1

// control describes how a control is served.
type control struct {
	// size is the exact request size the daemon requires, or exactAny.
	size int
	// blocking handlers (Raft commits, waits) run on their own goroutine so
	// that the connection or link they came on keeps flowing.
	blocking bool
	// localClient controls need a local client connection.
	localClient bool
	fn          func(ctx context.Context, r *controlReq) reply
}

// controlTable maps opcodes to their handlers; built once per node.
func (n *Node) controlTable() map[protocol.Opcode]control {
	return map[protocol.Opcode]control{
		protocol.ControlProcessExists:    {size: 4, fn: n.ctrlProcessExists},
		protocol.ControlStatistics:       {size: 0, fn: n.ctrlStatistics},
		protocol.ControlPing:             {size: 0, fn: n.ctrlPing},
		protocol.ControlGetVNNMap:        {size: 0, fn: n.ctrlGetVNNMap},
		protocol.ControlGetDebug:         {size: 0, fn: n.ctrlGetDebug},
		protocol.ControlSetDebug:         {size: 4, fn: n.ctrlSetDebug},
		protocol.ControlGetDBMap:         {size: 0, fn: n.ctrlGetDBMap},
		protocol.ControlGetRecMode:       {size: 0, fn: n.ctrlGetRecMode},
		protocol.ControlSetRecMode:       {size: 4, blocking: true, fn: n.ctrlSetRecMode},
		protocol.ControlStatisticsReset:  {size: 0, fn: n.ctrlStatisticsReset},
		protocol.ControlRegisterSrvID:    {size: exactAny, localClient: true, fn: n.ctrlRegisterSrvID},
		protocol.ControlDeregisterSrvID:  {size: exactAny, localClient: true, fn: n.ctrlDeregisterSrvID},
		protocol.ControlGetPID:           {size: exactAny, fn: n.ctrlGetPID},
		protocol.ControlGetPNN:           {size: exactAny, fn: n.ctrlGetPNN},
		protocol.ControlShutdown:         {size: exactAny, fn: n.ctrlShutdown},
		protocol.ControlSetTunable:       {size: exactAny, blocking: true, fn: n.ctrlSetTunable},
		protocol.ControlGetTunable:       {size: exactAny, fn: n.ctrlGetTunable},
		protocol.ControlListTunables:     {size: exactAny, fn: n.ctrlListTunables},
		protocol.ControlGetAllTunables:   {size: 0, fn: n.ctrlGetAllTunables},
		protocol.ControlUptime:           {size: exactAny, fn: n.ctrlUptime},
		protocol.ControlGetCapabilities:  {size: exactAny, fn: n.ctrlGetCapabilities},
		protocol.ControlGetPublicIPs:     {size: 0, fn: n.ctrlGetPublicIPs},
		protocol.ControlGetNodeMap:       {size: 0, fn: n.ctrlGetNodeMap},
		protocol.ControlGetReclockFile:   {size: 0, fn: n.ctrlGetReclockFile},
		protocol.ControlStopNode:         {size: 0, blocking: true, fn: n.ctrlStopNode},
		protocol.ControlContinueNode:     {size: 0, blocking: true, fn: n.ctrlContinueNode},
		protocol.ControlSetLMasterRole:   {size: 4, blocking: true, fn: n.ctrlSetLMasterRole},
		protocol.ControlSetRecMasterRole: {size: 4, blocking: true, fn: n.ctrlSetRecMasterRole},
		protocol.ControlSetBanState:      {size: 8, blocking: true, fn: n.ctrlSetBanState},
		protocol.ControlGetBanState:      {size: 0, fn: n.ctrlGetBanState},
		protocol.ControlGetIfaces:        {size: 0, fn: n.ctrlGetIfaces},
		protocol.ControlGetStatHistory:   {size: 0, fn: n.ctrlGetStatHistory},
		protocol.ControlGetRunstate:      {size: 0, fn: n.ctrlGetRunstate},
		protocol.ControlGetNodesFile:     {size: 0, fn: n.ctrlGetNodesFile},
		protocol.ControlReloadNodesFile:  {size: 0, blocking: true, fn: n.ctrlReloadNodesFile},
		protocol.ControlCheckPIDSrvID:    {size: protocol.PidSrvIDSize, fn: n.ctrlCheckPIDSrvID},
		protocol.ControlEchoData:         {size: exactAny, fn: n.ctrlEchoData},
		protocol.ControlDisableNode:      {size: 0, blocking: true, fn: n.ctrlDisableNode},
		protocol.ControlEnableNode:       {size: 0, blocking: true, fn: n.ctrlEnableNode},
		protocol.ControlGetPublicIPInfo:  {size: protocol.SockAddrSize, fn: n.ctrlGetPublicIPInfo},

		protocol.ControlDBAttach:           {size: exactAny, blocking: true, fn: n.ctrlDBAttach},
		protocol.ControlDBAttachPersistent: {size: exactAny, blocking: true, fn: n.ctrlDBAttachPersistent},
		protocol.ControlDBAttachReplicated: {size: exactAny, blocking: true, fn: n.ctrlDBAttachReplicated},
		protocol.ControlGetDBPath:          {size: 4, fn: n.ctrlGetDBPath},
		protocol.ControlGetDBName:          {size: 4, fn: n.ctrlGetDBName},
		protocol.ControlDBOpenFlags:        {size: 4, fn: n.ctrlDBOpenFlags},
		protocol.ControlDBGetHealth:        {size: 4, fn: n.ctrlDBGetHealth},
		protocol.ControlEnableSeqnum:       {size: 4, fn: n.ctrlEnableSeqnum},
		protocol.ControlUpdateSeqnum:       {size: 4, fn: n.ctrlUpdateSeqnum},
		protocol.ControlGetDBSeqnum:        {size: 8, fn: n.ctrlGetDBSeqnum},
		protocol.ControlWipeDatabase:       {size: 8, blocking: true, fn: n.ctrlWipeDatabase},
		protocol.ControlSetDBReadonly:      {size: 4, blocking: true, fn: n.ctrlSetDBFlag(protocol.DBFlagReadonly)},
		protocol.ControlSetDBSticky:        {size: 4, blocking: true, fn: n.ctrlSetDBFlag(protocol.DBFlagSticky)},
		protocol.ControlDBDetach:           {size: 4, blocking: true, fn: n.ctrlDBDetach},
		protocol.ControlUpdateRecord:       {size: exactAny, blocking: true, fn: n.ctrlUpdateRecord},
		protocol.ControlTrans3Commit:       {size: exactAny, blocking: true, fn: n.ctrlTrans3Commit},
		protocol.ControlDBPushStart:        {size: 16, fn: n.ctrlDBPushStart},
		protocol.ControlDBPushConfirm:      {size: 4, blocking: true, fn: n.ctrlDBPushConfirm},
		protocol.ControlGetDBStatistics:    {size: 4, fn: n.ctrlGetDBStatistics},

		protocol.ControlScheduleForDeletion: {size: exactAny, fn: n.ctrlScheduleForDeletion},
		protocol.ControlTryDeleteRecords:    {size: exactAny, fn: n.ctrlTryDeleteRecords},
		protocol.ControlVacuumFetch:         {size: exactAny, fn: n.ctrlVacuumFetch},
		protocol.ControlDBVacuum:            {size: 5, blocking: true, fn: n.ctrlDBVacuum},
		protocol.ControlTCPClient:           {size: protocol.ConnectionSize, localClient: true, fn: n.ctrlTCPClient},
		protocol.ControlTCPAdd:              {size: protocol.ConnectionSize, fn: n.ctrlTCPAdd},
		protocol.ControlTCPAddDelayedUpdate: {size: protocol.ConnectionSize, fn: n.ctrlTCPAdd},
		protocol.ControlTCPRemove:           {size: protocol.ConnectionSize, fn: n.ctrlTCPRemove},
		protocol.ControlGetTCPTickleList:    {size: protocol.SockAddrSize, fn: n.ctrlGetTCPTickleList},
		protocol.ControlTraverseStart:       {size: 16, localClient: true, fn: n.ctrlTraverseStart},
		protocol.ControlTraverseStartExt:    {size: 24, localClient: true, fn: n.ctrlTraverseStartExt},
		protocol.ControlTraverseAll:         {size: 24, fn: n.ctrlTraverseAll},
		protocol.ControlTraverseAllExt:      {size: 32, fn: n.ctrlTraverseAllExt},
		protocol.ControlTraverseData:        {size: exactAny, fn: n.ctrlTraverseData},
		protocol.ControlTraverseKill:        {size: 16, fn: n.ctrlTraverseKill},
		protocol.ControlDBFreeze:            {size: 4, blocking: true, fn: n.ctrlDBFreeze},
		protocol.ControlDBThaw:              {size: 4, fn: n.ctrlDBThaw},
		protocol.ControlDBTransactionStart:  {size: 8, fn: n.ctrlDBTransactionStart},
		protocol.ControlDBTransactionCommit: {size: 8, fn: n.ctrlDBTransactionCommit},
		protocol.ControlDBTransactionCancel: {size: 4, fn: n.ctrlDBTransactionCancel},
		protocol.ControlDBSetHealthy:        {size: 4, fn: n.ctrlDBSetHealthy},
	}
}

// handleClientControl runs, forwards or broadcasts a client's control.
func (n *Node) handleClientControl(c *clientConn, pkt []byte) error {
	var rc protocol.ReqControl
	if err := rc.Unmarshal(pkt); err != nil {
		return err
	}
	n.sm.controls.Inc()
	if noderpc.IsInternal(uint32(rc.Opcode)) {
		n.replyClient(c, &rc, fail("control %d is internal to rctdb", uint32(rc.Opcode)))
		return nil
	}
	dest := rc.DestNode
	if dest == protocol.CurrentNode || dest == n.self {
		n.runControl(&controlReq{ReqControl: rc, client: c, from: n.self})
		return nil
	}
	if protocol.IsBroadcast(dest) {
		if !rc.NoReply() {
			n.replyClient(c, &rc, fail("broadcast controls need NOREPLY"))
			return nil
		}
		for _, t := range n.messageTargets(dest) {
			if t == n.self {
				n.runControl(&controlReq{ReqControl: rc, client: c, from: n.self})
				continue
			}
			fwd := rc
			fwd.ClientID = c.id
			n.rpc.Go(t, fwd, 0, func(int32, []byte, []byte) {})
		}
		return nil
	}
	n.sm.forwarded.Inc()
	fwd := rc
	fwd.ClientID = c.id
	n.rpc.Go(dest, fwd, n.controlTimeout(), func(st int32, data, errmsg []byte) {
		if rc.NoReply() {
			return
		}
		rep := reply{status: st, data: data, errmsg: string(errmsg)}
		if e := string(errmsg); e == noderpc.ErrTextDisconnectedNode || e == noderpc.ErrTextNodeDisconnected {
			n.afterNodeLeft(dest, func() { n.replyClient(c, &rc, rep) })
			return
		}
		n.replyClient(c, &rc, rep)
	})
	return nil
}

// afterNodeLeft runs fn once this node has applied the view that takes
// node out of the active set (or after a bound). A client told that a node
// is unreachable then sees everything that node committed before it left:
// Samba's g_lock takes a holder on an unreachable node for dead
// (PROCESS_EXISTS fails) and goes ahead, and that holder's last commit,
// already in the Raft log, must be applied here before.
func (n *Node) afterNodeLeft(node uint32, fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer fn()
		deadline := time.NewTimer(afterNodeLeftMax)
		defer deadline.Stop()
		for {
			ch := n.raft.Watch()
			if st, _ := n.raft.Current(); st.Flags(node)&protocol.NodeFlagsInactive != 0 || n.tr.Connected(node) {
				return
			}
			select {
			case <-ch:
			case <-deadline.C:
				return
			case <-n.ctx.Done():
				return
			}
		}
	}()
}

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
	n.runControl(&controlReq{ReqControl: rc, from: from})
}

// runControl executes a control on this node and sends the reply.
func (n *Node) runControl(r *controlReq) {
	ctl, found := n.controls[r.Opcode]
	if !found {
		n.finishControl(r, time.Now(), fail("control %s (%d) is not implemented", r.Opcode, uint32(r.Opcode)))
		return
	}
	if ctl.size != exactAny && len(r.Data) != ctl.size {
		n.finishControl(r, time.Now(), fail("control %s: %d bytes of data, want %d", r.Opcode, len(r.Data), ctl.size))
		return
	}
	if ctl.localClient && r.client == nil {
		n.finishControl(r, time.Now(), fail("control %s needs a local client", r.Opcode))
		return
	}
	start := time.Now()
	if !ctl.blocking {
		n.finishControl(r, start, ctl.fn(n.ctx, r))
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, n.controlTimeout())
		defer cancel()
		n.finishControl(r, start, ctl.fn(ctx, r))
	}()
}

func (n *Node) finishControl(r *controlReq, start time.Time, rep reply) {
	n.sm.controlLatency.UpdateDuration(start)
	// Many controls return their result in the status; only a negative
	// status or an error text is a failure.
	if rep.status < 0 || rep.errmsg != "" {
		n.sm.controlErrors.Inc()
		n.log.Debug("control failed", "op", r.Opcode, "status", rep.status, "err", rep.errmsg)
	}
	if !r.NoReply() {
		if r.client != nil {
			n.replyClient(r.client, &r.ReqControl, rep)
		} else {
			n.replyNode(r.from, &r.ReqControl, rep)
		}
	}
	if rep.after != nil {
		rep.after()
	}
}

func (n *Node) replyPacket(req *protocol.ReqControl, dest uint32, rep reply) []byte {
	rp := protocol.ReplyControl{
		Header: protocol.Header{Generation: n.generation(), DestNode: dest, SrcNode: n.self, ReqID: req.ReqID},
		Status: rep.status, Data: rep.data, ErrMsg: []byte(rep.errmsg),
	}
	return rp.Marshal()
}

// replyClient answers a local client; ctdbd leaves destnode 0.
func (n *Node) replyClient(c *clientConn, req *protocol.ReqControl, rep reply) {
	c.send(n.replyPacket(req, 0, rep))
}

func (n *Node) replyNode(node uint32, req *protocol.ReqControl, rep reply) {
	if err := n.sendNode(node, n.replyPacket(req, node, rep)); err != nil {
		n.log.Debug("could not reply to node", "pnn", node, "op", req.Opcode, "err", err)
	}
}

// controlTimeout is the ControlTimeout tunable.
func (n *Node) controlTimeout() time.Duration {
	st, _ := n.raft.Current()
	if v := st.Tunable().ControlTimeout; v > 0 {
		return time.Duration(v) * time.Second
	}
	return 60 * time.Second
}
