package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// flagChange is one of ban, unban, stop, continue, disable and enable:
// a control that sets or clears a node flag.
type flagChange struct {
	desc    string          // how check_flags names the state: "banned", ...
	flag    uint32          // the node flag
	set     bool            // whether the command sets it
	op      protocol.Opcode // the control
	failMsg string          // the tool's message when the control fails
	prepare func() error    // checks the arguments (after the state check)
	control func(ctx context.Context) error
}

// flagsAt is the flags of node pnn as check_flags and wait_for_flags read
// them: the node map indexed by pnn.
func flagsAt(nm *protocol.NodeMap, pnn uint32) uint32 {
	if int(pnn) < len(nm.Nodes) {
		return nm.Nodes[pnn].Flags
	}
	return 0
}

// alreadyMessage is check_flags's message when the node already is in the
// requested state, "" when it is not.
func alreadyMessage(flags uint32, fc flagChange, pnn uint32) string {
	isSet := flags&fc.flag != 0
	if isSet != fc.set {
		return ""
	}
	if fc.set {
		return fmt.Sprintf("Node %d is already %s\n", pnn, fc.desc)
	}
	return fmt.Sprintf("Node %d is not %s\n", pnn, fc.desc)
}

// changeFlags is the real tool's sequence: check the node map (nothing to
// do, with a message, when the node already is in the requested state), send
// the control to the addressed node, poll the node map every second until
// the flag shows, then ask the leader for a takeover run (ipreallocate).
func (t *tool) changeFlags(fc flagChange) error {
	nm, err := t.getNodemap(false)
	if fatal(err) {
		return err
	}
	if err == nil {
		if msg := alreadyMessage(flagsAt(nm, t.cmdPNN), fc, t.cmdPNN); msg != "" {
			t.eprintf("%s", msg)
			return t.done(false)
		}
	}
	if fc.prepare != nil {
		if err := fc.prepare(); err != nil {
			return err
		}
	}
	ctx, cancel := t.tctx()
	err = fc.control(ctx)
	cancel()
	if err != nil {
		err = t.ctrlErr(fc.op, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf(fc.failMsg, t.cmdPNN)
		}
		return err
	}
	if err := t.waitForFlags(fc.flag, fc.set); err != nil {
		return err
	}
	if err := t.ipreallocate(); err != nil {
		return err
	}
	return t.done(true)
}

// waitForFlags polls the node map every second until the addressed node's
// flag is as wanted.
func (t *tool) waitForFlags(flag uint32, set bool) error {
	for {
		nm, err := t.getNodemap(true)
		if fatal(err) {
			return err
		}
		if err != nil {
			t.eprintf("Failed to get nodemap, trying again\n")
		} else if (flagsAt(nm, t.cmdPNN)&flag != 0) == set {
			return nil
		}
		if err := t.sleep(time.Second); err != nil {
			return err
		}
	}
}

// ipreallocate asks the leader for a takeover run and waits for its
// answer, asking again after every -t without one. A negative answer is
// the exit status.
func (t *tool) ipreallocate() error {
	retry := t.opts.timelimit
	if retry <= 0 {
		retry = 100 * time.Millisecond
	}
	st, err := t.c.Ipreallocate(t.ctx, retry)
	if err != nil {
		return t.ctrlErr(protocol.ControlRegisterSrvID, t.pnn, err)
	}
	if st < 0 {
		return exitCode(st)
	}
	return nil
}

// parseBanTime checks ban's argument as control_ban does.
func (t *tool) parseBanTime(arg string, out *uint32) error {
	v, errno := smbStrtoul(arg)
	if errno != 0 {
		return exitCode(int(errno))
	}
	*out = uint32(v)
	if *out == 0 {
		t.eprintf("Ban time cannot be zero\n")
		return exitCode(int(syscall.EINVAL))
	}
	return nil
}
