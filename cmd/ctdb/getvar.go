package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// GetvarCmd is "ctdb getvar NAME": a tunable's value on the addressed node.
type GetvarCmd struct{ Args }

// formatTunable renders a tunable as getvar and listvars print it (the
// name as given).
func formatTunable(name string, value uint32) string {
	return fmt.Sprintf("%-26s = %d\n", name, value)
}

// hasTunable reports whether name is listed, ignoring case as the real
// tool does.
func hasTunable(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// checkTunable lists the addressed node's tunables and fails, with the real
// tool's messages, unless name is one of them (getvar and setvar do this).
func (t *tool) checkTunable(name string) error {
	names, err := t.listTunables()
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to get list of variables from node %d\n", t.cmdPNN)
		}
		return err
	}
	if !hasTunable(names, name) {
		t.printf("No such tunable %s\n", name)
		return exitCode(1)
	}
	return nil
}

// listTunables sends LIST_TUNABLES to the addressed node.
func (t *tool) listTunables() ([]string, error) {
	ctx, cancel := t.tctx()
	names, err := t.c.ListTunables(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return nil, t.ctrlErr(protocol.ControlListTunables, t.cmdPNN, err)
	}
	return names, nil
}

// getTunable sends GET_TUNABLE to the addressed node.
func (t *tool) getTunable(name string) (uint32, error) {
	ctx, cancel := t.tctx()
	v, err := t.c.GetTunable(ctx, t.cmdPNN, name)
	cancel()
	if err != nil {
		return 0, t.ctrlErr(protocol.ControlGetTunable, t.cmdPNN, err)
	}
	return v, nil
}

// Run follows control_getvar.
func (c *GetvarCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	name := c.Args.Args[0]
	if err := t.checkTunable(name); err != nil {
		return err
	}
	v, err := t.getTunable(name)
	if err != nil {
		return err
	}
	if t.opts.json {
		return t.printJSON(jsonTunable{PNN: t.cmdPNN, Name: name, Value: v})
	}
	t.print(formatTunable(name, v))
	return nil
}

type jsonTunable struct {
	PNN   uint32 `json:"pnn"`
	Name  string `json:"name"`
	Value uint32 `json:"value"`
}
