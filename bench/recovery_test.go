package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRecoveryKeys(t *testing.T) {
	for _, i := range []int{0, 7, 12345, 99999999} {
		if got := recoveryIndex(recoveryKey(i)); got != i {
			t.Errorf("index of %q = %d, want %d", recoveryKey(i), got, i)
		}
	}
	for _, k := range []string{"rec-1", "other-00000001", "rec-0000000x", ""} {
		if got := recoveryIndex([]byte(k)); got != -1 {
			t.Errorf("index of %q = %d, want -1", k, got)
		}
	}
	if c, ok := recoveryCounter(recoveryValue(42)); !ok || c != 42 {
		t.Errorf("counter of value 42: %d %v", c, ok)
	}
	if _, ok := recoveryCounter(nil); ok {
		t.Error("an empty record has a counter")
	}
	// The fill spreads the records over every node of the vnn map.
	per := map[uint32]int{}
	for i := 0; i < 3000; i++ {
		per[fillHolder([]uint32{2, 0, 1}, i)]++
	}
	for n := uint32(0); n < 3; n++ {
		if per[n] < 800 {
			t.Errorf("node %d holds %d of 3000 records", n, per[n])
		}
	}
}

func TestResumedAfter(t *testing.T) {
	kill := time.Unix(100, 0)
	thaw := kill.Add(500 * time.Millisecond)
	at := func(d time.Duration) int64 { return kill.Add(d).UnixNano() }
	gaps := []gap{
		{From: at(-time.Second), To: at(-900 * time.Millisecond)},        // before the kill
		{From: at(-2 * time.Millisecond), To: at(40 * time.Millisecond)}, // across the kill
		{From: at(300 * time.Millisecond), To: at(520 * time.Millisecond)},
		{From: at(2 * time.Second), To: at(3 * time.Second)}, // after the thaw
	}
	resumed, stall := resumedAfter(gaps, kill, thaw)
	if resumed != 520*time.Millisecond || stall != 220*time.Millisecond {
		t.Errorf("resumed %v, stall %v; want 520ms, 220ms", resumed, stall)
	}
	if r, s := resumedAfter(nil, kill, thaw); r != 0 || s != 0 {
		t.Errorf("no pauses: resumed %v, stall %v", r, s)
	}
}

func TestRecoveryRows(t *testing.T) {
	run := func(records int, target string, thawed time.Duration) RecoveryOutcome {
		return RecoveryOutcome{Outcome: Outcome{Target: target}, Records: records, Nodes: 3, Thawed: thawed, Detected: thawed / 2}
	}
	r := &RecoveryResults{Runs: 3, Targets: []string{Rctdb, Ctdbd}, Records: []int{10, 20}}
	for _, d := range []time.Duration{100, 300, 200} {
		r.Add(run(10, Rctdb, d*time.Millisecond))
		r.Add(run(10, Ctdbd, 3*d*time.Millisecond))
	}
	r.Add(run(20, Rctdb, time.Second))
	bad := run(20, Ctdbd, 0)
	bad.Err = "ctdbd did not complete recovery within 5m0s of the kill"
	r.Add(bad)
	rows := r.Rows()
	first := rows[0]
	if first.Metric != "kill -> thawed" || first.Rctdb == nil || first.Rctdb.Median != 200 || first.Rctdb.Min != 100 ||
		first.Rctdb.Max != 300 || first.Ratio == nil || *first.Ratio != 3 {
		t.Errorf("first row: %+v rctdb %+v", first, first.Rctdb)
	}
	var twenty RecoveryRow
	for _, row := range rows {
		if row.Records == 20 {
			twenty = row
			break
		}
	}
	if twenty.Ratio != nil || !strings.Contains(twenty.Reason, "did not complete") || twenty.Ctdbd != nil {
		t.Errorf("a failed side must give no ratio and its reason: %+v", twenty)
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"200 (100-300)", "3.00", "n/a*", "did not complete"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
