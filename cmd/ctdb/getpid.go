package main

import (
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// GetpidCmd is "ctdb getpid": the process id of the addressed daemon.
type GetpidCmd struct{ Args }

// formatPID renders control_getpid (the pid printed unsigned, as "%u").
func formatPID(pid int32) string { return fmt.Sprintf("%d\n", uint32(pid)) }

// Run sends GET_PID.
func (c *GetpidCmd) Run(t *tool) error {
	ctx, cancel := t.tctx()
	pid, err := t.c.GetPID(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetPID, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN uint32 `json:"pnn"`
			PID int32  `json:"pid"`
		}{t.cmdPNN, pid})
	}
	t.print(formatPID(pid))
	return nil
}
