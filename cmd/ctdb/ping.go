package main

import (
	"fmt"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// PingCmd is "ctdb ping": the round trip time of a PING and the number of
// clients of the addressed node.
type PingCmd struct{ Args }

// formatPing renders control_ping.
func formatPing(pnn uint32, rtt time.Duration, clients int32) string {
	return fmt.Sprintf("response from %d time=%.6f sec  (%d clients)\n", pnn, rtt.Seconds(), clients)
}

// Run sends PING.
func (c *PingCmd) Run(t *tool) error {
	ctx, cancel := t.tctx()
	clients, rtt, err := t.c.Ping(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlPing, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(struct {
			PNN     uint32  `json:"pnn"`
			Time    float64 `json:"time_seconds"`
			Clients int32   `json:"clients"`
		}{t.cmdPNN, rtt.Seconds(), clients})
	}
	t.print(formatPing(t.cmdPNN, rtt, clients))
	return nil
}
