package main

import "github.com/rctdb/rctdb/protocol"

// GetreclockCmd is "ctdb getreclock": the cluster (recovery) lock the
// addressed node uses. rctdb has none (Raft chooses the leader), and
// answers as ctdbd does when none is configured: the tool prints nothing.
type GetreclockCmd struct{ Args }

// Run sends GET_RECLOCK_FILE.
func (c *GetreclockCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	reclock, ok, err := t.c.GetReclockFile(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetReclockFile, t.cmdPNN, err)
	}
	if t.opts.json {
		var lock *string
		if ok {
			lock = &reclock
		}
		return t.printJSON(struct {
			PNN     uint32  `json:"pnn"`
			Reclock *string `json:"reclock"`
		}{t.cmdPNN, lock})
	}
	if ok {
		t.print(reclock + "\n")
	}
	return nil
}
