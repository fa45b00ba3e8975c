package client

import (
	"context"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// GetPNN returns the pnn of node dest (CurrentNode: the local daemon).
func (c *Client) GetPNN(ctx context.Context, dest uint32) (uint32, error) {
	r, err := c.Control(ctx, dest, protocol.ControlGetPNN, 0, 0, nil)
	if err != nil {
		return 0, err
	}
	if r.Status < 0 {
		return 0, &ControlError{Opcode: protocol.ControlGetPNN, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return uint32(r.Status), nil
}

// GetNodeMap returns dest's node map.
func (c *Client) GetNodeMap(ctx context.Context, dest uint32) (*protocol.NodeMap, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetNodeMap, nil)
	if err != nil {
		return nil, err
	}
	var nm protocol.NodeMap
	if err := nm.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &nm, nil
}

// GetNodesFile returns the node map dest reads from its nodes file.
func (c *Client) GetNodesFile(ctx context.Context, dest uint32) (*protocol.NodeMap, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetNodesFile, nil)
	if err != nil {
		return nil, err
	}
	var nm protocol.NodeMap
	if err := nm.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &nm, nil
}

// GetVNNMap returns dest's vnn map and generation.
func (c *Client) GetVNNMap(ctx context.Context, dest uint32) (*protocol.VNNMap, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetVNNMap, nil)
	if err != nil {
		return nil, err
	}
	var vm protocol.VNNMap
	if err := vm.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &vm, nil
}

