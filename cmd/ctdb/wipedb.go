package main

import (
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// WipedbCmd is "ctdb wipedb DB": delete every record of a database on all
// active nodes.
type WipedbCmd struct{ Args }

// Run follows control_wipedb: attach, then on every active node at once
// DB_FREEZE, DB_TRANSACTION_START {db, generation}, WIPE_DATABASE,
// DB_SET_HEALTHY, DB_TRANSACTION_COMMIT and DB_THAW. When one of them fails
// the tool puts our node in recovery (SET_RECMODE 1), so that the
// recovery cleans up.
func (c *WipedbCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, db, err := t.findAndAttach(c.Args.Args[0])
	if err != nil {
		return err
	}
	defer db.Close()
	pnns, generation, err := t.activeNodes()
	if err != nil {
		return err
	}
	dbid := protocol.U32(ref.id)
	trans := (&protocol.TransDB{DBID: ref.id, TID: generation}).Marshal()
	err = t.multiSteps(pnns,
		multiStep{protocol.ControlDBFreeze, dbid},
		multiStep{protocol.ControlDBTransactionStart, trans},
		multiStep{protocol.ControlWipeDatabase, trans},
		multiStep{protocol.ControlDBSetHealthy, dbid},
		multiStep{protocol.ControlDBTransactionCommit, trans},
		multiStep{protocol.ControlDBThaw, dbid})
	if err != nil {
		if fatal(err) {
			return err
		}
		if err := t.setRecmode(t.pnn, recoveryActive); fatal(err) {
			return err
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			jsonDBCommand
			Nodes []uint32 `json:"nodes"`
		}{t.dbCommandJSON(t.pnn, ref.id, ref.name, ref.flags), pnns})
	}
	t.printf("Database %s wiped\n", ref.name)
	return nil
}

// activeNodes is how wipedb and restoredb find where to act: our node map
// ("Failed to get nodemap", ENOMEM), the leader's generation ("Failed to
// get current generation"), and the active nodes (none: ENOMEM, silently).
func (t *tool) activeNodes() (pnns []uint32, generation uint32, err error) {
	nm, err := t.getNodemap(false)
	if err != nil {
		if fatal(err) {
			return nil, 0, err
		}
		t.eprintf("Failed to get nodemap\n")
		return nil, 0, exitCode(errnoENOMEM)
	}
	if generation, err = t.getGeneration(); err != nil {
		if !fatal(err) {
			t.eprintf("Failed to get current generation\n")
		}
		return nil, 0, err
	}
	pnns = listOfNodes(nm, protocol.NodeFlagsInactive, protocol.UnknownPNN)
	if len(pnns) == 0 {
		return nil, 0, exitCode(errnoENOMEM)
	}
	return pnns, generation, nil
}

// multiStep is a control that goes to several nodes at once.
type multiStep struct {
	op   protocol.Opcode
	data []byte
}

// multiSteps sends each step to every node of pnns with controlMulti,
// waiting for all before the next; the first failure stops it, as the
// status or errno to exit with (or the error that ends the tool).
func (t *tool) multiSteps(pnns []uint32, steps ...multiStep) error {
	for _, s := range steps {
		code, err := t.controlMulti(pnns, s.op, s.data)
		if err != nil {
			return err
		}
		if code != 0 {
			return exitCode(code)
		}
	}
	return nil
}

// setRecmode is ctdb_ctrl_set_recmode.
func (t *tool) setRecmode(dest, mode uint32) error {
	if _, err := t.control(protocol.ControlSetRecMode, dest, protocol.U32(mode)); err != nil {
		return t.ctrlErr(protocol.ControlSetRecMode, dest, err)
	}
	return nil
}

// getGeneration is the real tool's get_generation: the leader's
// generation, asked again every second while the leader is in recovery or
// has no valid generation.
func (t *tool) getGeneration() (uint32, error) {
	for {
		leader, err := t.waitLeader()
		if err != nil {
			return 0, err
		}
		ctx, cancel := t.tctx()
		recmode, err := t.c.GetRecMode(ctx, leader)
		cancel()
		if err != nil {
			err = t.ctrlErr(protocol.ControlGetRecMode, leader, err)
			if !fatal(err) {
				t.eprintf("Failed to get recovery mode from node %d\n", leader)
			}
			return 0, err
		}
		if recmode == recoveryActive {
			if err := t.sleep(time.Second); err != nil {
				return 0, err
			}
			continue
		}
		ctx, cancel = t.tctx()
		vm, err := t.c.GetVNNMap(ctx, leader)
		cancel()
		if err != nil {
			err = t.ctrlErr(protocol.ControlGetVNNMap, leader, err)
			if !fatal(err) {
				t.eprintf("Failed to get generation from node %d\n", leader)
			}
			return 0, err
		}
		if vm.Generation == protocol.InvalidGeneration {
			if err := t.sleep(time.Second); err != nil {
				return 0, err
			}
			continue
		}
		return vm.Generation, nil
	}
}
