package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// UptimeCmd is "ctdb uptime": the daemon's start and last recovery times.
type UptimeCmd struct{ Args }

// timevalDelta is the real tool's timeval_delta, tv2 - tv in seconds.
func timevalDelta(tv2, tv protocol.Timeval) float64 {
	// The conversion keeps the product rounded on its own, as in C.
	return float64(tv2.Sec-tv.Sec) + float64(float64(tv2.Usec-tv.Usec)*1.0e-6)
}

// formatUptime renders control_uptime for node pnn, times in zone loc.
func formatUptime(u *protocol.Uptime, pnn uint32, loc *time.Location) string {
	var b strings.Builder
	cur := u.CurrentTime.Sec
	fmt.Fprintf(&b, "Current time of node %-4d     :                %s", pnn, ctime(cur, loc))
	fmt.Fprintf(&b, "Ctdbd start time              : %s %s",
		dhms(int32(cur-u.StartTime.Sec)), ctime(u.StartTime.Sec, loc))
	fmt.Fprintf(&b, "Time of last recovery/failover: %s %s",
		dhms(int32(cur-u.LastRecoveryFinished.Sec)), ctime(u.LastRecoveryFinished.Sec, loc))
	fmt.Fprintf(&b, "Duration of last recovery/failover: %f seconds\n",
		timevalDelta(u.LastRecoveryFinished, u.LastRecoveryStarted))
	return b.String()
}

type jsonUptime struct {
	PNN                  uint32  `json:"pnn"`
	CurrentTime          *string `json:"current_time"`
	StartTime            *string `json:"start_time"`
	LastRecoveryStarted  *string `json:"last_recovery_started"`
	LastRecoveryFinished *string `json:"last_recovery_finished"`
	UptimeSeconds        int64   `json:"uptime_seconds"`
	SinceLastRecovery    int64   `json:"seconds_since_last_recovery"`
	LastRecoveryDuration float64 `json:"last_recovery_duration_seconds"`
}

func uptimeJSON(u *protocol.Uptime, pnn uint32) jsonUptime {
	return jsonUptime{
		PNN:                  pnn,
		CurrentTime:          jsonTime(u.CurrentTime),
		StartTime:            jsonTime(u.StartTime),
		LastRecoveryStarted:  jsonTime(u.LastRecoveryStarted),
		LastRecoveryFinished: jsonTime(u.LastRecoveryFinished),
		UptimeSeconds:        u.CurrentTime.Sec - u.StartTime.Sec,
		SinceLastRecovery:    u.CurrentTime.Sec - u.LastRecoveryFinished.Sec,
		LastRecoveryDuration: timevalDelta(u.LastRecoveryFinished, u.LastRecoveryStarted),
	}
}

// Run sends UPTIME to the addressed node.
func (c *UptimeCmd) Run(t *tool) error {
	ctx, cancel := t.tctx()
	u, err := t.c.Uptime(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlUptime, t.cmdPNN, err)
	}
	if t.opts.json {
		return t.printJSON(uptimeJSON(u, t.cmdPNN))
	}
	t.print(formatUptime(u, t.cmdPNN, t.loc))
	return nil
}
