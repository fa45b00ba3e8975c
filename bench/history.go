package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
)

// A history chart puts several `make bench` runs side by side: for every
// goal, one bar per run with its rctdb/ctdbd ratio (log scale, higher is
// better whichever way the metric runs) and a black mark at the goal, so
// that the README shows before and after at a glance.

// Goal is a ratio rctdb should reach against ctdbd on one row of the
// comparison.
type Goal struct {
	Workload, Metric string
	Ratio            float64
}

// Goals are the targets of the latency-bound work (issue 16): the rates
// of every workload and the contention medians.
var Goals = []Goal{
	{"message-ring", "rate", 1.0},
	{"fetch-ring", "rate", 1.5},
	{"glock-loop", "rate", 2},
	{"contention-uniform", "rate", 3},
	{"contention-zipf", "rate", 3},
	{"txloop-persistent", "rate", 4},
	{"txloop-replicated", "rate", 4},
	{"contention-uniform", "p50 latency", 1},
	{"contention-zipf", "p50 latency", 1},
}

// HistoryRun is one comparison's rows under a label (its commit, its hour).
type HistoryRun struct {
	Label string
	Rows  []Row
}

// LoadHistoryRun reads the rows `ctdb-bench compare --json` wrote.
func LoadHistoryRun(label, path string) (HistoryRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return HistoryRun{}, fmt.Errorf("history: %w", err)
	}
	var rows []Row
	if err := json.Unmarshal(b, &rows); err != nil {
		return HistoryRun{}, fmt.Errorf("history: %s: %w", path, err)
	}
	return HistoryRun{Label: label, Rows: rows}, nil
}

func (h HistoryRun) ratio(g Goal) (float64, bool) {
	for _, r := range h.Rows {
		if r.Workload == g.Workload && r.Metric == g.Metric && r.Ratio != nil {
			return *r.Ratio, true
		}
	}
	return 0, false
}

const (
	histW                = 960
	histLeft, histRight  = 80, 940
	histTop, histBot     = 70, 330
	histMin, histMax     = 0.001, 10.0 // the log axis; smaller ratios sit on its floor
	histLegendLineHeight = 16
)

var historyColors = []string{"#9e9e9e", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#d62728"}

// HistorySVG draws the runs' ratios against the goals.
func HistorySVG(title string, runs []HistoryRun, goals []Goal) string {
	var b strings.Builder
	histH := histBot + 40 + len(runs)*histLegendLineHeight
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s>`+"\n", histW, histH, histW, histH, svgFont)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", histW, histH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", histLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="42" fill="#555">rctdb/ctdbd per run (log scale; latencies as ctdbd/rctdb), black mark: the goal</text>`+"\n", histLeft)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", histLeft, histTop, histRight-histLeft, histBot-histTop)
	span := math.Log10(histMax) - math.Log10(histMin)
	y := func(v float64) float64 {
		v = math.Min(math.Max(v, histMin), histMax)
		return histBot - (math.Log10(v)-math.Log10(histMin))/span*(histBot-histTop)
	}
	for v := histMin; v <= histMax*1.001; v *= 10 {
		stroke := "#ddd"
		if v == 1 {
			stroke = "#999"
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", histLeft, histRight, y(v), y(v), stroke)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", histLeft-6, y(v)+4, fmtRatio(v))
	}
	fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">ratio</text>`+"\n", histLeft-50, (histTop+histBot)/2)
	if len(goals) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	slot := float64(histRight-histLeft) / float64(len(goals))
	bar := slot * 0.8 / float64(max(len(runs), 1))
	for i, g := range goals {
		x0 := histLeft + slot*float64(i) + slot*0.1
		for k, r := range runs {
			v, ok := r.ratio(g)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n",
				x0+bar*float64(k), y(v), bar*0.9, histBot-y(v), historyColors[k%len(historyColors)])
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black" stroke-width="3"/>`+"\n", x0-2, x0+slot*0.8+2, y(g.Ratio), y(g.Ratio))
		label := strings.TrimPrefix(g.Workload, "contention-")
		if g.Metric != "rate" {
			label += " " + strings.TrimSuffix(g.Metric, " latency")
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x0+slot*0.4, histBot+16, esc(label))
	}
	for k, r := range runs {
		ly := histBot + 40 + k*histLegendLineHeight
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", histLeft, ly-10, historyColors[k%len(historyColors)])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", histLeft+18, ly, esc(r.Label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtRatio(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(fmt.Sprintf("%.3f", v), "0")
}
