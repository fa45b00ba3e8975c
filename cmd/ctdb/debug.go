package main

import (
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/protocol"
)

// SetdebugCmd is "ctdb setdebug LEVEL": the addressed node's debug level.
type SetdebugCmd struct{ Args }

// GetdebugCmd is "ctdb getdebug": the addressed node's debug level.
type GetdebugCmd struct{ Args }

type jsonDebugLevel struct {
	PNN   uint32 `json:"pnn"`
	Level int32  `json:"level"`
	Name  string `json:"name"`
}

// Run follows control_setdebug: the level is a name (or a prefix of one) or
// a number from 0 to 10, sent as the number.
func (c *SetdebugCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	level, err := logging.ParseDebugLevel(c.Args.Args[0])
	if err != nil {
		t.eprintf("Invalid debug level '%s'. Valid levels are:\n", c.Args.Args[0])
		t.eprintf("\tERROR | WARNING | NOTICE | INFO | DEBUG\n")
		return exitCode(1)
	}
	ctx, cancel := t.tctx()
	err = t.c.SetDebug(ctx, t.cmdPNN, level)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlSetDebug, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(jsonDebugLevel{t.cmdPNN, level, logging.DebugName(level)})
	}
	return nil
}

// Run follows control_getdebug: the level's name, "UNKNOWN" for a number
// outside 0 to 10.
func (c *GetdebugCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	level, err := t.c.GetDebug(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetDebug, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(jsonDebugLevel{t.cmdPNN, level, logging.DebugName(level)})
	}
	t.printf("%s\n", logging.DebugName(level))
	return nil
}
