package main

import "fmt"

// PnnCmd is "ctdb pnn": the pnn of the node we are connected to (learnt
// with GET_PNN when connecting; no control of its own).
type PnnCmd struct{ Args }

// formatPNN renders control_pnn.
func formatPNN(pnn uint32) string { return fmt.Sprintf("%d\n", pnn) }

// Run prints the pnn.
func (c *PnnCmd) Run(t *tool) error {
	if t.opts.json {
		return t.printJSON(struct {
			PNN uint32 `json:"pnn"`
		}{t.pnn})
	}
	t.print(formatPNN(t.pnn))
	return nil
}
