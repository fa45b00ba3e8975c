package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// ProcessExistsCmd is "ctdb process-exists <pid> [<srvid>]": whether a
// client process of the addressed node exists (and, with a srvid, has
// registered it).
type ProcessExistsCmd struct{ Args }

// Run follows control_process_exists: the pid read with atoi, the srvid
// with smb_strtoull (a bad one ends the tool with its errno and no
// message), PROCESS_EXISTS or CHECK_PID_SRVID, and the daemon's status as
// the exit status.
func (c *ProcessExistsCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) != 1 && len(args) != 2 {
		return t.usage()
	}
	pid := atoi(args[0])
	var srvid uint64
	if len(args) == 2 {
		v, errno := smbStrtoul(args[1])
		if errno != 0 {
			return exitCode(int(errno))
		}
		srvid = v
	}
	ctx, cancel := t.tctx()
	defer cancel()
	var status int32
	var err error
	if srvid == 0 {
		status, err = t.c.ProcessExists(ctx, t.cmdPNN, pid)
		if err != nil {
			return t.ctrlErr(protocol.ControlProcessExists, t.cmdPNN, err)
		}
	} else {
		status, err = t.c.CheckPIDSrvID(ctx, t.cmdPNN, pid, srvid)
		if err != nil {
			return t.ctrlErr(protocol.ControlCheckPIDSrvID, t.cmdPNN, err)
		}
	}
	if t.opts.json {
		if err := t.printJSON(struct {
			PNN    uint32 `json:"pnn"`
			PID    int32  `json:"pid"`
			SrvID  uint64 `json:"srvid,omitempty"`
			Exists bool   `json:"exists"`
		}{t.cmdPNN, pid, srvid, status == 0}); err != nil {
			return err
		}
	} else {
		t.print(formatProcessExists(pid, srvid, status == 0))
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// formatProcessExists renders control_process_exists's line.
func formatProcessExists(pid int32, srvid uint64, exists bool) string {
	state := "does not exist"
	if exists {
		state = "exists"
	}
	if srvid == 0 {
		return fmt.Sprintf("PID %d %s\n", pid, state)
	}
	return fmt.Sprintf("PID %d with SRVID 0x%x %s\n", pid, srvid, state)
}
