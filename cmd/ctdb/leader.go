package main

// LeaderCmd is "ctdb leader": the pnn of the leader (recovery master), or
// UNKNOWN when none is announced within the -t timeout (exit status 0
// either way, as the real tool).
type LeaderCmd struct{ Args }

// formatLeader renders control_leader.
func formatLeader(pnn uint32) string { return pnnString(pnn) + "\n" }

// Run waits for the leader broadcast.
func (c *LeaderCmd) Run(t *tool) error {
	leader, err := t.waitLeader()
	if err != nil {
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			Leader *uint32 `json:"leader"`
		}{optPNN(leader)})
	}
	t.print(formatLeader(leader))
	return nil
}
