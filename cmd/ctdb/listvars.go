package main

import "strings"

// ListvarsCmd is "ctdb listvars": every tunable and its value.
type ListvarsCmd struct{ Args }

// tunableValue is a tunable and its value.
type tunableValue struct {
	Name  string `json:"name"`
	Value uint32 `json:"value"`
}

// formatListvars renders control_listvars.
func formatListvars(vars []tunableValue) string {
	var b strings.Builder
	for _, v := range vars {
		b.WriteString(formatTunable(v.Name, v.Value))
	}
	return b.String()
}

// Run lists the tunables, then reads each one. As in the real tool, a
// variable that cannot be read is left out (after the client library's
// message) and the command still succeeds.
func (c *ListvarsCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	names, err := t.listTunables()
	if err != nil {
		return err
	}
	vars := []tunableValue{}
	for _, n := range names {
		v, err := t.getTunable(n)
		if err != nil {
			if fatal(err) {
				return err
			}
			continue
		}
		vars = append(vars, tunableValue{n, v})
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN      uint32         `json:"pnn"`
			Tunables []tunableValue `json:"tunables"`
		}{t.cmdPNN, vars})
	}
	t.print(formatListvars(vars))
	return nil
}
