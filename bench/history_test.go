package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHistorySVGDrawsEveryRunsRatioAndTheGoals(t *testing.T) {
	r := func(v float64) *float64 { return &v }
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	rows := []Row{
		{Workload: "message-ring", Metric: "rate", Ratio: r(0.75)},
		{Workload: "contention-zipf", Metric: "p50 latency", Ratio: r(0.02)},
		{Workload: "fetch-ring", Metric: "rate"}, // no ratio: a failed run
		{Workload: "floor", Metric: "rate", Floor: true},
	}
	if err := WriteJSON(path, rows); err != nil {
		t.Fatal(err)
	}
	before, err := LoadHistoryRun("before", path)
	if err != nil {
		t.Fatal(err)
	}
	after := HistoryRun{Label: "after", Rows: []Row{{Workload: "message-ring", Metric: "rate", Ratio: r(1.02)}}}
	goals := []Goal{{"message-ring", "rate", 1}, {"fetch-ring", "rate", 1.5}, {"contention-zipf", "p50 latency", 1}}
	svg := HistorySVG("t", []HistoryRun{before, after}, goals)
	// Bars: message ring twice, zipf's median once, none for the ring
	// without a ratio; a goal mark per goal; a legend entry per run.
	if n := strings.Count(svg, "<rect x="); n != 1+3+2 {
		t.Errorf("%d rects (frame, 3 bars, 2 legend keys expected):\n%s", n, svg)
	}
	if n := strings.Count(svg, `stroke="black" stroke-width="3"`); n != len(goals) {
		t.Errorf("%d goal marks, want %d", n, len(goals))
	}
	for _, want := range []string{">before<", ">after<", ">message-ring<", ">zipf p50<", ">fetch-ring<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("no %s in the chart", want)
		}
	}
	if _, err := LoadHistoryRun("x", filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
	os.WriteFile(path, []byte("{"), 0o644)
	if _, err := LoadHistoryRun("x", path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad JSON: %v, want an error naming the file", err)
	}
}
