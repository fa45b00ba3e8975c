package main

import (
	"errors"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// ReloadipsCmd is "ctdb reloadips [all|PNN-LIST]": make nodes (ours by
// default) re-read their public addresses file, adding and deleting
// addresses, then run a takeover run.
type ReloadipsCmd struct{ Args }

// Run follows control_reloadips: takeover runs are held on every connected
// node for twice -t while the active nodes of the list reload, then
// allowed again, then ipreallocate.
func (c *ReloadipsCmd) Run(t *tool) error {
	if len(c.Args.Args) > 1 {
		return t.usage()
	}
	var arg *string
	if len(c.Args.Args) == 1 {
		arg = &c.Args.Args[0]
	}
	nm, err := t.getNodemap(false)
	if err != nil {
		if fatal(err) {
			return err
		}
		return exitCode(1)
	}
	sel, msg := selectNodes(nm, arg, t.cmdPNN)
	if msg != "" {
		t.eprintf("%s", msg)
		return exitCode(1)
	}
	connected := listOfNodes(nm, protocol.NodeFlagDisconnected, protocol.UnknownPNN)
	targets := listOfNodes(sel, protocol.NodeFlagsInactive, protocol.UnknownPNN)
	if len(connected) == 0 || len(targets) == 0 {
		t.eprintf("Memory allocation error\n")
		return exitCode(1)
	}
	if err := t.disableTakeoverRuns(connected, t.twiceTimelimit()); err != nil {
		if !fatal(err) {
			t.eprintf("Failed to disable takeover runs\n")
		}
		return err
	}
	if _, err := t.sendAll(sameControl(targets, protocol.ControlReloadPublicIPs, nil)); err != nil {
		if err = t.multiCode(err); fatal(err) {
			return err
		}
		t.eprintf("Failed to reload IPs on some nodes.\n")
	}
	if err := t.disableTakeoverRuns(connected, 0); err != nil {
		if !fatal(err) {
			t.eprintf("Failed to enable takeover runs\n")
		}
		return err
	}
	if err := t.ipreallocate(); err != nil {
		return err
	}
	if !t.opts.json {
		return nil
	}
	return t.printJSON(struct {
		jsonAction
		Nodes []uint32 `json:"nodes"`
	}{jsonAction{t.name, t.pnn, true}, targets})
}

// disableTakeoverRuns is the real tool's disable_takeover_runs: ask the
// recovery daemon of each of pnns to hold takeover runs for timeout seconds
// (0: allow them) and wait up to -t for their answers. Only a refusal
// fails (status 1): the real tool compares its wait's ETIMEDOUT with
// ETIME, so nodes that do not answer in time count as having agreed.
func (t *tool) disableTakeoverRuns(pnns []uint32, timeout uint32) error {
	ctx, cancel := t.tctx()
	defer cancel()
	err := t.c.DisableTakeoverRuns(ctx, pnns, timeout)
	var refused *client.RefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		return exitCode(1)
	case t.ctx.Err() != nil:
		return errMaxRuntime
	case ctx.Err() != nil:
		return nil
	}
	if _, ferr := t.errCode(err); ferr != nil {
		return ferr
	}
	return exitCode(1)
}
