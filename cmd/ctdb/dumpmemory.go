package main

import "github.com/rctdb/rctdb/protocol"

// DumpmemoryCmd is "ctdb dumpmemory": the daemon's memory report. ctdbd
// answers with a talloc report; rctdb has no talloc and answers with the
// Go runtime's memory statistics in the same layout.
type DumpmemoryCmd struct{ Args }

// Run sends DUMP_MEMORY and prints the report as it came (control_dumpmemory
// takes no arguments and ignores any it is given).
func (c *DumpmemoryCmd) Run(t *tool) error {
	ctx, cancel := t.tctx()
	report, err := t.c.DumpMemory(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlDumpMemory, t.cmdPNN, err)
	}
	return t.writeReport(report)
}

// writeReport prints a memory report as the real tool does: one write,
// and a message on standard error when it fails.
func (t *tool) writeReport(report string) error {
	if t.opts.json {
		return t.printJSON(struct {
			PNN    uint32 `json:"pnn"`
			Report string `json:"report"`
		}{t.cmdPNN, report})
	}
	if _, err := t.out.Write([]byte(report)); err != nil {
		t.eprintf("Failed to write talloc summary\n")
		return exitCode(1)
	}
	return nil
}
