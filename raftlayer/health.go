package raftlayer

// CmdSetHealth records the verdict of a node's monitor event in the run
// of its daemon that reached it. A report from another incarnation than
// the one the state records (a daemon that restarted since, or one that
// reports before its incarnation is known) is refused: health never
// carries over to a new run, which starts unhealthy as in CTDB.
type CmdSetHealth struct {
	PNN         uint32 `json:"pnn"`
	Incarnation uint64 `json:"incarnation"`
	Healthy     bool   `json:"healthy"`
}

func (*CmdSetHealth) commandType() cmdType { return typeSetHealth }

func (s *State) setHealth(c *CmdSetHealth) error {
	n, err := s.node(c.PNN)
	if err != nil {
		return err
	}
	if c.Incarnation == 0 || c.Incarnation != n.Incarnation {
		return reject("health of node %d reported by incarnation %x, the state records %x", c.PNN, c.Incarnation, n.Incarnation)
	}
	n.HealthyIncarnation = 0
	if c.Healthy {
		n.HealthyIncarnation = c.Incarnation
	}
	return nil
}

// Healthy reports whether node pnn's current run reported a passing
// monitor event last; the others are UNHEALTHY (Flags). The flag follows
// the node's own report as soon as it is applied, with no view for the
// leader to commit: health moves neither the active set nor the
// generation, and the report is as replicated a fact as a view.
func (s *State) Healthy(pnn uint32) bool {
	if int(pnn) >= len(s.Nodes) {
		return false
	}
	n := &s.Nodes[pnn]
	return n.Incarnation != 0 && n.HealthyIncarnation == n.Incarnation
}
