package main

import (
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// RunstateCmd is "ctdb runstate [STATE...]": the addressed node's runstate;
// with arguments, it fails unless the runstate is one of them.
type RunstateCmd struct{ Args }

// runstateFromString is ctdb_runstate_from_string (case-insensitive;
// RunstateUnknown for anything else, "UNKNOWN" included).
func runstateFromString(s string) protocol.Runstate {
	for r := protocol.RunstateUnknown; r <= protocol.RunstateShutdown; r++ {
		if strings.EqualFold(r.String(), s) {
			return r
		}
	}
	return protocol.RunstateUnknown
}

// checkRunstate is control_runstate's verdict: the text to print on
// standard output and the exit status.
func checkRunstate(rs protocol.Runstate, required []string) (out string, code int) {
	found := true
	for _, arg := range required {
		found = false
		want := runstateFromString(arg)
		if want == protocol.RunstateUnknown {
			return "Invalid run state (" + arg + ")\n", 1
		}
		if want == rs {
			found = true
			break
		}
	}
	if !found {
		return "CTDB not in required run state (got " + rs.String() + ")\n", 1
	}
	return rs.String() + "\n", 0
}

// Run sends GET_RUNSTATE.
func (c *RunstateCmd) Run(t *tool) error {
	ctx, cancel := t.tctx()
	rs, err := t.c.GetRunstate(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetRunstate, t.cmdPNN, err)
	}
	out, code := checkRunstate(rs, c.Args.Args)
	if t.opts.json && !strings.HasPrefix(out, "Invalid") {
		required := append([]string{}, c.Args.Args...)
		if err := t.printJSON(struct {
			PNN      uint32   `json:"pnn"`
			Runstate string   `json:"runstate"`
			Required []string `json:"required"`
			Matched  bool     `json:"matched"`
		}{t.cmdPNN, rs.String(), required, code == 0}); err != nil {
			return err
		}
	} else if t.opts.json {
		t.eprintf("%s", out)
	} else {
		t.print(out)
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}
