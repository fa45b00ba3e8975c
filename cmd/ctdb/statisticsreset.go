package main

import "github.com/rctdb/rctdb/protocol"

// StatisticsresetCmd is "ctdb statisticsreset": reset the addressed
// daemon's statistics. It prints nothing.
type StatisticsresetCmd struct{ Args }

// Run sends STATISTICS_RESET.
func (c *StatisticsresetCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	err := t.c.StatisticsReset(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlStatisticsReset, t.cmdPNN, err)
	}
	return t.done(true)
}
