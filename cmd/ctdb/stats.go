package main

import (
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// StatsCmd is "ctdb stats [COUNT]": the addressed daemon's statistics
// history, newest first.
type StatsCmd struct{ Args }

// statsShown selects the history entries control_stats prints: entries
// never filled (start time 0) are skipped, and with count > 0 it stops
// after the entry at index count, so that up to count+1 are shown.
func statsShown(list []protocol.Statistics, count int32) []*protocol.Statistics {
	var shown []*protocol.Statistics
	for i := range list {
		if list[i].StatisticsStartTime.Sec == 0 {
			continue
		}
		shown = append(shown, &list[i])
		if count > 0 && int32(i) == count {
			break
		}
	}
	return shown
}

// formatStats renders control_stats: each entry as statistics prints it,
// or, machine readable, one header line and a line per entry.
func formatStats(list []protocol.Statistics, count int32, machine bool, sep string, loc *time.Location) string {
	var b strings.Builder
	for i, s := range statsShown(list, count) {
		if machine {
			b.WriteString(formatStatisticsMachine(s, sep, i == 0))
		} else {
			b.WriteString(formatStatistics(s, loc))
		}
	}
	return b.String()
}

// Run sends GET_STAT_HISTORY. COUNT is read as C's atoi does.
func (c *StatsCmd) Run(t *tool) error {
	if len(c.Args.Args) > 1 {
		return t.usage()
	}
	var count int32
	if len(c.Args.Args) == 1 {
		count = atoi(c.Args.Args[0])
	}
	ctx, cancel := t.tctx()
	l, err := t.c.GetStatHistory(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlGetStatHistory, t.cmdPNN, err)
	}
	if t.opts.json {
		history := []jsonStatistics{}
		for _, s := range statsShown(l.Stats, count) {
			history = append(history, statisticsJSON(s))
		}
		return t.printJSON(struct {
			PNN     uint32           `json:"pnn"`
			History []jsonStatistics `json:"history"`
		}{t.cmdPNN, history})
	}
	t.print(formatStats(l.Stats, count, t.opts.machine, t.opts.sep, t.loc))
	return nil
}
