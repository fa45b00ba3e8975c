package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events"
)

// TestMonitorRunOf: a monitor's STATUS reply gives its span, its verdict
// and the first script that failed with the first line it wrote; a
// monitor that never ran is a zero MonitorRun.
func TestMonitorRunOf(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &events.Status{Summary: 1, Scripts: []events.ScriptResult{
		{Name: "00.ctdb", Begin: t0, End: t0.Add(100 * time.Millisecond)},
		{Name: "01.reclock", Begin: t0.Add(100 * time.Millisecond), End: t0.Add(100 * time.Millisecond), Status: events.ScriptDisabled},
		{Name: "50.samba", Begin: t0.Add(100 * time.Millisecond), End: t0.Add(600 * time.Millisecond), Status: 1,
			Output: "samba not listening on TCP port 445\nmore\n"},
	}}
	m, err := monitorRunOf(0, st)
	if err != nil || m.OK || !m.Begin.Equal(t0) || !m.End.Equal(t0.Add(600*time.Millisecond)) ||
		m.Failure != "50.samba (status 1): samba not listening on TCP port 445" || m.Scripts != "00.ctdb 100ms, 50.samba 500ms" {
		t.Fatalf("failing monitor: %+v %v", m, err)
	}
	st.Summary, st.Scripts[2].Status = 0, 0
	if m, err := monitorRunOf(0, st); err != nil || !m.OK || m.Failure != "" {
		t.Fatalf("passing monitor: %+v %v", m, err)
	}
	if m, err := monitorRunOf(int32(syscall.EINVAL), nil); err != nil || !m.End.IsZero() {
		t.Fatalf("never ran: %+v %v", m, err)
	}
	for _, res := range []int32{int32(syscall.ENOENT), 0} {
		if _, err := monitorRunOf(res, &events.Status{}); err == nil || !strings.Contains(err.Error(), "monitor") {
			t.Errorf("result %d, no scripts: err %v", res, err)
		}
	}
}
