package main

import (
	"github.com/rctdb/rctdb/protocol"
)

// DetachCmd is "ctdb detach DB...": detach volatile databases from the
// cluster; every active node must refuse new attaches
// (AllowClientDBAttach=0) first.
type DetachCmd struct{ Args }

// Run follows control_detach. A database that is not found is skipped
// (after the message); a failed detach makes the exit status but the
// others are still tried.
func (c *DetachCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 1 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	recmode, err := t.c.GetRecMode(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetRecMode, t.cmdPNN, err)
	}
	if recmode == recoveryActive {
		t.eprintf("Database cannot be detached when recovery is active\n")
		return exitCode(1)
	}
	nm, err := t.getNodemap(false)
	if err != nil {
		return failure(err)
	}
	for _, n := range nm.Nodes {
		if n.Flags&(protocol.NodeFlagDisconnected|protocol.NodeFlagDeleted) != 0 {
			continue
		}
		if n.Flags&protocol.NodeFlagsInactive != 0 {
			t.eprintf("Database cannot be detached on inactive (stopped or banned) node %d\n", n.PNN)
			return exitCode(1)
		}
		ctx, cancel := t.tctx()
		v, err := t.c.GetTunable(ctx, n.PNN, "AllowClientDBAttach")
		cancel()
		if err != nil {
			err = t.ctrlErr(protocol.ControlGetTunable, n.PNN, err)
			if !fatal(err) {
				t.eprintf("Unable to get tunable AllowClientDBAttach from node %d\n", n.PNN)
			}
			return err
		}
		if v == 1 {
			t.eprintf("Database access is still active on node %d. Set AllowclientDBAttach=0 on all nodes.\n", n.PNN)
			return exitCode(1)
		}
	}
	var result error
	detached := []jsonDB{}
	for _, arg := range args {
		ref, err := t.dbExists(arg)
		if err != nil {
			if fatal(err) {
				return err
			}
			continue
		}
		if !ref.volatile() {
			t.eprintf("Only volatile databases can be detached\n")
			return exitCode(1)
		}
		if err := t.detach(ref.id); err != nil {
			if fatal(err) {
				return err
			}
			t.eprintf("Database %s detach failed\n", ref.name)
			result = err
			continue
		}
		detached = append(detached, dbJSON(ref.id, ref.name, ref.flags))
	}
	if result != nil {
		return result
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN      uint32   `json:"pnn"`
			Detached []jsonDB `json:"detached"`
		}{t.pnn, detached})
	}
	return nil
}

// detach is the client library's ctdb_detach: GET_DBNAME, then DB_DETACH,
// both to our node.
func (t *tool) detach(id uint32) error {
	data, err := t.control(protocol.ControlGetDBName, t.pnn, protocol.U32(id))
	if err != nil {
		code, ferr := t.errCode(err)
		if ferr != nil {
			return ferr
		}
		t.eprintf("detach: 0x%x GET_DBNAME failed, ret=%d\n", id, code)
		return exitCode(code)
	}
	name := ctrlString(data)
	if _, err := t.control(protocol.ControlDBDetach, t.pnn, protocol.U32(id)); err != nil {
		code, ferr := t.errCode(err)
		if ferr != nil {
			return ferr
		}
		t.eprintf("detach: %s DB_DETACH failed, ret=%d\n", name, code)
		return exitCode(code)
	}
	return nil
}