// GetRecMode returns dest's recovery mode.
func (c *Client) GetRecMode(ctx context.Context, dest uint32) (uint32, error) {
	r, err := c.Control(ctx, dest, protocol.ControlGetRecMode, 0, 0, nil)
	if err != nil {
		return 0, err
	}
	if r.Status < 0 {
		return 0, &ControlError{Opcode: protocol.ControlGetRecMode, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return uint32(r.Status), nil
}

// GetRunstate returns dest's runstate.
func (c *Client) GetRunstate(ctx context.Context, dest uint32) (protocol.Runstate, error) {
	v, err := c.u32(ctx, dest, protocol.ControlGetRunstate, nil)
	return protocol.Runstate(v), err
}

// GetCapabilities returns dest's capabilities.
func (c *Client) GetCapabilities(ctx context.Context, dest uint32) (uint32, error) {
	return c.u32(ctx, dest, protocol.ControlGetCapabilities, nil)
}

// GetDebug returns dest's CTDB debug level.
func (c *Client) GetDebug(ctx context.Context, dest uint32) (int32, error) {
	v, err := c.u32(ctx, dest, protocol.ControlGetDebug, nil)
	return int32(v), err
}

// SetDebug sets dest's CTDB debug level.
func (c *Client) SetDebug(ctx context.Context, dest uint32, level int32) error {
	_, err := c.call(ctx, dest, protocol.ControlSetDebug, protocol.U32(uint32(level)))
	return err
}

func (c *Client) u32(ctx context.Context, dest uint32, op protocol.Opcode, data []byte) (uint32, error) {
	r, err := c.call(ctx, dest, op, data)
	if err != nil {
		return 0, err
	}
	v, err := protocol.ParseU32(r.Data)
	if err != nil {
		return 0, fmt.Errorf("control %s reply: %w", op, err)
	}
	return v, nil
}

// Ping returns the number of clients dest has and the round trip time.
func (c *Client) Ping(ctx context.Context, dest uint32) (int32, time.Duration, error) {
	start := time.Now()
	r, err := c.Control(ctx, dest, protocol.ControlPing, 0, 0, nil)
	if err != nil {
		return 0, 0, err
	}
	rtt := time.Since(start)
	if r.Status < 0 {
		return 0, rtt, &ControlError{Opcode: protocol.ControlPing, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return r.Status, rtt, nil
}

// GetPID returns the pid of dest's daemon.
func (c *Client) GetPID(ctx context.Context, dest uint32) (int32, error) {
	r, err := c.Control(ctx, dest, protocol.ControlGetPID, 0, 0, nil)
	if err != nil {
		return 0, err
	}
	return r.Status, nil
}

// Uptime returns dest's uptime structure.
func (c *Client) Uptime(ctx context.Context, dest uint32) (*protocol.Uptime, error) {
	r, err := c.call(ctx, dest, protocol.ControlUptime, nil)
	if err != nil {
		return nil, err
	}
	var u protocol.Uptime
	if err := u.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &u, nil
}

// Statistics returns dest's statistics.
func (c *Client) Statistics(ctx context.Context, dest uint32) (*protocol.Statistics, error) {
	r, err := c.call(ctx, dest, protocol.ControlStatistics, nil)
	if err != nil {
		return nil, err
	}
	var s protocol.Statistics
	if err := s.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &s, nil
}

// StatisticsReset resets dest's statistics.
func (c *Client) StatisticsReset(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlStatisticsReset, nil)
	return err
}

// GetStatHistory returns dest's statistics history, newest first.
func (c *Client) GetStatHistory(ctx context.Context, dest uint32) (*protocol.StatisticsList, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetStatHistory, nil)
	if err != nil {
		return nil, err
	}
	var l protocol.StatisticsList
	if err := l.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &l, nil
}

// ListTunables returns the tunable names dest lists.
func (c *Client) ListTunables(ctx context.Context, dest uint32) ([]string, error) {
	r, err := c.call(ctx, dest, protocol.ControlListTunables, nil)
	if err != nil {
		return nil, err
	}
	var vl protocol.VarList
	if err := vl.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return vl.Names, nil
}

// GetTunable returns a tunable's value on dest.
func (c *Client) GetTunable(ctx context.Context, dest uint32, name string) (uint32, error) {
	return c.u32(ctx, dest, protocol.ControlGetTunable, protocol.StringN(name))
}

// SetTunable sets a tunable on node dest (and on no other, as ctdbd
// does); obsolete reports a tunable the daemon considers obsolete (it is
// set anyway).
func (c *Client) SetTunable(ctx context.Context, dest uint32, name string, value uint32) (obsolete bool, err error) {
	return c.setTunable(ctx, dest, protocol.ControlSetTunable, name, value)
}

// SetClusterTunable sets a tunable on every node, through dest (rctdb
// only: ctdbd has no such control). obsolete is as for SetTunable.
func (c *Client) SetClusterTunable(ctx context.Context, dest uint32, name string, value uint32) (obsolete bool, err error) {
	return c.setTunable(ctx, dest, protocol.ControlSetTunableCluster, name, value)
}

func (c *Client) setTunable(ctx context.Context, dest uint32, op protocol.Opcode, name string, value uint32) (obsolete bool, err error) {
	t := protocol.SetTunable{Name: name, Value: value}
	r, err := c.Control(ctx, dest, op, 0, 0, t.Marshal())
	if err != nil {
		return false, err
	}
	switch r.Status {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, &ControlError{Opcode: op, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
}

// GetAllTunables returns every tunable's value on dest.
func (c *Client) GetAllTunables(ctx context.Context, dest uint32) (*protocol.TunableList, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetAllTunables, nil)
	if err != nil {
		return nil, err
	}
	var l protocol.TunableList
	if err := l.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &l, nil
}

// SetBanState bans pnn for seconds (0: unban); it must be sent to pnn.
func (c *Client) SetBanState(ctx context.Context, pnn uint32, seconds uint32) error {
	bs := protocol.BanState{PNN: pnn, Time: seconds}
	_, err := c.call(ctx, pnn, protocol.ControlSetBanState, bs.Marshal())
	return err
}

// GetBanState returns dest's ban state.
func (c *Client) GetBanState(ctx context.Context, dest uint32) (*protocol.BanState, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetBanState, nil)
	if err != nil {
		return nil, err
	}
	var bs protocol.BanState
	if err := bs.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &bs, nil
}

// StopNode, ContinueNode, DisableNode and EnableNode change dest's
// administrative flags.
func (c *Client) StopNode(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlStopNode, nil)
	return err
}

func (c *Client) ContinueNode(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlContinueNode, nil)
	return err
}

func (c *Client) DisableNode(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlDisableNode, nil)
	return err
}

func (c *Client) EnableNode(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlEnableNode, nil)
	return err
}

// Shutdown asks dest's daemon to exit (no reply is awaited).
func (c *Client) Shutdown(dest uint32) error {
	return c.ControlNoReply(dest, protocol.ControlShutdown, 0, 0, nil)
}

// GetIfaces returns dest's interfaces.
func (c *Client) GetIfaces(ctx context.Context, dest uint32) ([]protocol.Iface, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetIfaces, nil)
	if err != nil {
		return nil, err
	}
	var l protocol.IfaceList
	if err := l.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return l.Ifaces, nil
}

