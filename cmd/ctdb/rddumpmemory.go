package main

import "github.com/rctdb/rctdb/protocol"

// RddumpmemoryCmd is "ctdb rddumpmemory": the memory report of the
// recovery daemon. rctdb has no separate recovery daemon (its leader duties
// run in ctdbd's process), so the report is that of the daemon itself.
type RddumpmemoryCmd struct{ Args }

// Run sends the MEM_DUMP message with a reply address and waits for the
// report without a time limit of its own, as control_rddumpmemory does
// (the -T limit ends the wait).
func (c *RddumpmemoryCmd) Run(t *tool) error {
	report, err := t.c.RecoveryDaemonMemory(t.ctx, t.cmdPNN)
	if err != nil {
		return t.ctrlErr(protocol.ControlRegisterSrvID, t.pnn, err)
	}
	return t.writeReport(report)
}
