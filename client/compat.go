package client

import (
	"bytes"
	"context"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// DumpMemory returns dest's memory report (DUMP_MEMORY): a talloc report
// from ctdbd, the Go runtime's statistics in that layout from rctdb.
func (c *Client) DumpMemory(ctx context.Context, dest uint32) (string, error) {
	r, err := c.call(ctx, dest, protocol.ControlDumpMemory, nil)
	if err != nil {
		return "", err
	}
	return string(r.Data), nil
}

// RecoveryDaemonMemory asks dest for the memory report of its recovery
// daemon (a CTDB_SRVID_MEM_DUMP message naming a reply srvid, as the ctdb
// tool sends it) and waits for the report until ctx ends. The report ends
// at its first NUL byte, as the tool prints it.
func (c *Client) RecoveryDaemonMemory(ctx context.Context, dest uint32) (string, error) {
	srvid := toolSrvID(nextSeq())
	ch, unsub, err := c.Subscribe(ctx, srvid, 1)
	if err != nil {
		return "", err
	}
	defer unsub()
	req := protocol.SrvIDMessage{PNN: c.pnn, SrvID: srvid}
	if err := c.SendMessage(dest, protocol.SrvIDMemDump, req.Marshal()); err != nil {
		return "", fmt.Errorf("send memory dump request to node %d: %w", dest, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return "", c.Err()
		}
		return untilNUL(m.Data), nil
	case <-ctx.Done():
		return "", fmt.Errorf("wait for memory dump of node %d: %w", dest, ctx.Err())
	}
}

// ProcessExists asks dest whether pid is one of its clients and alive
// (PROCESS_EXISTS); it returns the daemon's status: 0 when it is.
func (c *Client) ProcessExists(ctx context.Context, dest uint32, pid int32) (int32, error) {
	return c.status(ctx, dest, protocol.ControlProcessExists, protocol.U32(uint32(pid)))
}

// CheckPIDSrvID asks dest whether its client pid has registered srvid
// (CHECK_PID_SRVID); it returns the daemon's status: 0 when it has.
func (c *Client) CheckPIDSrvID(ctx context.Context, dest uint32, pid int32, srvid uint64) (int32, error) {
	ps := protocol.PidSrvID{PID: pid, SrvID: srvid}
	return c.status(ctx, dest, protocol.ControlCheckPIDSrvID, ps.Marshal())
}

// status sends a control whose answer is its status alone.
func (c *Client) status(ctx context.Context, dest uint32, op protocol.Opcode, data []byte) (int32, error) {
	r, err := c.Control(ctx, dest, op, 0, 0, data)
	if err != nil {
		return 0, err
	}
	return r.Status, nil
}

// GetReclockFile returns dest's cluster lock setting (GET_RECLOCK_FILE);
// ok is false when none is configured (an empty answer), as always from
// rctdb.
func (c *Client) GetReclockFile(ctx context.Context, dest uint32) (reclock string, ok bool, err error) {
	r, err := c.call(ctx, dest, protocol.ControlGetReclockFile, nil)
	if err != nil {
		return "", false, err
	}
	if len(r.Data) == 0 {
		return "", false, nil
	}
	return untilNUL(r.Data), true, nil
}

// SetLMasterRole turns dest's LMASTER capability on or off
// (SET_LMASTERROLE); a node without it is left out of the vnn map.
func (c *Client) SetLMasterRole(ctx context.Context, dest uint32, on bool) error {
	_, err := c.call(ctx, dest, protocol.ControlSetLMasterRole, protocol.U32(boolU32(on)))
	return err
}

// SetLeaderRole turns dest's LEADER (recovery master) capability on or off
// (SET_RECMASTERROLE); a node without it never leads while another can.
func (c *Client) SetLeaderRole(ctx context.Context, dest uint32, on bool) error {
	_, err := c.call(ctx, dest, protocol.ControlSetRecMasterRole, protocol.U32(boolU32(on)))
	return err
}

// untilNUL is b as a C string: up to its first NUL byte.
func untilNUL(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