// GetPublicIPs returns the public addresses dest knows.
func (c *Client) GetPublicIPs(ctx context.Context, dest uint32, onlyAvailable bool) ([]protocol.PublicIP, error) {
	var flags uint32
	if onlyAvailable {
		flags = protocol.CtrlFlagPublicIPOnlyAvailable
	}
	r, err := c.Control(ctx, dest, protocol.ControlGetPublicIPs, 0, flags, nil)
	if err != nil {
		return nil, err
	}
	if r.Status != 0 {
		return nil, &ControlError{Opcode: protocol.ControlGetPublicIPs, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	var l protocol.PublicIPList
	if err := l.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return l.IPs, nil
}

// GetDBMap returns dest's attached databases.
func (c *Client) GetDBMap(ctx context.Context, dest uint32) (*protocol.DBMap, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetDBMap, nil)
	if err != nil {
		return nil, err
	}
	var m protocol.DBMap
	if err := m.Unmarshal(r.Data); err != nil {
		return nil, err
	}
	return &m, nil
}

// WaitLeader waits for a leader broadcast (CTDB_SRVID_LEADER) naming a
// leader and returns its pnn. Broadcasts of CTDB_UNKNOWN_PNN (no leader, an
// election running) are skipped, as the ctdb tool does; if only those
// arrived before ctx ends, it returns protocol.UnknownPNN without error.
func (c *Client) WaitLeader(ctx context.Context) (uint32, error) {
	ch, unsub, err := c.Subscribe(ctx, protocol.SrvIDLeader, 4)
	if err != nil {
		return 0, err
	}
	defer unsub()
	heard := false
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return 0, c.Err()
			}
			v, err := protocol.ParseU32(m.Data)
			if err != nil {
				return 0, fmt.Errorf("leader message: %w", err)
			}
			if v != protocol.UnknownPNN {
				return v, nil
			}
			heard = true
		case <-ctx.Done():
			if heard {
				return protocol.UnknownPNN, nil
			}
			return 0, fmt.Errorf("wait for leader broadcast: %w", ctx.Err())
		}
	}
}

// toolSrvID returns a srvid in the ctdb tool's range for this process.
func toolSrvID(seq uint64) uint64 {
	return protocol.SrvIDToolRange | 0x0001000000000000 | uint64(pid()&0xFFFF)<<16 | seq&0xFFFF
}

// Ipreallocate asks the leader for a takeover run, as the ctdb tool does
// after flag changes, and waits for the leader's answer (its pnn). The
// request is resent every retry until ctx ends.
func (c *Client) Ipreallocate(ctx context.Context, retry time.Duration) (int32, error) {
	srvid := toolSrvID(nextSeq())
	ch, unsub, err := c.Subscribe(ctx, srvid, 4)
	if err != nil {
		return 0, err
	}
	defer unsub()
	req := protocol.SrvIDMessage{PNN: c.pnn, SrvID: srvid}
	for {
		if err := c.SendMessage(protocol.BroadcastConnected, protocol.SrvIDTakeoverRun, req.Marshal()); err != nil {
			return 0, err
		}
		t := time.NewTimer(retry)
		select {
		case m, ok := <-ch:
			t.Stop()
			if !ok {
				return 0, c.Err()
			}
			v, err := protocol.ParseU32(m.Data)
			if err != nil {
				return 0, fmt.Errorf("takeover run reply: %w", err)
			}
			return int32(v), nil
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("takeover run: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// ReloadNodesFile asks dest to reload its nodes file (RELOAD_NODES_FILE).
func (c *Client) ReloadNodesFile(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlReloadNodesFile, nil)
	return err
}

// DisableRecoveries asks each of pnns to hold recoveries for timeout
// seconds (0 lets them run again), as the ctdb tool brackets reloadnodes,
// and waits until every node has confirmed with its pnn. A negative
// confirmation is a *RefusedError.
func (c *Client) DisableRecoveries(ctx context.Context, pnns []uint32, timeout uint32) error {
	return c.disableOn(ctx, "disable recoveries", protocol.SrvIDDisableRecoveries, pnns, timeout)
}

// disableOn sends the request message target (a protocol.DisableMessage)
// to every node of pnns and waits until each has answered with its pnn.
// The first negative answer ends the wait with a *RefusedError; answers
// of the wrong size or from other nodes are ignored, as the ctdb tool
// ignores them.
func (c *Client) disableOn(ctx context.Context, what string, target uint64, pnns []uint32, timeout uint32) error {
	srvid := toolSrvID(nextSeq())
	// Room for stray answers too: a full buffer drops messages.
	ch, unsub, err := c.Subscribe(ctx, srvid, 2*len(pnns)+16)
	if err != nil {
		return err
	}
	defer unsub()
	req := protocol.DisableMessage{PNN: c.pnn, SrvID: srvid, Timeout: timeout}
	for _, p := range pnns {
		if err := c.SendMessage(p, target, req.Marshal()); err != nil {
			return err
		}
	}
	waiting := make(map[uint32]bool, len(pnns))
	for _, p := range pnns {
		waiting[p] = true
	}
	for len(waiting) > 0 {
		select {
		case m, ok := <-ch:
			if !ok {
				return c.Err()
			}
			v, err := protocol.ParseU32(m.Data)
			if err != nil {
				continue
			}
			if int32(v) < 0 {
				return &RefusedError{SrvID: target, Status: int32(v)}
			}
			delete(waiting, v)
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of %d nodes did not answer: %w", what, len(waiting), len(pnns), ctx.Err())
		}
	}
	return nil
}
